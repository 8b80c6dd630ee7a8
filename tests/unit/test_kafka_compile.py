"""The Kafka compiler, through the real manifest loader (YAML, schema, file:line)."""

from __future__ import annotations

from pathlib import Path

import pytest

from topoctl.errors import ManifestError
from topoctl.manifest.loader import load_manifest
from topoctl.model import Address
from topoctl.providers.kafka.kinds import AclPruneScope
from topoctl.providers.kafka.values import canonical_value

HEAD = "version: 1\nbrokers:\n  k:\n    type: kafka\n    connection: {bootstrap_servers: 127.0.0.1:9092}\n"


def load(tmp_path: Path, body: str, head: str = HEAD) -> dict[str, dict[str, object]]:
    path = tmp_path / "m.yaml"
    path.write_text(head + body, encoding="utf-8")
    manifest = load_manifest([str(path)], env={})
    out = {}
    for r in manifest.resources:
        out[str(r.address)] = {
            "attrs": dict(r.attrs),
            "absent": r.absent,
            "depends_on": [str(a) for a in r.depends_on],
            "source": r.source,
        }
    return out


def error(tmp_path: Path, body: str, head: str = HEAD) -> ManifestError:
    with pytest.raises(ManifestError) as info:
        load(tmp_path, body, head)
    return info.value


def test_topic_values_are_normalised_so_7d_equals_its_milliseconds(tmp_path: Path) -> None:
    resources = load(
        tmp_path,
        "    topics:\n"
        "      orders:\n"
        "        partitions: 6\n"
        "        replication_factor: 1\n"
        "        config:\n"
        "          retention.ms: 7d\n"
        "          segment.bytes: 1GiB\n"
        "          cleanup.policy: [compact, delete]\n"
        "          unclean.leader.election.enable: false\n"
        "          min.insync.replicas: 2\n"
        "          min.cleanable.dirty.ratio: 0.5\n"
        "          retention.bytes: -1\n",
    )
    attrs = resources["k/topic/orders"]["attrs"]
    assert attrs == {
        "partitions": 6,
        "replication_factor": 1,
        "config": {
            "retention.ms": "604800000",
            "segment.bytes": "1073741824",
            "cleanup.policy": "compact,delete",
            "unclean.leader.election.enable": "false",
            "min.insync.replicas": "2",
            "min.cleanable.dirty.ratio": "0.5",
            "retention.bytes": "-1",
        },
    }
    assert resources["k/topic/orders"]["source"] == f"{tmp_path / 'm.yaml'}:7"


@pytest.mark.parametrize(
    ("key", "manifest_value", "live_value"),
    [
        ("retention.ms", "7d", "604800000"),
        ("retention.ms", 604800000, "604800000"),
        ("retention.ms", -1, "-1"),
        ("max.message.bytes", "1MiB", "1048576"),
        ("local.retention.bytes", -2, "-2"),
        ("cleanup.policy", "compact, delete", "compact,delete"),
        ("preallocate", True, "true"),
        ("preallocate", "TRUE", "true"),
        ("message.timestamp.type", "CreateTime", "CreateTime"),
        # Kafka stores a double as Java's Double.toString, a list trimmed and deduplicated; a
        # cleanup policy is a set, so its order does not matter either.
        ("min.cleanable.dirty.ratio", 1, "1.0"),
        ("min.cleanable.dirty.ratio", "0.0001", "1.0E-4"),
        ("min.cleanable.dirty.ratio", "1e-2", "0.01"),
        ("min.cleanable.dirty.ratio", 0.5, "0.5"),
        ("cleanup.policy", ["delete", "compact"], "compact,delete"),
        ("cleanup.policy", "delete,compact", "compact,delete"),
        ("cleanup.policy", ["compact", "compact"], "compact"),
        ("follower.replication.throttled.replicas", "1:0, 0:0", "0:0,1:0"),
        ("min.insync.replicas", "01", "1"),
    ],
)
def test_manifest_and_live_spellings_meet(key: str, manifest_value: object, live_value: str) -> None:
    assert canonical_value(key, manifest_value) == canonical_value(key, live_value)


