"""The Redis driver on fakeredis (an in-process server): what it reads, what it refuses, what it
sends. The real server's behaviour (group listing order, entries-read and lag, ACL rewriting) is
covered by tests/integration/test_redis_*.py; these pin the driver's own logic."""

from __future__ import annotations

from collections.abc import Iterator

import fakeredis
import pytest

from topoctl.errors import PlanError
from topoctl.model import Action, Address, Change, Resource
from topoctl.providers.base import PruneScope
from topoctl.providers.redis import acl
from topoctl.providers.redis.connection import settings
from topoctl.providers.redis.driver import RedisDriver, _glob_escape, _scan_patterns
from topoctl.providers.redis.kinds import KINDS


@pytest.fixture
def fake() -> fakeredis.FakeRedis:
    return fakeredis.FakeRedis(decode_responses=True)


@pytest.fixture
def driver(fake: fakeredis.FakeRedis) -> Iterator[RedisDriver]:
    d = RedisDriver("r", {})
    d._settings = settings({})
    d._client = fake  # the seam: every command goes to the in-process server
    yield d


def stream(key: str, **attrs: object) -> Resource:
    return Resource(Address("r", "stream", (key,)), dict(attrs), source="m.yaml:3")


def test_reads_declared_streams_with_their_groups_and_counts(driver: RedisDriver, fake: fakeredis.FakeRedis) -> None:
    fake.xadd("orders", {"a": 1})
    fake.xadd("orders", {"a": 2})
    fake.xgroup_create("orders", "billing", "0")
    fake.xreadgroup("billing", "w1", {"orders": ">"}, count=1)
    fake.xgroup_create("other", "g", "$", mkstream=True)
    observed = {str(r.address): r for r in driver.read([stream("orders"), stream("missing")], [])}
    assert set(observed) == {"r/stream/orders", "r/group/orders/billing"}  # undeclared keys are not read
    assert observed["r/stream/orders"].attrs == {}
    assert observed["r/stream/orders"].info == {"entries": 2, "groups": 1, "pending": 1}
    group = observed["r/group/orders/billing"]
    assert group.attrs == {}
    assert KINDS["group"].exposure(group) == {"pending": 1}
    assert KINDS["stream"].exposure(observed["r/stream/orders"]) == {"entries": 2}
    assert group.depends_on == (Address("r", "stream", ("orders",)),)
    assert group.info["pending"] == 1 and group.info["consumers"] == 1
    assert KINDS["stream"].at_risk(observed["r/stream/orders"]) == [
        "2 entries will be lost",
        "its 1 consumer group goes with it, with 1 pending entry not acknowledged",
    ]


def test_scans_only_what_a_prune_scope_or_an_export_needs(driver: RedisDriver, fake: fakeredis.FakeRedis) -> None:
    for key in ("app:a", "app:b", "other"):
        fake.xgroup_create(key, "g", "$", mkstream=True)
    fake.set("app:plain", "x")
    prefixed = driver.read([stream("app:a")], [PruneScope(frozenset({"stream"}), prefix="app:")])
    assert {r.address.name[0] for r in prefixed if r.kind == "stream"} == {"app:a", "app:b"}
    exported = driver.read([], [])
    assert {r.address.name[0] for r in exported if r.kind == "stream"} == {"app:a", "app:b", "other"}


def test_scan_patterns() -> None:
    assert _scan_patterns([stream("a")], []) is None
    assert _scan_patterns([], []) == ["*"]
    assert _scan_patterns([stream("a")], [PruneScope()]) == ["*"]
    assert _scan_patterns([stream("a")], [PruneScope(frozenset({"user"}), prefix="x")]) is None
    assert _scan_patterns([stream("a")], [PruneScope(frozenset({"group"}), parent=("a",))]) is None
    assert _scan_patterns([], [PruneScope(frozenset({"stream"}), prefix="a*[b]?")]) == ["a\\*\\[b\\]\\?*"]
    assert _glob_escape("x\\y") == "x\\\\y"


def test_a_declared_key_of_another_type_is_a_plan_error(driver: RedisDriver, fake: fakeredis.FakeRedis) -> None:
    fake.set("orders", "x")
    with pytest.raises(PlanError, match=r"m\.yaml:3: key 'orders' holds a string, not a stream"):
        driver.read([stream("orders")], [])
    # Declared absent, a key of another type is not a stream to delete: nothing to do, no error.
    gone = Resource(Address("r", "stream", ("orders",)), {}, absent=True)
    assert driver.read([gone], []) == []


def test_applies_a_wave_in_one_pipeline(driver: RedisDriver, fake: fakeredis.FakeRedis) -> None:
    s, g = Address("r", "stream", ("jobs",)), Address("r", "group", ("jobs", "workers"))
    done: list[str] = []
    driver.apply([Change(s, Action.CREATE, None, {})], 8, lambda c: done.append(str(c.address)))
    assert fake.type("jobs") == "stream" and fake.xlen("jobs") == 0 and fake.xinfo_groups("jobs") == []
    driver.apply([Change(g, Action.CREATE, None, {"start": "0"})], 8, lambda c: done.append(str(c.address)))
    assert [x["name"] for x in fake.xinfo_groups("jobs")] == ["workers"]
    with pytest.raises(Exception, match="cannot create group workers of stream jobs: BUSYGROUP"):
        driver.apply([Change(g, Action.CREATE, None, {"start": "0"})], 8, lambda c: None)
    driver.apply([Change(g, Action.DELETE, {}, None), Change(s, Action.DELETE, {}, None)], 8, lambda c: None)
    assert not fake.exists("jobs")
    assert done == ["r/stream/jobs", "r/group/jobs/workers"]


def test_user_passwords_compare_through_hashes_from_the_manifest(
    driver: RedisDriver, fake: fakeredis.FakeRedis
) -> None:
    fake.execute_command("ACL SETUSER", "svc", "on", ">old-pw", "~a", "+get")
    declared = Resource(
        Address("r", "user", ("svc",)),
        {"enabled": True, "passwords": acl.SENSITIVE, "keys": ["~a"]},
        info={"password_hashes": [acl.password_hash("new-pw")]},
    )
    (observed,) = [r for r in driver.read([declared], []) if r.kind == "user"]
    assert observed.attrs["passwords"] == acl.SENSITIVE_DIFFERENT
    changes = KINDS["user"].field_changes(declared, observed)
    assert [(c.field, c.before, c.after) for c in changes] == [("passwords", acl.SENSITIVE, acl.SENSITIVE_CHANGED)]
    update = Change(declared.address, Action.UPDATE, observed.attrs, declared.attrs, fields=tuple(changes))
    driver.apply([update], 1, lambda c: None)
    # The hash went to the server, never the password. (fakeredis ignores `resetpass`, so that the
    # old password is gone is checked against the real server, in tests/integration.)
    (line,) = [x for x in fake.execute_command("ACL LIST") if x.startswith("user svc ")]
    assert f"#{acl.password_hash('new-pw')}" in line
