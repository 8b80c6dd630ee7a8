"""RabbitMQ users, permissions, limits, operator policies, shovels, federation upstreams and
`on_replace: move_messages`, offline: compiling, diffing, prune scopes, export and graph."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from typing import Any

import pytest
import yaml

from topoctl.engine.diff import diff
from topoctl.errors import ManifestError, PlanError
from topoctl.manifest.loader import load_manifest
from topoctl.model import Action, Address, Resource
from topoctl.providers import secrets
from topoctl.providers.rabbitmq import KINDS
from topoctl.providers.rabbitmq.estate import own_users
from topoctl.providers.rabbitmq.export import export_broker
from topoctl.providers.rabbitmq.flows import flows
from topoctl.providers.rabbitmq.users import password_matches

B = "r"
PASSWORD = "Sup3r-s3cret"


def load(tmp_path: Path, vhosts: dict[str, Any] | None = None, env: dict[str, str] | None = None, **broker: Any) -> Any:
    doc = {"version": 1, "brokers": {B: {"type": "rabbitmq", **broker, "vhosts": vhosts or {}}}}
    path = tmp_path / "m.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return load_manifest([str(path)], env=env or {"PW": PASSWORD}).brokers[B]


def resources(tmp_path: Path, vhosts: dict[str, Any] | None = None, **broker: Any) -> dict[str, Resource]:
    return {str(r.address): r for r in load(tmp_path, vhosts, **broker).resources}


def error(tmp_path: Path, vhosts: dict[str, Any] | None = None, **broker: Any) -> str:
    with pytest.raises(ManifestError) as err:
        load(tmp_path, vhosts, **broker)
    return str(err.value)


def spec_of(address: Address) -> Any:
    return KINDS[address.kind]


# -- users ---------------------------------------------------------------------------------------


def test_a_password_lives_only_in_info_never_in_attrs(tmp_path: Path) -> None:
    rs = resources(
        tmp_path, users={"alice": {"password": "${PW}", "tags": ["b", " a", "b"], "limits": {"max-connections": 3}}}
    )
    alice = rs["r/user/alice"]
    assert alice.attrs == {"password": secrets.SENSITIVE, "tags": ["a", "b"], "limits": {"max-connections": 3}}
    assert secrets.declared(alice) == {"password": PASSWORD}
    assert PASSWORD not in repr(alice.attrs)


def test_a_bad_password_is_refused_without_being_repeated(tmp_path: Path) -> None:
    message = error(tmp_path, users={"alice": {"password": 123456789}})
    assert "password must be a string" in message and "123456789" not in message
    assert "cannot be empty" in error(tmp_path, users={"alice": {"password": ""}})


def test_limits_are_checked(tmp_path: Path) -> None:
    assert "unknown field 'max-queues'" in error(tmp_path, users={"a": {"limits": {"max-queues": 1}}})
    assert "less than the minimum of 0" in error(tmp_path, {"v": {"limits": {"max-queues": -1}}})


def _hash(password: str, salt: bytes, algorithm: str) -> str:
    return base64.b64encode(salt + hashlib.new(algorithm, salt + password.encode()).digest()).decode()


def test_password_hashes_are_compared_with_the_stored_salt() -> None:
    # Produced by RabbitMQ 3.10.8 for the `guest` user (rabbit_password_hashing_sha256).
    stored = "zj9iA5UOdsvkQODcaFeOkq4/iqJyZILSoPuduDhGNIqLn/Jq"
    assert password_matches("guest", stored, "rabbit_password_hashing_sha256")
    assert not password_matches("Guest", stored, "rabbit_password_hashing_sha256")
    for name, algorithm in (("sha512", "rabbit_password_hashing_sha512"), ("md5", "rabbit_password_hashing_md5")):
        assert password_matches("pä55", _hash("pä55", b"\x01\x02\x03\x04", name), algorithm)
    assert not password_matches("x", "", "rabbit_password_hashing_sha256")  # no password at all
    assert not password_matches("x", "not base64!", "rabbit_password_hashing_sha256")
    assert not password_matches("x", stored, "some_plugin_hashing")  # unknown: the plan sets it


def _live_user(password: str, tags: list[str] | None = None) -> Resource:
    stored = _hash(password, b"salt", "sha256")
    return Resource(
        Address(B, "user", ("alice",)),
        {"password": secrets.SENSITIVE, "tags": tags or [], "limits": {}},
        info={"password_hash": stored, "hashing_algorithm": "rabbit_password_hashing_sha256"},
    )


def test_a_changed_password_plans_an_update_that_never_shows_it(tmp_path: Path) -> None:
    from topoctl.providers.rabbitmq.estate import settle
    from topoctl.render.text import render_text

    desired = list(load(tmp_path, users={"alice": {"password": "${PW}"}}).resources)
    same = settle([_live_user(PASSWORD)], desired)
    assert diff(desired, same, spec_of).empty
    other = settle([_live_user("old password")], desired)
    plan = diff(desired, other, spec_of)
    (change,) = plan.changes
    assert change.action is Action.UPDATE
    text = render_text(plan)
    assert '~ password = "(sensitive value)" -> "(sensitive value changed)"' in text
    assert PASSWORD not in text and PASSWORD not in repr(plan.to_json())


def _me(tmp_path: Path, users: dict[str, Any], vhosts: dict[str, Any] | None = None) -> None:
    desired = load(tmp_path, vhosts, users=users).resources
    own_users(B, [_live_user("guest", ["administrator"])], desired, "alice", "guest")


def test_the_connecting_user_cannot_be_deleted_or_locked_out(tmp_path: Path) -> None:
    with pytest.raises(PlanError, match="deleting it would lock topoctl out"):
        _me(tmp_path, {"alice": {"state": "absent"}})
    with pytest.raises(PlanError, match="not the one topoctl connects with"):
        _me(tmp_path, {"alice": {"password": "${PW}"}})
    with pytest.raises(PlanError, match="drop administrator"):
        _me(tmp_path, {"alice": {"tags": ["monitoring"]}})
    with pytest.raises(PlanError, match=r"must stay '\.\*'"):
        _me(tmp_path, {}, {"v": {"permissions": {"alice": {"configure": "^x", "write": ".*", "read": ".*"}}}})
    with pytest.raises(PlanError, match="would lock topoctl out of it"):
        _me(tmp_path, {}, {"v": {"permissions": {"alice": {"state": "absent"}}}})
    _me(tmp_path, {"alice": {"tags": ["administrator", "extra"]}})  # keeping what it needs is fine


def test_the_connecting_user_and_guest_are_left_out_unless_declared(tmp_path: Path) -> None:
    live = [Resource(Address(B, "user", (n,)), {"tags": []}) for n in ("alice", "guest", "bob")] + [
        Resource(Address(B, "permission", ("v", "alice")), {"configure": ".*", "write": ".*", "read": ".*"})
    ]
    kept = own_users(B, live, [], "alice", "pw")
    assert [str(r.address) for r in kept] == ["r/user/bob"]


def test_permissions_of_a_user_that_exists_nowhere_are_refused_at_plan(tmp_path: Path) -> None:
    desired = load(tmp_path, {"v": {"permissions": {"carol": {"configure": "", "write": "", "read": ""}}}}).resources
    with pytest.raises(PlanError, match="user 'carol' does not exist"):
        own_users(B, [_live_user("x")], desired, "alice", "pw")


def test_a_deleted_users_permissions_cannot_be_declared(tmp_path: Path) -> None:
    message = error(
        tmp_path,
        {"v": {"permissions": {"bob": {"configure": "", "write": "", "read": ""}}}},
        users={"bob": {"state": "absent"}},
    )
    assert "user 'bob' has state: absent, so its permission in vhost 'v' goes with it" in message


# -- permissions ------------------------------------------------------------------------------------


def test_permissions_and_topic_permissions(tmp_path: Path) -> None:
    rs = resources(
        tmp_path,
        {
            "v": {
                "permissions": {"bob": {"configure": "^$", "write": ".*", "read": "^q"}},
                "topic_permissions": {"bob": [{"exchange": "t", "write": "^a", "read": ""}]},
            }
        },
    )
    assert rs["r/permission/v/bob"].attrs == {"configure": "^$", "write": ".*", "read": "^q"}
    assert Address(B, "user", ("bob",)) in rs["r/permission/v/bob"].depends_on
    assert rs["r/topic_permission/v/bob/t"].attrs == {"write": "^a", "read": ""}
    assert "missing field 'read'" in error(tmp_path, {"v": {"permissions": {"bob": {"configure": "", "write": ""}}}})
    assert "a regular expression RabbitMQ refuses" in error(
        tmp_path, {"v": {"permissions": {"bob": {"configure": "(", "write": "", "read": ""}}}}
    )
    twice = {"bob": [{"exchange": "t", "write": "", "read": ""}, {"exchange": "t", "write": "a", "read": ""}]}
    assert "two topic permissions for exchange 't'" in error(tmp_path, {"v": {"topic_permissions": twice}})


# -- operator policies -------------------------------------------------------------------------------


def test_operator_policies_take_only_the_keys_rabbitmq_accepts(tmp_path: Path) -> None:
    rs = resources(
        tmp_path, {"v": {"operator_policies": {"cap": {"pattern": ".", "definition": {"message-ttl": "1h"}}}}}
    )
    assert rs["r/operator_policy/v/cap"].attrs["definition"] == {"message-ttl": 3600000}
    message = error(
        tmp_path, {"v": {"operator_policies": {"cap": {"pattern": ".", "definition": {"dead-letter-exchange": "x"}}}}}
    )
    assert "dead-letter-exchange" in message


def test_a_policy_and_an_operator_policy_that_fight_over_a_key_warn(tmp_path: Path) -> None:
    spec = load(
        tmp_path,
        {
            "v": {
                "queues": {"jobs": {}, "other": {}},
                "policies": {"p": {"pattern": "^jobs$", "definition": {"max-length": 100, "message-ttl": "1h"}}},
                "operator_policies": {"o": {"pattern": ".", "definition": {"max-length": 10, "message-ttl": "1h"}}},
            }
        },
    )
    (warning,) = [w for w in spec.compiled.warnings if "operator policy" in w]
    assert "operator policy 'o' and policy 'p'" in warning and "max-length on queue 'jobs'" in warning
    assert "smaller value" in warning
    # The queue is created after the operator policy that may match it.
    jobs = next(r for r in spec.resources if str(r.address) == "r/queue/v/jobs")
    assert Address(B, "operator_policy", ("v", "o")) in jobs.depends_on


# -- shovels and federation --------------------------------------------------------------------------


SHOVEL = {
    "src-uri": "amqp://mover:${PW}@dc1.example:5672/%2F",
    "src-queue": "in",
    "dest-uri": "amqp:///v",
    "dest-exchange": "x",
    "reconnect-delay": "5s",
}


def test_shovel_uris_are_masked_and_local_ends_are_dependencies(tmp_path: Path) -> None:
    rs = resources(tmp_path, {"v": {"exchanges": {"x": {}}, "shovels": {"s": SHOVEL}}})
    shovel = rs["r/shovel/v/s"]
    assert shovel.attrs["src-uri"] == "amqp://mover:***@dc1.example:5672/%2F"
    assert shovel.attrs["reconnect-delay"] == 5
    assert secrets.declared(shovel) == {"src-uri": f"amqp://mover:{PASSWORD}@dc1.example:5672/%2F"}
    assert Address(B, "exchange", ("v", "x")) in shovel.depends_on


def test_shovel_and_upstream_mistakes_are_refused_without_showing_the_uri(tmp_path: Path) -> None:
    both = {**SHOVEL, "src-exchange": "y"}
    assert "exactly one of src-queue, src-exchange" in error(tmp_path, {"v": {"shovels": {"s": both}}})
    assert "did you mean 'src-queue'?" in error(tmp_path, {"v": {"shovels": {"s": {**SHOVEL, "src-queu": "q"}}}})
    raw = {**SHOVEL, "src-uri": "amqp://mover:p/w@ss@dc1/%2F"}
    message = error(tmp_path, {"v": {"shovels": {"s": raw}}})
    assert "must be percent-encoded" in message and "p/w@ss" not in message
    assert "missing field 'uri'" in error(tmp_path, {"v": {"federation_upstreams": {"u": {"max-hops": 1}}}})


def test_policies_that_federate_depend_on_their_upstream_and_warn_about_unknown_ones(tmp_path: Path) -> None:
    spec = load(
        tmp_path,
        {
            "v": {
                "exchanges": {"orders": {"type": "topic"}},
                "federation_upstreams": {"dc1": {"uri": "amqp://fed:${PW}@dc1.example/%2F", "expires": "1h"}},
                "policies": {
                    "fed": {"pattern": "^orders$", "definition": {"federation-upstream": "dc1"}},
                    "bad": {"pattern": "^nothing$", "definition": {"federation-upstream": "dc9"}},
                },
            }
        },
    )
    rs = {str(r.address): r for r in spec.resources}
    assert rs["r/federation_upstream/v/dc1"].attrs["expires"] == 3600000
    assert Address(B, "federation_upstream", ("v", "dc1")) in rs["r/policy/v/fed"].depends_on
    assert any("upstream 'dc9', which is not declared" in w for w in spec.compiled.warnings)
    edges = {(f.source, str(f.target), f.label) for f in flows([r for r in spec.resources if not r.absent])}
    upstream = Address("amqp://dc1.example", "exchange", ("/", "orders"))  # drawn under its host
    assert (upstream, "r/exchange/v/orders", "federation dc1") in edges


def test_a_shovel_is_drawn_between_its_ends(tmp_path: Path) -> None:
    spec = load(tmp_path, {"v": {"exchanges": {"x": {}}, "shovels": {"s": SHOVEL}}})
    edges = {(f.source, str(f.target), f.label) for f in flows(spec.resources)}
    source = Address("amqp://dc1.example:5672", "queue", ("/", "in"))
    assert (source, "r/exchange/v/x", "shovel s") in edges
    assert not any(PASSWORD in str(e[0]) for e in edges)


# -- prune ----------------------------------------------------------------------------------------------


def test_new_kinds_are_pruned_only_when_named(tmp_path: Path) -> None:
    default = load(tmp_path, {"v": {}}, prune=True).compiled.prune
    permission = Address(B, "permission", ("v", "bob"))
    assert not any(s.covers(permission) for s in default)
    assert any(s.covers(Address(B, "queue", ("v", "q"))) for s in default)
    named = load(
        tmp_path, {"v": {}}, prune={"kinds": ["permissions", "users", "shovels"], "prefix": "app-"}
    ).compiled.prune
    assert any(s.covers(Address(B, "permission", ("v", "app-bob"))) for s in named)
    assert any(s.covers(Address(B, "topic_permission", ("v", "app-bob", "t"))) for s in named) is False
    assert any(s.covers(Address(B, "user", ("app-bob",))) for s in named)
    assert not any(s.covers(Address(B, "user", ("bob",))) for s in named)
    assert not any(s.covers(Address(B, "queue", ("v", "app-q"))) for s in named)  # not named
    assert "prune.kinds.0: 'users' is not one of" in error(tmp_path, {"v": {"prune": {"kinds": ["users"]}}})


# -- move_messages ---------------------------------------------------------------------------------------


def _queue(arguments: dict[str, Any], qtype: str = "classic", **info: Any) -> Resource:
    attrs = {"type": qtype, "durable": True, "auto_delete": False, "arguments": arguments}
    return Resource(Address(B, "queue", ("v", "q")), attrs, info=info)


def test_move_messages_turns_a_replace_into_an_update_that_says_how(tmp_path: Path) -> None:
    desired = [
        r
        for r in load(
            tmp_path, {"v": {"queues": {"q": {"arguments": {"x-max-length": 9}, "on_replace": "move_messages"}}}}
        ).resources
        if r.kind == "queue"
    ]
    plan = diff(desired, [_queue({"x-max-length": 5}, messages=1234, consumers=2)], spec_of)
    (change,) = plan.changes
    assert change.action is Action.UPDATE and not change.destructive
    assert [f.field for f in change.fields] == ["arguments"]
    (note,) = change.notes
    assert "replaced keeping its 1,234 messages" in note and "'topoctl.move.q'" in note
    assert "at least once" in note and "2 consumers will be disconnected" in note
    # Nothing to change: nothing planned (on_replace itself is never compared).
    assert diff(desired, [_queue({"x-max-length": 9})], spec_of).empty
    # A move a failed apply left unfinished is a change that finishes it.
    parked = _queue({"x-max-length": 9}, parked={"queue": "topoctl.move.q", "messages": 7})
    (finish,) = diff(desired, [parked], spec_of).changes
    assert finish.action is Action.UPDATE and finish.fields[0].field == "on_replace"
    # A stream's messages cannot be shovelled out: a real (destructive) replace.
    stream = diff(desired, [_queue({}, "stream")], spec_of)
    assert stream.changes[0].action is Action.REPLACE


def test_move_messages_is_checked(tmp_path: Path) -> None:
    assert "classic and quorum queues" in error(
        tmp_path, {"v": {"queues": {"s": {"type": "stream", "on_replace": "move_messages"}}}}
    )
    assert "reserved" in error(tmp_path, {"v": {"queues": {"topoctl.move.x": {}}}})
    assert "longer than 255 bytes" in error(tmp_path, {"v": {"queues": {"q" * 250: {"on_replace": "move_messages"}}}})


# -- export ------------------------------------------------------------------------------------------------


def test_export_writes_placeholders_for_secrets_it_cannot_read_back() -> None:
    observed = [
        Resource(
            Address(B, "user", ("bob",)),
            {"password": secrets.SENSITIVE, "tags": ["monitoring"], "limits": {"max-channels": 5}},
        ),
        Resource(Address(B, "user", ("nopw",)), {"password": secrets.NO_PASSWORD, "tags": [], "limits": {}}),
        Resource(Address(B, "vhost", ("v",)), {"description": "", "tags": [], "limits": {"max-queues": 10}}),
        Resource(
            Address(B, "shovel", ("v", "s")),
            {
                "src-uri": "amqp://m:***@h/%2F",
                "src-queue": "a",
                "dest-uri": "amqp://",
                "dest-queue": "b",
                "reconnect-delay": 60,
            },
            info={secrets.SECRETS: {"src-uri": "amqp://m:topsecret@h/%2F"}},
        ),
    ]
    section = export_broker(B, observed)
    assert str(section["users"]["bob"]["password"]) == "${R_USER_BOB_PASSWORD}"
    assert "password" not in section["users"]["nopw"]
    assert section["vhosts"]["v"]["limits"] == {"max-queues": 10}
    shovel = section["vhosts"]["v"]["shovels"]["s"]
    assert str(shovel["src-uri"]) == "amqp://m:${R_SHOVEL_V_S_SRC_URI_PASSWORD}@h/%2F"
    assert shovel["reconnect-delay"] == "1m"
    assert "topsecret" not in repr(section)


def test_a_policy_that_would_drop_parked_messages_warns(tmp_path: Path) -> None:
    spec = load(
        tmp_path,
        {
            "v": {
                "queues": {"jobs": {"on_replace": "move_messages"}, "other": {}},
                "policies": {"everything": {"pattern": ".*", "definition": {"message-ttl": "1m"}}},
                "operator_policies": {"prefixed": {"pattern": "^jobs", "definition": {"max-length": 5}}},
            }
        },
    )
    parked = [w for w in spec.compiled.warnings if "parks its messages" in w]
    assert len(parked) == 1  # `^jobs` does not match `topoctl.move.jobs`; `.*` does
    assert "policy 'everything'" in parked[0] and "message-ttl would apply to the parked messages" in parked[0]