def test_a_bad_duration_is_located(tmp_path: Path) -> None:
    err = error(tmp_path, "    topics:\n      orders:\n        config:\n          retention.ms: 7 days\n")
    assert err.location == f"{tmp_path / 'm.yaml'}:9"
    assert "retention.ms" in str(err)


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("retention.ms", "true", "retention.ms takes one number"),
        ("segment.bytes", "[1, 2]", "segment.bytes takes one number"),
        ("min.cleanable.dirty.ratio", "half", "min.cleanable.dirty.ratio must be a number"),
    ],
)
def test_a_value_of_the_wrong_type_is_refused_offline(tmp_path: Path, key: str, value: str, message: str) -> None:
    err = error(tmp_path, f"    topics:\n      orders:\n        config:\n          {key}: {value}\n")
    assert err.location == f"{tmp_path / 'm.yaml'}:9"
    assert message in str(err)


def test_dead_letter_creates_a_dlq_topic_with_the_source_partitions(tmp_path: Path) -> None:
    resources = load(
        tmp_path,
        "    topics:\n"
        "      orders.v1:\n"
        "        partitions: 6\n"
        "        replication_factor: 1\n"
        "        dead_letter: {}\n"
        "      payments:\n"
        "        partitions: 2\n"
        "        dead_letter: {topic: payments-failed, partitions: 1, config: {retention.ms: 30d}}\n",
    )
    dlq = resources["k/topic/orders.v1.dlq"]
    assert dlq["attrs"] == {"partitions": 6, "replication_factor": 1}
    assert dlq["depends_on"] == []
    assert dlq["source"] == f"{tmp_path / 'm.yaml'}:10"
    assert resources["k/topic/payments-failed"]["attrs"] == {
        "partitions": 1,
        "config": {"retention.ms": "2592000000"},
    }


def test_dead_letter_of_an_absent_topic_is_absent_too(tmp_path: Path) -> None:
    resources = load(tmp_path, "    topics:\n      orders: {state: absent, dead_letter: {}}\n")
    assert resources["k/topic/orders"]["absent"] and resources["k/topic/orders.dlq"]["absent"]


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("'bad name'", "only letters, digits"),
        ("'..'", "not allowed"),
        ("__consumer_offsets", "internal to Kafka"),
        ("x" * 250, "at most 249"),
    ],
)
def test_illegal_topic_names_are_refused_with_file_and_line(tmp_path: Path, name: str, message: str) -> None:
    err = error(tmp_path, f"    topics:\n      ok: {{}}\n      {name}: {{partitions: 1}}\n")
    assert message in str(err)
    assert err.location == f"{tmp_path / 'm.yaml'}:8"


def test_dot_underscore_collision_names_both_topics_and_lines(tmp_path: Path) -> None:
    err = error(tmp_path, "    topics:\n      orders.v1: {}\n      other: {}\n      orders_v1: {}\n")
    text = str(err)
    assert "'orders_v1'" in text and "'orders.v1'" in text
    assert err.location == f"{tmp_path / 'm.yaml'}:9"
    assert f"{tmp_path / 'm.yaml'}:7" in text


def test_a_topic_going_away_makes_room_for_the_one_it_collides_with(tmp_path: Path) -> None:
    resources = load(tmp_path, "    topics:\n      orders_v1: {state: absent}\n      orders.v1: {}\n")
    assert resources["k/topic/orders_v1"]["absent"] and not resources["k/topic/orders.v1"]["absent"]
    # A shared dead-letter topic that one present source keeps still claims its name.
    err = error(
        tmp_path,
        "    topics:\n"
        "      a: {state: absent, dead_letter: {topic: s.dlq}}\n"
        "      b: {dead_letter: {topic: s.dlq}}\n"
        "      s_dlq: {}\n",
    )
    assert "collides with dead-letter topic 's.dlq' of 'b'" in str(err)


def test_a_dlq_name_colliding_with_a_declared_topic_is_refused(tmp_path: Path) -> None:
    err = error(tmp_path, "    topics:\n      orders: {dead_letter: {}}\n      orders_dlq: {}\n")
    assert "dead-letter topic 'orders.dlq'" in str(err) and "'orders_dlq'" in str(err)


