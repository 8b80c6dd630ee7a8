"""The Redis provider against the real local redis-server (dev/brokers up redis), through the CLI.

Every test works under its own key prefix and user-name prefix, and removes every key and user
holding it. Helpers here are shared by the other Redis integration modules.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import yaml

from tests.cli import apply_ok as apply
from tests.cli import assert_empty, change_of, planned, topoctl, write_manifest
from tests.cli import plan_json as plan

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379")
pytestmark = pytest.mark.integration
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "redis.yaml"


def client(url: str = REDIS_URL) -> redis.Redis:
    return redis.Redis.from_url(url, decode_responses=True, socket_timeout=5)


def cleanup(ns: str, r: redis.Redis | None = None) -> None:
    r = r or client()
    keys = list(r.scan_iter(match=f"*{ns}*", count=1000))
    if keys:
        r.delete(*keys)
    users = [u for u in r.acl_users() if ns in u]
    if users:
        r.acl_deluser(*users)


@pytest.fixture(scope="module")
def server() -> str:
    try:
        client().ping()
    except Exception as exc:  # an unreachable broker fails the run, it never skips it
        pytest.fail(f"Redis is not reachable at {REDIS_URL} (start it: dev/brokers up redis): {exc!r}")
    return REDIS_URL


@pytest.fixture
def ns(server: str) -> Iterator[str]:
    ns = f"t{uuid.uuid4().hex[:8]}"
    yield ns
    cleanup(ns)


def manifest(streams: dict[str, Any] | None = None, url: str = REDIS_URL, **extra: Any) -> dict[str, Any]:
    broker: dict[str, Any] = {"type": "redis", "connection": {"url": url}}
    if streams is not None:
        broker["streams"] = streams
    broker.update(extra)
    return {"version": 1, "brokers": {"r": broker}}


def write(tmp_path: Path, document: dict[str, Any], name: str = "m.yaml") -> Path:
    return write_manifest(tmp_path / name, document)


def acl_line(r: redis.Redis, user: str) -> str:
    lines = [str(x) for x in r.execute_command("ACL LIST") if str(x).startswith(f"user {user} ")]
    assert lines, f"no ACL user {user}"
    return lines[0]


# -- the example ------------------------------------------------------------------------------


def test_example_applies_and_replans_empty(server: str) -> None:
    doc = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    streams = list(doc["brokers"]["cache"]["streams"])
    users = list(doc["brokers"]["cache"]["users"])
    r = client()
    before = {k for k in streams if r.exists(k)} | {u for u in users if u in r.acl_users()}
    env = {"REDIS_URL": REDIS_URL, "REDIS_BILLING_PASSWORD": "billing-example-pw"}
    try:
        result = topoctl("apply", "-f", EXAMPLE, "--auto-approve", env=env)
        assert result.code == 0, str(result)
        again = topoctl("plan", "-f", EXAMPLE, "--detailed-exitcode", env=env)
        assert again.code == 0, str(again)
        assert all(r.type(k) == "stream" for k in [*streams, "orders:dlq"])
        assert "billing-example-pw" not in result.stdout + result.stderr
    finally:
        for key in [*streams, "orders:dlq"]:
            if key not in before:
                r.delete(key)
        for user in users:
            if user not in before:
                r.acl_deluser(user)


# -- streams ------------------------------------------------------------------------------------


def test_streams_are_created_empty_and_replan_empty(tmp_path: Path, ns: str) -> None:
    m = write(tmp_path, manifest({f"{ns}:orders": {"maxlen": 1000}, f"{ns}:audit": None}))
    changes = planned(plan(m))
    assert changes == {f"r/stream/{ns}:orders": "create", f"r/stream/{ns}:audit": "create"}
    apply(m)
    r = client()
    assert r.type(f"{ns}:orders") == "stream" and r.xlen(f"{ns}:orders") == 0
    assert r.xinfo_groups(f"{ns}:orders") == []  # the group that made it is gone
    assert_empty(m)
    # Retention is intent: entries beyond maxlen are the producers' to trim, never a diff.
    for i in range(5):
        r.xadd(f"{ns}:orders", {"i": i})
    m2 = write(tmp_path, manifest({f"{ns}:orders": {"maxlen": 2}, f"{ns}:audit": None}), "m2.yaml")
    assert_empty(m2)
    assert r.xlen(f"{ns}:orders") == 5


def test_a_key_of_another_type_is_a_plan_error_and_never_overwritten(tmp_path: Path, ns: str) -> None:
    r = client()
    r.set(f"{ns}:orders", "not a stream")
    r.hset(f"{ns}:audit", "a", "1")
    m = write(tmp_path, manifest({f"{ns}:orders": {"groups": {"billing": {}}}, f"{ns}:audit": {}}))
    for command in ("plan", "apply"):
        result = topoctl(command, "-f", m, *(["--auto-approve"] if command == "apply" else []))
        assert result.code == 1, str(result)
        assert f"key '{ns}:orders' holds a string, not a stream" in result.stderr
        assert f"key '{ns}:audit' holds a hash, not a stream" in result.stderr
        line = next(i for i, text in enumerate(m.read_text().splitlines(), 1) if f"{ns}:orders:" in text)
        assert f"{m}:{line}: key '{ns}:orders'" in result.stderr  # the manifest line of the stream
        assert "Traceback" not in result.stderr
    assert r.get(f"{ns}:orders") == "not a stream" and r.hget(f"{ns}:audit", "a") == "1"


def test_deleting_a_stream_shows_entries_and_pending_at_risk(tmp_path: Path, ns: str) -> None:
    key = f"{ns}:orders"
    m = write(tmp_path, manifest({key: {"groups": {"billing": {"start": "0"}}}}))
    apply(m)
    r = client()
    for i in range(3):
        r.xadd(key, {"i": i})
    r.xreadgroup("billing", "worker-1", {key: ">"}, count=2)
    gone = write(tmp_path, manifest({key: {"state": "absent"}}), "gone.yaml")
    result = plan(gone)
    assert planned(result) == {f"r/stream/{key}": "delete"}
    stream = change_of(result, f"r/stream/{key}")
    assert stream["destructive"]
    assert stream["reasons"] == [
        "3 entries will be lost",
        "its 1 consumer group goes with it, with 2 pending entries not acknowledged",
        f"also removes r/group/{key}/billing",
    ]
    refused = topoctl("apply", "-f", gone, "--auto-approve")
    assert refused.code == 1 and "--allow-destructive" in refused.stderr
    assert r.xlen(key) == 3
    apply(gone, "--allow-destructive")
    assert not r.exists(key)
    assert_empty(gone)


# -- groups -------------------------------------------------------------------------------------


def test_group_start_is_used_at_creation_only_and_position_is_never_fixed(tmp_path: Path, ns: str) -> None:
    key = f"{ns}:jobs"
    r = client()
    r.xadd(key, {"n": 1}, id="1-1")
    r.xadd(key, {"n": 2}, id="2-1")
    groups = {"all": {"start": "0"}, "new": {}, "mid": {"start": "1-1", "entries_read": 1}}
    m = write(tmp_path, manifest({key: {"groups": groups}}))
    first = plan(m)
    assert change_of(first, f"r/group/{key}/new")["after"] == {"start": "$"}
    apply(m)
    live = {g["name"]: g for g in r.xinfo_groups(key)}
    assert live["all"]["last-delivered-id"] == "0-0"
    assert live["new"]["last-delivered-id"] == "2-1"
    assert live["mid"]["last-delivered-id"] == "1-1" and live["mid"]["entries-read"] == 1
    # Consumers move the positions on: a plan never "fixes" them back.
    r.xreadgroup("all", "w", {key: ">"})
    r.xgroup_setid(key, "mid", "0")
    assert_empty(m)
    # Destroyed behind topoctl's back: planned for re-creation, from its declared start.
    r.xgroup_destroy(key, "all")
    assert planned(plan(m)) == {f"r/group/{key}/all": "create"}
    apply(m)
    assert {g["name"]: g for g in r.xinfo_groups(key)}["all"]["last-delivered-id"] == "0-0"
    assert_empty(m)


def test_deleting_a_group_with_pending_entries_is_destructive_and_counted(tmp_path: Path, ns: str) -> None:
    key = f"{ns}:jobs"
    m = write(tmp_path, manifest({key: {"groups": {"workers": {"start": "0"}, "audit": {}}}}))
    apply(m)
    r = client()
    r.xadd(key, {"n": 1})
    r.xadd(key, {"n": 2})
    r.xreadgroup("workers", "w1", {key: ">"}, count=1)
    drop = write(tmp_path, manifest({key: {"groups": {"workers": {"state": "absent"}, "audit": {}}}}), "drop.yaml")
    result = plan(drop)
    change = change_of(result, f"r/group/{key}/workers")
    assert change["action"] == "delete" and change["destructive"]
    assert change["reasons"] == [
        "1 pending entry (delivered, not acknowledged) will be lost",
        "its position is lost: 1 entry not yet delivered to the group",
        "its 1 consumer goes with it",
    ]
    text = topoctl("plan", "-f", drop)
    assert "! 1 pending entry (delivered, not acknowledged) will be lost" in text.stdout
    apply(drop, "--allow-destructive")
    assert [g["name"] for g in r.xinfo_groups(key)] == ["audit"]
    assert r.xlen(key) == 2  # the stream and its entries stay
    assert_empty(drop)


# -- dead letters --------------------------------------------------------------------------------


def test_dead_letter_creates_the_dlq_stream_and_records_the_intent(tmp_path: Path, ns: str) -> None:
    key = f"{ns}:orders"
    groups = {"billing": {"dead_letter": {"max_deliveries": 5}}, "audit": {"dead_letter": {"max_deliveries": 2}}}
    m = write(tmp_path, manifest({key: {"groups": groups}}))
    result = plan(m)
    assert planned(result) == {
        f"r/stream/{key}": "create",
        f"r/stream/{key}:dlq": "create",
        f"r/group/{key}/billing": "create",
        f"r/group/{key}/audit": "create",
    }
    billing = change_of(result, f"r/group/{key}/billing")
    assert billing["after"]["dead_letter"] == {"stream": f"{key}:dlq", "max_deliveries": 5}
    assert f"r/stream/{key}:dlq" in billing["depends_on"]
    apply(m)
    assert client().type(f"{key}:dlq") == "stream"
    assert_empty(m)
    graph = topoctl("graph", "-f", m)
    assert graph.code == 0, str(graph)
    assert '-.->|"dead letters after 5 deliveries"|' in graph.stdout


# -- users --------------------------------------------------------------------------------------


def test_users_replan_empty_and_passwords_are_never_shown(tmp_path: Path, ns: str) -> None:
    user = f"{ns}-billing"
    body = {
        "passwords": ["${PW_ONE}", "${PW_TWO}"],
        "keys": [f"~{ns}:orders:*", f"%R~{ns}:audit:*", f"%W~{ns}:jobs:*", f"%RW~{ns}:both"],
        "channels": ["&events.*"],
        "commands": ["+@read", "-@dangerous", "+xadd", "+XACK", "+ping"],
    }
    env = {"PW_ONE": "first-Secret-1", "PW_TWO": "second-Secret-2"}
    m = write(tmp_path, manifest(users={user: body}))
    result = topoctl("plan", "-f", m, "--format", "json", env=env)
    assert change_of(result, f"r/user/{user}")["after"]["passwords"] == "(sensitive value)"
    applied = topoctl("apply", "-f", m, "--auto-approve", env=env)
    assert applied.code == 0, str(applied)
    again = topoctl("plan", "-f", m, "--detailed-exitcode", env=env)
    assert again.code == 0, f"commands and keys must compare by meaning:\n{again}\n{acl_line(client(), user)}"
    # The user works with either password and has exactly what was declared.
    as_user = redis.Redis(username=user, password="second-Secret-2", decode_responses=True)
    as_user.xadd(f"{ns}:orders:1", {"a": 1})
    with pytest.raises(redis.exceptions.NoPermissionError):
        as_user.set(f"{ns}:orders:x", "1")  # +@read -@dangerous +xadd: no SET
    as_user.close()

    # A new password: the plan says it changes, never what it is (nor its hash), in any format.
    env2 = {**env, "PW_TWO": "third-Secret-3"}
    changed = topoctl("plan", "-f", m, "--format", "json", "--detailed-exitcode", env=env2)
    change = change_of(changed, f"r/user/{user}")
    assert change["action"] == "update"
    assert change["fields"] == [
        {"field": "passwords", "before": "(sensitive value)", "after": "(sensitive value changed)"}
    ]
    saved = tmp_path / "plan.json"
    text = topoctl("plan", "-f", m, "-o", saved, env=env2)
    secrets = ["third-Secret-3", "second-Secret-2", "first-Secret-1"]
    secrets += [hashlib.sha256(s.encode()).hexdigest() for s in secrets]
    for output in (changed.stdout, text.stdout, text.stderr, saved.read_text(encoding="utf-8")):
        assert not [s for s in secrets if s in output]
    assert '~ passwords = "(sensitive value)" -> "(sensitive value changed)"' in text.stdout
    applied = topoctl("apply", saved, "--auto-approve", env=env2)
    assert applied.code == 0, str(applied)
    assert not [s for s in secrets if s in applied.stdout + applied.stderr]
    redis.Redis(username=user, password="third-Secret-3").ping()
    with pytest.raises(redis.exceptions.AuthenticationError):
        redis.Redis(username=user, password="second-Secret-2").ping()
    assert topoctl("plan", "-f", m, "--detailed-exitcode", env=env2).code == 0


def test_user_rules_update_in_place_and_undeclared_fields_are_left_alone(tmp_path: Path, ns: str) -> None:
    user = f"{ns}-worker"
    r = client()
    r.acl_setuser(user, enabled=True, passwords=["+keep-this-pw"], keys=[f"{ns}:*"], channels=["jobs.*"])
    m = write(tmp_path, manifest(users={user: {"commands": ["+@stream", "+ping"]}}))
    result = plan(m)
    change = change_of(result, f"r/user/{user}")
    assert change["action"] == "update"
    assert [f["field"] for f in change["fields"]] == ["commands"]
    apply(m)
    line = acl_line(r, user)
    assert f"~{ns}:*" in line and "&jobs.*" in line and "+ping" in line
    redis.Redis(username=user, password="keep-this-pw").ping()  # passwords were not declared: kept
    assert_empty(m)
    # Disabled in place; and a commands change shows old -> new.
    m2 = write(tmp_path, manifest(users={user: {"enabled": False, "commands": ["+@stream"]}}), "m2.yaml")
    changes = change_of(plan(m2), f"r/user/{user}")["fields"]
    assert {f["field"] for f in changes} == {"enabled", "commands"}
    apply(m2)
    assert " off " in acl_line(r, user)
    assert_empty(m2)


def test_deleting_a_user(tmp_path: Path, ns: str) -> None:
    user = f"{ns}-old"
    r = client()
    r.acl_setuser(user, enabled=True, passwords=["+pw-of-old"])
    m = write(tmp_path, manifest(users={user: {"state": "absent"}}))
    change = change_of(plan(m), f"r/user/{user}")
    assert change["action"] == "delete" and change["destructive"]
    assert change["before"]["passwords"] == "(sensitive value)"
    apply(m, "--allow-destructive")
    assert user not in r.acl_users()
    assert_empty(m)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"state": "absent"}, "deleting it would lock topoctl out"),
        ({"enabled": False}, "disabling it would lock topoctl out"),
        ({"passwords": ["${NEW_DEFAULT_PW}"]}, "its declared passwords do not include the one topoctl connects with"),
        ({"commands": ["+@read"]}, "would take away acl|list, acl|setuser"),
    ],
)
def test_the_connecting_user_is_never_locked_out(
    tmp_path: Path, server: str, body: dict[str, Any], reason: str
) -> None:
    r = client()
    before = acl_line(r, "default")
    m = write(tmp_path, manifest(users={"default": body}))
    for command in ("plan", "apply"):
        flags = ["--auto-approve", "--allow-destructive"] if command == "apply" else []
        result = topoctl(command, "-f", m, *flags, env={"NEW_DEFAULT_PW": "nope-pw"})
        assert result.code == 1, str(result)
        assert "user 'default' is the user topoctl connects as" in result.stderr and reason in result.stderr
        assert f"{m}:" in result.stderr
    assert acl_line(r, "default") == before


def test_default_is_only_touched_when_declared(tmp_path: Path, ns: str) -> None:
    r = client()
    r.acl_setuser(f"{ns}-extra", enabled=True)
    before = acl_line(r, "default")
    m = write(tmp_path, manifest(users={f"{ns}-app": {"commands": ["+ping"]}}, prune={"users": True, "prefix": ns}))
    changes = planned(plan(m))
    assert changes == {f"r/user/{ns}-app": "create", f"r/user/{ns}-extra": "delete"}
    everything = write(tmp_path, manifest(users={}, prune=True), "all.yaml")
    assert "r/user/default" not in planned(plan(everything))
    declared = write(tmp_path, manifest(users={"default": {"channels": ["&*"], "keys": ["~*"]}}), "d.yaml")
    assert_empty(declared)  # declared, and matching: nothing to do
    assert acl_line(r, "default") == before


# -- prune, --target, staleness ------------------------------------------------------------------


def test_prune_with_a_key_prefix(tmp_path: Path, ns: str) -> None:
    r = client()
    for key in (f"{ns}:app:a", f"{ns}:app:b", f"{ns}:other"):
        r.xgroup_create(key, "g", "$", mkstream=True)
    r.xgroup_create(f"{ns}:app:a", "extra", "$")
    r.set(f"{ns}:app:plain", "a string is not a stream")
    m = write(
        tmp_path,
        manifest({f"{ns}:app:a": {"groups": {"g": {}}}}, prune={"prefix": f"{ns}:app:"}),
    )
    result = plan(m)
    assert planned(result) == {f"r/stream/{ns}:app:b": "delete", f"r/group/{ns}:app:a/extra": "delete"}
    assert f"also removes r/group/{ns}:app:b/g" in change_of(result, f"r/stream/{ns}:app:b")["reasons"]
    apply(m, "--allow-destructive")
    assert r.exists(f"{ns}:other") and r.exists(f"{ns}:app:a") and not r.exists(f"{ns}:app:b")
    assert r.get(f"{ns}:app:plain") == "a string is not a stream"
    assert [g["name"] for g in r.xinfo_groups(f"{ns}:app:a")] == ["g"]
    assert_empty(m)


def test_target_selects_one_group_and_what_it_needs(tmp_path: Path, ns: str) -> None:
    key = f"{ns}:orders"
    groups = {"billing": {"dead_letter": {"max_deliveries": 3}}, "audit": {}}
    m = write(tmp_path, manifest({key: {"groups": groups}, f"{ns}:other": {}}))
    result = topoctl("plan", "-f", m, "--format", "json", "--target", f"r/group/{key}/billing")
    assert planned(result) == {
        f"r/group/{key}/billing": "create",
        f"r/stream/{key}": "create",
        f"r/stream/{key}:dlq": "create",
    }
    apply(m, "--target", f"r/group/{key}/billing")
    r = client()
    assert [g["name"] for g in r.xinfo_groups(key)] == ["billing"] and not r.exists(f"{ns}:other")


def test_saved_plan_is_stale_when_a_stream_got_entries(tmp_path: Path, ns: str) -> None:
    key = f"{ns}:orders"
    r = client()
    r.xgroup_create(key, "g", "$", mkstream=True)
    m = write(tmp_path, manifest({key: {"state": "absent"}}))
    saved = tmp_path / "plan.json"
    assert topoctl("plan", "-f", m, "-o", saved).code == 0
    r.xadd(key, {"a": 1})  # the plan said nothing was at risk: now something is
    result = topoctl("apply", saved, "--auto-approve", "--allow-destructive")
    assert result.code == 1 and "saved plan is stale" in result.stderr, str(result)
    assert r.xlen(key) == 1
    # Planned again, it says what is at risk, and applies.
    assert topoctl("plan", "-f", m, "-o", saved).code == 0
    assert "1 entry will be lost" in topoctl("show", saved).stdout
    assert topoctl("apply", saved, "--auto-approve", "--allow-destructive").code == 0
    assert not r.exists(key)


def test_saved_plan_is_stale_when_a_user_changed(tmp_path: Path, ns: str) -> None:
    user = f"{ns}-u"
    r = client()
    r.acl_setuser(user, enabled=True, commands=["+get"])
    m = write(tmp_path, manifest(users={user: {"commands": ["+get", "+set"]}}))
    saved = tmp_path / "plan.json"
    assert topoctl("plan", "-f", m, "-o", saved).code == 0
    r.acl_setuser(user, commands=["+del"])
    result = topoctl("apply", saved, "--auto-approve")
    assert result.code == 1 and "saved plan is stale" in result.stderr, str(result)


# -- connection -----------------------------------------------------------------------------------


def test_unreachable_server_and_bad_password_are_one_clear_error(tmp_path: Path, ns: str) -> None:
    down = write(tmp_path, manifest({f"{ns}:s": {}}, url="redis://127.0.0.1:1"), "down.yaml")
    result = topoctl("plan", "-f", down)
    assert result.code == 1
    assert "broker 'r' (redis://127.0.0.1:1/0): cannot connect" in result.stderr, str(result)
    assert "Traceback" not in result.stderr
    user = f"{ns}-conn"
    client().acl_setuser(user, enabled=True, passwords=["+right-pw"], commands=["+@all"], keys=["~*"])
    doc = manifest({f"{ns}:s": {}})
    doc["brokers"]["r"]["connection"] = {"url": REDIS_URL, "username": user, "password": "${CONN_PW}"}
    wrong = write(tmp_path, doc, "wrong.yaml")
    result = topoctl("plan", "-f", wrong, env={"CONN_PW": "wrong-pw-value"})
    assert result.code == 1 and "cannot connect" in result.stderr, str(result)
    assert "wrong-pw-value" not in result.stdout + result.stderr
    ok = topoctl("apply", "-f", wrong, "--auto-approve", env={"CONN_PW": "right-pw"})
    assert ok.code == 0, str(ok)
    inline = manifest({f"{ns}:s": {}}, url=f"redis://{user}:right-pw@127.0.0.1:6379/0")
    result = topoctl("plan", "-f", write(tmp_path, inline, "inline.yaml"), "--detailed-exitcode")
    assert result.code == 0, str(result)
    assert "right-pw" not in result.stdout + result.stderr