def test_a_dead_letter_topic_declared_under_topics_is_that_declaration(tmp_path: Path) -> None:
    dlq = "      orders.dlq: {partitions: 1, config: {retention.ms: 30d}}\n"
    source = "      orders: {partitions: 6, dead_letter: {}}\n"
    for body in (dlq + source, source + dlq):  # either order
        resources = load(tmp_path, "    topics:\n" + body)
        assert resources["k/topic/orders.dlq"]["attrs"] == {"partitions": 1, "config": {"retention.ms": "2592000000"}}
        assert set(resources) == {"k/topic/orders", "k/topic/orders.dlq"}
    err = error(tmp_path, "    topics:\n      a.dlq: {}\n      a: {dead_letter: {partitions: 2}}\n")
    assert "declared under topics:, so its partitions is set there" in str(err)
    assert err.location == f"{tmp_path / 'm.yaml'}:8"
    err = error(tmp_path, "    topics:\n      a.dlq: {state: absent}\n      a: {dead_letter: {}}\n")
    assert "'a.dlq' of 'a' is declared state: absent, but 'a' still sends its dead letters there" in str(err)
    err = error(tmp_path, "    topics:\n      a: {dead_letter: {topic: a}}\n")
    assert "cannot be its own dead-letter topic" in str(err)


def test_topics_may_share_a_dead_letter_topic_they_make_alike(tmp_path: Path) -> None:
    resources = load(
        tmp_path,
        "    topics:\n"
        "      a: {partitions: 3, dead_letter: {topic: shared.dlq}}\n"
        "      b: {partitions: 3, dead_letter: {topic: shared.dlq}}\n"
        "      c: {state: absent, partitions: 3, dead_letter: {topic: shared.dlq}}\n",
    )
    shared = resources["k/topic/shared.dlq"]
    assert shared["attrs"] == {"partitions": 3} and not shared["absent"]  # c is going, a and b are not
    err = error(
        tmp_path,
        "    topics:\n"
        "      a: {partitions: 3, dead_letter: {topic: shared.dlq}}\n"
        "      b: {partitions: 6, dead_letter: {topic: shared.dlq}}\n",
    )
    assert "differs from the one 'a' makes" in str(err) and "partitions 3 vs 6" in str(err)
    assert err.location == f"{tmp_path / 'm.yaml'}:8"


def test_acls_get_defaults_an_address_from_every_field_and_a_topic_dependency(tmp_path: Path) -> None:
    resources = load(
        tmp_path,
        "    topics:\n      orders: {}\n"
        "    acls:\n"
        "      - {principal: 'User:billing', resource_type: topic, resource_name: orders, operation: read}\n"
        "      - {principal: 'User:billing', resource_type: group, resource_name: billing-,"
        " pattern_type: prefixed, operation: read, permission: deny, host: 10.0.0.1}\n"
        "      - {principal: 'User:ops', resource_type: cluster, operation: describe_configs}\n",
    )
    read = resources["k/acl/topic/literal/orders/User:billing/*/read/allow"]
    assert read["depends_on"] == ["k/topic/orders"]
    assert read["attrs"] == {
        "resource_type": "topic",
        "pattern_type": "literal",
        "resource_name": "orders",
        "principal": "User:billing",
        "host": "*",
        "operation": "read",
        "permission": "allow",
    }
    assert "k/acl/group/prefixed/billing-/User:billing/10.0.0.1/read/deny" in resources
    assert "k/acl/cluster/literal/kafka-cluster/User:ops/*/describe_configs/allow" in resources


def test_duplicate_acl_is_refused_with_both_locations(tmp_path: Path) -> None:
    acl = "{principal: 'User:a', resource_type: topic, resource_name: t, operation: read}"
    err = error(tmp_path, f"    acls:\n      - {acl}\n      - {acl}\n")
    assert "declared twice" in str(err)
    assert err.location == f"{tmp_path / 'm.yaml'}:8"


def test_acl_principal_must_have_a_type(tmp_path: Path) -> None:
    err = error(
        tmp_path, "    acls:\n      - {principal: billing, resource_type: topic, resource_name: t, operation: read}\n"
    )
    assert "principal" in str(err)


def test_prune_true_covers_topics_and_acls_and_a_prefix_narrows_both(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(HEAD + "    prune: true\n", encoding="utf-8")
    (scopes,) = [b.compiled.prune for b in load_manifest([str(path)], env={}).brokers.values()]
    assert {frozenset(s.kinds) for s in scopes} == {frozenset({"topic"}), frozenset({"acl"})}

    path.write_text(HEAD + "    prune: {topics: true, acls: true, prefix: shop.}\n", encoding="utf-8")
    (scopes,) = [b.compiled.prune for b in load_manifest([str(path)], env={}).brokers.values()]
    topic_scope = next(s for s in scopes if "topic" in s.kinds)
    acl_scope = next(s for s in scopes if isinstance(s, AclPruneScope))
    assert topic_scope.covers(Address("k", "topic", ("shop.orders",)))
    assert not topic_scope.covers(Address("k", "topic", ("crm.people",)))
    mine = ("topic", "literal", "shop.orders", "User:x", "*", "read", "allow")
    theirs = ("topic", "literal", "crm.people", "User:x", "*", "read", "allow")
    assert acl_scope.covers(Address("k", "acl", mine))
    assert not acl_scope.covers(Address("k", "acl", theirs))
    assert not acl_scope.covers(Address("k", "topic", ("shop.orders",)))


def test_prune_config_at_broker_level_applies_to_every_topic(tmp_path: Path) -> None:
    resources = load(tmp_path, "    prune: {config: true}\n    topics:\n      a: {}\n      b: {prune_config: false}\n")
    assert resources["k/topic/a"]["attrs"] == {"prune_config": True}
    assert resources["k/topic/b"]["attrs"] == {}


def test_config_null_means_remove(tmp_path: Path) -> None:
    resources = load(tmp_path, "    topics:\n      a: {config: {segment.ms: null, retention.ms: 1h}}\n")
    assert resources["k/topic/a"]["attrs"] == {"config": {"segment.ms": None, "retention.ms": "3600000"}}


def test_unknown_fields_are_refused_by_the_schema(tmp_path: Path) -> None:
    err = error(tmp_path, "    topics:\n      a: {partitons: 3}\n")
    assert "partitons" in str(err)
    assert err.location == f"{tmp_path / 'm.yaml'}:7"


def test_sasl_without_password_is_refused_offline(tmp_path: Path) -> None:
    head = (
        "version: 1\nbrokers:\n  k:\n    type: kafka\n    connection:\n"
        "      bootstrap_servers: 127.0.0.1:9092\n"
        "      security_protocol: SSL\n"
        "      sasl: {username: u, password: p}\n"
    )
    err = error(tmp_path, "    topics: {}\n", head)
    assert "security_protocol" in str(err)
    assert err.location == f"{tmp_path / 'm.yaml'}:7"


def test_a_prune_prefix_without_topics_or_acls_is_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(HEAD + "    prune: {prefix: shop.}\n    topics: {shop.a: {}}\n", encoding="utf-8")
    manifest = load_manifest([str(path)], env={})
    (warning,) = manifest.warnings
    assert warning.startswith(f"{path}:6: prune.prefix 'shop.' narrows nothing")
    path.write_text(HEAD + "    prune: {prefix: shop., topics: true}\n    topics: {shop.a: {}}\n", encoding="utf-8")
    assert load_manifest([str(path)], env={}).warnings == []


@pytest.mark.parametrize(
    ("body", "line"),
    [
        ("    topics:\n      ok: {}\n      __consumer_offsets: {state: absent}\n", 8),
        ("    topics:\n      __transaction_state: {partitions: 50}\n", 7),
        ("    topics:\n      __cluster_metadata: {}\n", 7),
        ("    topics:\n      orders:\n        dead_letter: {topic: __orders_dlq}\n", 8),
    ],
)
def test_internal_topics_cannot_be_declared_nor_deleted(tmp_path: Path, body: str, line: int) -> None:
    """Kafka's `__*` topics are system objects: never managed, whether declared, planned
    absent, or named as a dead-letter topic."""
    err = error(tmp_path, body)
    assert "internal to Kafka" in str(err)
    assert err.location == f"{tmp_path / 'm.yaml'}:{line}"


def test_validate_refuses_an_internal_topic_with_exit_1_and_no_traceback(tmp_path: Path) -> None:
    from tests.cli import topoctl

    path = tmp_path / "m.yaml"
    path.write_text(HEAD + "    topics:\n      __consumer_offsets: {state: absent}\n", encoding="utf-8")
    result = topoctl("validate", "-f", path)
    assert result.code == 1, str(result)
    assert f"{path}:7" in result.stderr and "__consumer_offsets" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
