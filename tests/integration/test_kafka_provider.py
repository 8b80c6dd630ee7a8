"""The Kafka provider against the real local Kafka (dev/brokers up kafka), through the CLI.

Every test works under its own topic prefix and principal and removes what it made.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import KafkaException, Producer
from confluent_kafka.admin import (  # type: ignore[attr-defined]
    AclBinding,
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    ResourcePatternType,
    ResourceType,
)

from tests.cli import apply_ok as apply
from tests.cli import assert_empty, change_of, planned, topoctl, write_manifest
from tests.cli import plan_json as plan
from topoctl.providers.kafka.driver import KafkaDriver, topic_configs

BOOTSTRAP = os.environ.get("KAFKA_BOOTSTRAP", "127.0.0.1:9092")
pytestmark = pytest.mark.integration


# -- fixtures and helpers ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def admin() -> AdminClient:
    client = AdminClient({"bootstrap.servers": BOOTSTRAP})
    try:
        client.list_topics(timeout=10)
    except Exception as exc:  # an unreachable broker fails the run, it never skips it
        pytest.fail(f"Kafka is not reachable at {BOOTSTRAP} (start it: dev/brokers up kafka): {exc}")
    return client


@pytest.fixture
def ns(admin: AdminClient) -> Iterator[str]:
    ns = f"t{uuid.uuid4().hex[:8]}"
    yield ns
    cleanup(admin, ns)


def cleanup(admin: AdminClient, ns: str) -> None:
    topics = [t for t in admin.list_topics(timeout=10).topics if t.startswith(ns)]
    if topics:
        for future in admin.delete_topics(topics, operation_timeout=30).values():
            future.result()
    mine = [b for b in _all_acls(admin) if ns in b.principal or b.name.startswith(ns)]
    if mine:
        filters = [
            AclBindingFilter(
                b.restype, b.name, b.resource_pattern_type, b.principal, b.host, b.operation, b.permission_type
            )
            for b in mine
        ]
        for future in admin.delete_acls(filters).values():
            future.result()


def _all_acls(admin: AdminClient) -> list[AclBinding]:
    match_any = AclBindingFilter(
        ResourceType.ANY, None, ResourcePatternType.ANY, None, None, AclOperation.ANY, AclPermissionType.ANY
    )
    return list(admin.describe_acls(match_any).result())


def manifest(topics: dict[str, Any], acls: list[dict[str, Any]] | None = None, **extra: Any) -> dict[str, Any]:
    broker: dict[str, Any] = {"type": "kafka", "connection": {"bootstrap_servers": BOOTSTRAP}, "topics": topics}
    if acls is not None:
        broker["acls"] = acls
    broker.update(extra)
    return {"version": 1, "brokers": {"k": broker}}


def live_config(admin: AdminClient, topic: str) -> dict[str, Any]:
    (future,) = admin.describe_configs([ConfigResource(ResourceType.TOPIC, topic)]).values()
    return topic_configs(future.result().values())


def raw_config(admin: AdminClient, topic: str, key: str) -> str | None:
    """A config value as the broker spells it (`live_config` canonicalises)."""
    (future,) = admin.describe_configs([ConfigResource(ResourceType.TOPIC, topic)]).values()
    value: str | None = future.result()[key].value
    return value


def partitions(admin: AdminClient, topic: str) -> int:
    return len(admin.list_topics(timeout=10).topics[topic].partitions)


def alter(admin: AdminClient, resource_type: Any, name: str, key: str, value: str | None) -> None:
    op = AlterConfigOpType.DELETE if value is None else AlterConfigOpType.SET
    resource = ConfigResource(
        resource_type, name, incremental_configs=[ConfigEntry(key, value, incremental_operation=op)]
    )
    for future in admin.incremental_alter_configs([resource]).values():
        future.result()


def wait_for(predicate: Any, what: str) -> None:
    """KRaft applies out-of-band changes asynchronously too: wait until the broker shows them."""
    deadline = time.monotonic() + 15
    while not predicate():
        assert time.monotonic() < deadline, f"broker never showed: {what}"
        time.sleep(0.05)


# -- tests ------------------------------------------------------------------------------------


def test_apply_then_plan_is_empty_with_dlq_and_normalised_values(tmp_path: Path, admin: AdminClient, ns: str) -> None:
    orders = f"{ns}.orders"
    path = write_manifest(
        tmp_path / "m.yaml",
        manifest(
            {
                orders: {
                    "partitions": 3,
                    "replication_factor": 1,
                    "config": {
                        "retention.ms": "7d",
                        "max.message.bytes": "1MiB",
                        "cleanup.policy": ["compact", "delete"],
                        "unclean.leader.election.enable": False,
                        "min.insync.replicas": 1,
                    },
                    "dead_letter": {"config": {"retention.ms": "14d"}},
                },
                f"{ns}.compacted": {"partitions": 1, "config": {"cleanup.policy": "compact"}},
            },
            [{"principal": f"User:{ns}", "resource_type": "topic", "resource_name": orders, "operation": "read"}],
        ),
    )
    first = planned(plan(path))
    assert first == {
        f"k/topic/{orders}": "create",
        f"k/topic/{orders}.dlq": "create",
        f"k/topic/{ns}.compacted": "create",
        f"k/acl/topic/literal/{orders}/User:{ns}/*/read/allow": "create",
    }
    apply(path)
    assert_empty(path)
    assert live_config(admin, orders) == {
        "cleanup.policy": "compact,delete",
        "max.message.bytes": "1048576",
        "min.insync.replicas": "1",
        "retention.ms": "604800000",
        "unclean.leader.election.enable": "false",
    }
    # The DLQ has the source's partition count and only its own declared config.
    assert partitions(admin, f"{orders}.dlq") == 3
    assert live_config(admin, f"{orders}.dlq") == {"retention.ms": "1209600000"}


def test_configs_the_broker_normalises_never_replan(tmp_path: Path, admin: AdminClient, ns: str) -> None:
    """Kafka writes a config back in its type's form (a double as Java prints it, a list without
    duplicates); every accepted spelling, set by topoctl or out of band, plans empty."""
    topic = f"{ns}.norm"
    config: dict[str, Any] = {
        "min.cleanable.dirty.ratio": 1,  # the broker stores "1.0"
        "cleanup.policy": ["delete", "compact", "delete"],
        "compression.type": "zstd",
        "message.timestamp.type": "LogAppendTime",
        "min.insync.replicas": "01",
        "retention.ms": "1m30s",
        "segment.bytes": "64MiB",
        "unclean.leader.election.enable": "TRUE",
        "follower.replication.throttled.replicas": "*",
        "local.retention.bytes": -2,
    }
    path = write_manifest(tmp_path / "m.yaml", manifest({topic: {"partitions": 1, "config": config}}))
    apply(path)
    assert_empty(path)
    assert live_config(admin, topic)["min.cleanable.dirty.ratio"] == "1.0"

    # The same values in the broker's other spellings: still nothing to do.
    alter(admin, ResourceType.TOPIC, topic, "cleanup.policy", "delete,compact")
    alter(admin, ResourceType.TOPIC, topic, "min.cleanable.dirty.ratio", "1.0E0")
    wait_for(lambda: raw_config(admin, topic, "min.cleanable.dirty.ratio") == "1.0", "the ratio")
    wait_for(lambda: raw_config(admin, topic, "cleanup.policy") == "delete,compact", "the reordered policy")
    assert_empty(path)

    # A change of a double applies (and settles) like any other.
    config["min.cleanable.dirty.ratio"] = "0.0001"  # stored as "1.0E-4"
    path = write_manifest(tmp_path / "m.yaml", manifest({topic: {"partitions": 1, "config": config}}))
    change = change_of(plan(path), f"k/topic/{topic}")
    assert change["fields"] == [{"field": "config.min.cleanable.dirty.ratio", "before": "1.0", "after": "0.0001"}]
    apply(path)
    assert_empty(path)


def test_shared_and_declared_dead_letter_topics_apply_and_plan_empty(
    tmp_path: Path, admin: AdminClient, ns: str
) -> None:
    topics: dict[str, Any] = {
        f"{ns}.a": {"partitions": 2, "dead_letter": {"topic": f"{ns}.shared-dlq"}},
        f"{ns}.b": {"partitions": 2, "dead_letter": {"topic": f"{ns}.shared-dlq"}},
        f"{ns}.c": {"partitions": 4, "dead_letter": {}},
        f"{ns}.c.dlq": {"partitions": 1, "config": {"retention.ms": "30d"}},  # declared: used as it is
    }
    path = write_manifest(tmp_path / "m.yaml", manifest(topics))
    assert set(planned(plan(path)).values()) == {"create"}
    apply(path)
    assert_empty(path)
    assert partitions(admin, f"{ns}.shared-dlq") == 2 and partitions(admin, f"{ns}.c.dlq") == 1
    graph = topoctl("graph", "-f", path, "--format", "dot")
    assert graph.code == 0, str(graph)
    for source, target in (
        (f"{ns}.a", f"{ns}.shared-dlq"),
        (f"{ns}.b", f"{ns}.shared-dlq"),
        (f"{ns}.c", f"{ns}.c.dlq"),
    ):
        assert source in graph.stdout and target in graph.stdout
    assert graph.stdout.count("dead letters") == 3, graph.stdout

    # One of the two sources goes: the shared DLQ stays for the other.
    topics[f"{ns}.a"]["state"] = "absent"
    path = write_manifest(tmp_path / "m.yaml", manifest(topics))
    assert planned(plan(path)) == {f"k/topic/{ns}.a": "delete"}


def test_out_of_band_config_change_is_an_update_and_apply_repairs_it(
    tmp_path: Path, admin: AdminClient, ns: str
) -> None:
    topic = f"{ns}.orders"
    path = write_manifest(tmp_path / "m.yaml", manifest({topic: {"partitions": 1, "config": {"retention.ms": "7d"}}}))
    apply(path)
    alter(admin, ResourceType.TOPIC, topic, "retention.ms", "3600000")
    wait_for(lambda: live_config(admin, topic).get("retention.ms") == "3600000", "retention.ms=3600000")

    result = plan(path)
    assert result.code == 2, str(result)
    change = change_of(result, f"k/topic/{topic}")
    assert change["action"] == "update"
    assert change["fields"] == [{"field": "config.retention.ms", "before": "3600000", "after": "604800000"}]
    apply(path)
    assert live_config(admin, topic)["retention.ms"] == "604800000"
    assert_empty(path)


# confluent-kafka refuses the empty broker name that addresses the cluster-wide default, so the
# test sets it with Kafka's own Java Admin client, from the jars dev/brokers installed.
_SET_CLUSTER_DEFAULT = """
import java.util.*;
import org.apache.kafka.clients.admin.*;
import org.apache.kafka.common.config.ConfigResource;

public class SetClusterDefault {
    public static void main(String[] args) throws Exception {
        Properties props = new Properties();
        props.put("bootstrap.servers", args[0]);
        try (Admin admin = Admin.create(props)) {
            ConfigResource cluster = new ConfigResource(ConfigResource.Type.BROKER, "");
            AlterConfigOp op = args.length > 2
                ? new AlterConfigOp(new ConfigEntry(args[1], args[2]), AlterConfigOp.OpType.SET)
                : new AlterConfigOp(new ConfigEntry(args[1], null), AlterConfigOp.OpType.DELETE);
            admin.incrementalAlterConfigs(Map.of(cluster, List.of(op))).all().get();
        }
    }
}
"""


def _kafka_libs() -> Path:
    state = Path(os.environ.get("TOPOCTL_BROKERS_DIR") or Path(__file__).resolve().parents[2] / ".brokers")
    libs = state / "kafka" / "libs"
    assert any(libs.glob("kafka-clients-*.jar")), f"no Kafka jars in {libs} (run dev/brokers up kafka)"
    return libs


def set_cluster_default(tmp_path: Path, key: str, value: str | None) -> None:
    source = tmp_path / "SetClusterDefault.java"
    source.write_text(_SET_CLUSTER_DEFAULT, encoding="utf-8")
    args = ["java", "-cp", f"{_kafka_libs()}/*", str(source), BOOTSTRAP, key, *([value] if value else [])]
    done = subprocess.run(args, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr


@pytest.fixture
def cluster_default_retention(tmp_path: Path) -> Iterator[str]:
    """A cluster-wide dynamic default (`log.retention.ms` on the default BROKER resource),
    removed again afterwards."""
    set_cluster_default(tmp_path, "log.retention.ms", "123456789")
    yield "123456789"
    set_cluster_default(tmp_path, "log.retention.ms", None)


def test_cluster_wide_default_changed_out_of_band_is_not_drift(
    tmp_path: Path, admin: AdminClient, ns: str, cluster_default_retention: str
) -> None:
    topic = f"{ns}.plain"
    path = write_manifest(tmp_path / "m.yaml", manifest({topic: {"partitions": 1}}))
    apply(path)

    # The default really is in force for the topic (describe shows it, as a broker default)...
    def in_force() -> bool:
        (future,) = admin.describe_configs([ConfigResource(ResourceType.TOPIC, topic)]).values()
        return bool(future.result()["retention.ms"].value == cluster_default_retention)

    wait_for(in_force, "the cluster default in force on the topic")
    # ...but it is not the topic's own setting: no diff and no unmanaged note.
    result = plan(path)
    assert result.code == 0, str(result)
    assert result.json["notes"] == []
    assert result.json["changes"] == []


def test_partition_increase_applies_in_place(tmp_path: Path, admin: AdminClient, ns: str) -> None:
    topic = f"{ns}.grow"
    path = write_manifest(tmp_path / "m.yaml", manifest({topic: {"partitions": 2}}))
    apply(path)
    path = write_manifest(tmp_path / "m.yaml", manifest({topic: {"partitions": 5}}))
    result = plan(path)
    change = change_of(result, f"k/topic/{topic}")
    assert change["action"] == "update" and not change["destructive"]
    assert change["fields"] == [{"field": "partitions", "before": 2, "after": 5}]
    apply(path)
    assert partitions(admin, topic) == 5
    assert_empty(path)


def test_partition_decrease_is_a_destructive_replace_refused_without_the_flag(
    tmp_path: Path, admin: AdminClient, ns: str
) -> None:
    topic = f"{ns}.shrink"
    path = write_manifest(tmp_path / "m.yaml", manifest({topic: {"partitions": 4, "config": {"retention.ms": "1d"}}}))
    apply(path)
    producer = Producer({"bootstrap.servers": BOOTSTRAP})
    for i in range(3):
        producer.produce(topic, value=b"x", partition=i)
    assert producer.flush(10) == 0

    # A config set out of band does not survive the recreate: the plan says so, not "kept".
    alter(admin, ResourceType.TOPIC, topic, "segment.ms", "3600000")
    wait_for(lambda: "segment.ms" in live_config(admin, topic), "the out-of-band segment.ms")

    path = write_manifest(tmp_path / "m.yaml", manifest({topic: {"partitions": 2, "config": {"retention.ms": "1d"}}}))
    result = plan(path)
    change = change_of(result, f"k/topic/{topic}")
    assert change["action"] == "replace" and change["destructive"]
    assert {"field": "config.segment.ms", "before": "3600000", "after": None} in change["fields"]
    assert not any("kept" in note for note in change.get("notes", [])), change
    assert (
        "partitions cannot decrease (4 -> 2): the topic is deleted and recreated;"
        " Kafka partitions only grow, so keep 4 or more to change the topic in place"
    ) in change["reasons"]
    assert "3 messages will be lost" in change["reasons"]

    refused = topoctl("apply", "-f", path, "--auto-approve")
    assert refused.code == 1, str(refused)
    assert "--allow-destructive" in refused.stderr
    assert partitions(admin, topic) == 4, "a refused apply changed the topic"

    apply(path, "--allow-destructive")
    assert partitions(admin, topic) == 2
    assert live_config(admin, topic) == {"retention.ms": "86400000"}
    assert_empty(path)


def test_a_replication_factor_the_cluster_cannot_have_is_a_plan_error_not_a_replace(
    tmp_path: Path, admin: AdminClient, ns: str
) -> None:
    """On one broker a replication factor of 3 cannot be: the replace would delete the topic and
    then fail to create it. The plan says so instead, and nothing is touched. (The replace itself,
    with its reason, is in tests/unit/test_kafka_kinds.py: it needs a cluster of 3.)"""
    topic = f"{ns}.rf"
    path = write_manifest(tmp_path / "m.yaml", manifest({topic: {"partitions": 1, "replication_factor": 1}}))
    apply(path)
    path = write_manifest(tmp_path / "m.yaml", manifest({topic: {"partitions": 1, "replication_factor": 3}}))
    for args in (("plan",), ("apply", "--auto-approve", "--allow-destructive")):
        result = topoctl(*args, "-f", path)
        assert result.code == 1, str(result)
        assert f"topic '{topic}' (declared at {path}:" in result.stderr
        assert "replication_factor 3 is more than the 1 broker(s) of the cluster" in result.stderr
        assert "Traceback" not in result.stderr
    assert topic in admin.list_topics(timeout=10).topics


def test_what_kafka_would_refuse_is_a_plan_error_naming_every_topic(
    tmp_path: Path, admin: AdminClient, ns: str
) -> None:
    """Server-side dry runs (CreateTopics and IncrementalAlterConfigs with validate_only): a bad
    config name or value fails the plan, with file:line, before apply creates anything."""
    good, existing = f"{ns}.good", f"{ns}.existing"
    path = write_manifest(tmp_path / "m.yaml", manifest({existing: {"partitions": 1}}))
    apply(path)
    topics: dict[str, Any] = {
        good: {"partitions": 1},
        existing: {"partitions": 1, "config": {"message.timestamp.type": "logappendtime"}},
        f"{ns}.compress": {"config": {"compression.type": "GZIP"}},
        f"{ns}.unknown": {"config": {"retention.msx": 5}},
        f"{ns}.rf": {"replication_factor": 3},
    }
    path = write_manifest(tmp_path / "m.yaml", manifest(topics))
    for args in (("plan",), ("apply", "--auto-approve")):
        result = topoctl(*args, "-f", path)
        assert result.code == 1, str(result)
        lines = result.stderr.splitlines()
        assert lines[0] == f"Error: Kafka broker 'k' ({BOOTSTRAP}) would refuse this plan:", result.stderr
        assert len(lines) == 5, result.stderr
        for name, what in (
            (existing, "Invalid value logappendtime for configuration message.timestamp.type"),
            (f"{ns}.compress", "Invalid value GZIP for configuration compression.type"),
            (f"{ns}.unknown", "Unknown topic config name: retention.msx"),
            (f"{ns}.rf", "replication factor of 3 cannot be reached"),
        ):
            assert any(f"topic '{name}' (declared at {path}:" in line and what in line for line in lines), (name, lines)
    live = admin.list_topics(timeout=10).topics
    assert good not in live and f"{ns}.compress" not in live, "a refused plan created topics"
    assert live_config(admin, existing) == {}


def test_unmanaged_config_is_shown_and_kept_then_removed_when_asked(
    tmp_path: Path, admin: AdminClient, ns: str
) -> None:
    topic = f"{ns}.extra"
    spec: dict[str, Any] = {"partitions": 1, "config": {"retention.ms": "1d"}}
    path = write_manifest(tmp_path / "m.yaml", manifest({topic: spec}))
    apply(path)
    alter(admin, ResourceType.TOPIC, topic, "segment.ms", "3600000")
    alter(admin, ResourceType.TOPIC, topic, "flush.messages", "1000")
    wait_for(lambda: len(live_config(admin, topic)) == 3, "the out-of-band keys")

    result = plan(path)
    assert result.code == 0, str(result)  # nothing to do...
    (note,) = result.json["notes"]  # ...but the unmanaged keys are shown
    assert note["address"] == f"k/topic/{topic}"
    assert {f["field"] for f in note.get("fields", [])} <= {"config.segment.ms", "config.flush.messages"}
    assert any("segment.ms" in n for n in note["notes"]), note
    text = topoctl("plan", "-f", path)
    assert "config.segment.ms" in text.stdout and "not in the manifest" in text.stdout
    apply(path)
    assert live_config(admin, topic)["segment.ms"] == "3600000", "an unmanaged key was not kept"

    # `null` removes one key...
    spec["config"]["flush.messages"] = None
    path = write_manifest(tmp_path / "m.yaml", manifest({topic: spec}))
    change = change_of(plan(path), f"k/topic/{topic}")
    assert change["action"] == "update"
    assert {"field": "config.flush.messages", "before": "1000", "after": None} in change["fields"]
    apply(path)
    assert "flush.messages" not in live_config(admin, topic)
    assert_empty(path)

    # ...and prune_config removes every key the manifest does not declare.
    spec["prune_config"] = True
    path = write_manifest(tmp_path / "m.yaml", manifest({topic: spec}))
    change = change_of(plan(path), f"k/topic/{topic}")
    assert change["action"] == "update" and not change["destructive"]
    assert [f["field"] for f in change["fields"]] == ["config.segment.ms"]
    apply(path)
    assert live_config(admin, topic) == {"retention.ms": "86400000"}
    assert_empty(path)


def test_acl_round_trip_with_exact_deletes_and_prune(tmp_path: Path, admin: AdminClient, ns: str) -> None:
    topic = f"{ns}.acl"
    principal = f"User:{ns}"
    read = {"principal": principal, "resource_type": "topic", "resource_name": topic, "operation": "read"}
    group = {
        "principal": principal,
        "resource_type": "group",
        "resource_name": f"{ns}-",
        "pattern_type": "prefixed",
        "operation": "read",
    }
    path = write_manifest(tmp_path / "m.yaml", manifest({topic: {"partitions": 1}}, [read, group]))
    apply(path)
    assert_empty(path)
    mine = {
        (b.restype.name, b.name, b.resource_pattern_type.name, b.operation.name)
        for b in _all_acls(admin)
        if b.principal == principal
    }
    assert mine == {("TOPIC", topic, "LITERAL", "READ"), ("GROUP", f"{ns}-", "PREFIXED", "READ")}

    # An out-of-band ACL differing only by operation must survive the exact delete of `read`.
    write = AclBinding(
        ResourceType.TOPIC,
        topic,
        ResourcePatternType.LITERAL,
        principal,
        "*",
        AclOperation.WRITE,
        AclPermissionType.ALLOW,
    )
    for future in admin.create_acls([write]).values():
        future.result()
    path = write_manifest(
        tmp_path / "m.yaml", manifest({topic: {"partitions": 1}}, [{**read, "state": "absent"}, group])
    )
    address = f"k/acl/topic/literal/{topic}/{principal}/*/read/allow"
    assert planned(plan(path)) == {address: "delete"}
    apply(path, "--allow-destructive")
    operations = {b.operation.name for b in _all_acls(admin) if b.principal == principal and b.name == topic}
    assert operations == {"WRITE"}
    assert_empty(path)

    # prune.acls with a prefix deletes the undeclared one on our resources, and only that.
    path = write_manifest(
        tmp_path / "m.yaml", manifest({topic: {"partitions": 1}}, [group], prune={"acls": True, "prefix": ns})
    )
    assert planned(plan(path)) == {f"k/acl/topic/literal/{topic}/{principal}/*/write/allow": "delete"}
    apply(path, "--allow-destructive")
    assert_empty(path)


def test_state_absent_and_prune_delete_topics_within_the_prefix(tmp_path: Path, admin: AdminClient, ns: str) -> None:
    path = write_manifest(
        tmp_path / "m.yaml",
        manifest({f"{ns}.keep": {"partitions": 1}, f"{ns}.gone": {"partitions": 1}, f"{ns}.stray": {"partitions": 1}}),
    )
    apply(path)
    path = write_manifest(
        tmp_path / "m.yaml",
        manifest(
            {f"{ns}.keep": {"partitions": 1}, f"{ns}.gone": {"state": "absent"}},
            prune={"topics": True, "prefix": f"{ns}."},
        ),
    )
    assert planned(plan(path)) == {f"k/topic/{ns}.gone": "delete", f"k/topic/{ns}.stray": "delete"}
    refused = topoctl("apply", "-f", path, "--auto-approve")
    assert refused.code == 1
    apply(path, "--allow-destructive")
    live = set(admin.list_topics(timeout=10).topics)
    assert f"{ns}.keep" in live and f"{ns}.gone" not in live and f"{ns}.stray" not in live
    assert_empty(path)


def test_live_dot_underscore_collision_is_a_plan_error(tmp_path: Path, admin: AdminClient, ns: str) -> None:
    from confluent_kafka.admin import NewTopic  # type: ignore[attr-defined]

    for future in admin.create_topics([NewTopic(f"{ns}_a_b", 1, 1)]).values():
        future.result()
    wait_for(lambda: f"{ns}_a_b" in admin.list_topics(timeout=10).topics, "the live topic")
    path = write_manifest(tmp_path / "m.yaml", manifest({f"{ns}.a.b": {"partitions": 1}}))
    result = topoctl("plan", "-f", path)
    assert result.code == 1, str(result)
    assert f"{ns}.a.b" in result.stderr and f"{ns}_a_b" in result.stderr
    assert "m.yaml:" in result.stderr

    # Deleting the live one in the same plan makes room: delete, then create.
    path = write_manifest(tmp_path / "m.yaml", manifest({f"{ns}_a_b": {"state": "absent"}, f"{ns}.a.b": {}}))
    assert planned(plan(path)) == {f"k/topic/{ns}_a_b": "delete", f"k/topic/{ns}.a.b": "create"}
    apply(path, "--allow-destructive")
    assert_empty(path)


def test_internal_topics_are_never_read(admin: AdminClient, ns: str) -> None:
    from confluent_kafka import Consumer, TopicPartition
    from confluent_kafka.admin import NewTopic  # type: ignore[attr-defined]

    for future in admin.create_topics([NewTopic(f"{ns}.visible", 1, 1)]).values():
        future.result()
    # A consumer group commit makes sure __consumer_offsets exists.
    consumer = Consumer({"bootstrap.servers": BOOTSTRAP, "group.id": f"g{uuid.uuid4().hex[:6]}"})
    # The commit itself may fail; looking up the group coordinator creates the topic.
    with contextlib.suppress(KafkaException):
        consumer.commit(offsets=[TopicPartition("__topoctl_never", 0, 0)], asynchronous=False)
    consumer.close()
    wait_for(lambda: "__consumer_offsets" in admin.list_topics(timeout=10).topics, "__consumer_offsets")
    wait_for(lambda: f"{ns}.visible" in admin.list_topics(timeout=10).topics, "the new topic")
    observed = KafkaDriver("k", {"bootstrap_servers": BOOTSTRAP}).read([], [])
    names = {r.address.name[0] for r in observed if r.kind == "topic"}
    assert f"{ns}.visible" in names
    assert not [n for n in names if n.startswith("__")]


def test_extreme_values_apply_exactly_and_plan_empty(tmp_path: Path, admin: AdminClient, ns: str) -> None:
    """Long.MAX written with a unit (it went through a float, and Kafka got ...808), -1 and 0."""
    path = write_manifest(
        tmp_path / "m.yaml",
        manifest(
            {
                f"{ns}.extreme": {
                    "partitions": 1,
                    "config": {
                        "max.compaction.lag.ms": "9223372036854775807ms",
                        "retention.ms": -1,
                        "retention.bytes": "-1",
                        "min.compaction.lag.ms": "0ms",
                        "segment.jitter.ms": "1.5h",
                        "local.retention.bytes": "0.5GiB",
                    },
                }
            }
        ),
    )
    apply(path)
    config = live_config(admin, f"{ns}.extreme")
    assert config["max.compaction.lag.ms"] == "9223372036854775807"
    assert config["retention.ms"] == "-1" and config["min.compaction.lag.ms"] == "0"
    assert config["segment.jitter.ms"] == "5400000" and config["local.retention.bytes"] == str(2**29)
    assert_empty(path)


def test_prune_never_covers_internal_topics(tmp_path: Path, admin: AdminClient, ns: str) -> None:
    """System objects are never touched: a prune whose prefix is `__` finds nothing to delete,
    although `__consumer_offsets` is live (and would match)."""
    ensure_consumer_offsets(admin)
    path = write_manifest(tmp_path / "m.yaml", manifest({}, prune={"topics": True, "prefix": "__"}))
    result = plan(path)
    assert result.code == 0, str(result)
    assert result.json["changes"] == []


def ensure_consumer_offsets(admin: AdminClient) -> None:
    from confluent_kafka import Consumer, TopicPartition

    if "__consumer_offsets" in admin.list_topics(timeout=10).topics:
        return
    consumer = Consumer({"bootstrap.servers": BOOTSTRAP, "group.id": f"g{uuid.uuid4().hex[:6]}"})
    # The commit itself may fail; looking up the group coordinator creates the topic.
    with contextlib.suppress(KafkaException):
        consumer.commit(offsets=[TopicPartition("__topoctl_never", 0, 0)], asynchronous=False)
    consumer.close()
    wait_for(lambda: "__consumer_offsets" in admin.list_topics(timeout=10).topics, "__consumer_offsets")


def test_broker_down_fails_fast_with_a_clear_message_and_no_secret(tmp_path: Path) -> None:
    document = manifest({"x": {"partitions": 1}})
    document["brokers"]["k"]["connection"] = {
        "bootstrap_servers": "127.0.0.1:1",
        "timeout": "2s",
        "sasl": {"mechanism": "SCRAM-SHA-512", "username": "bob", "password": "${KAFKA_TEST_PASSWORD}"},
    }
    path = write_manifest(tmp_path / "m.yaml", document)
    result = topoctl("plan", "-f", path, env={"KAFKA_TEST_PASSWORD": "hunter2-very-secret"})
    assert result.code == 1, str(result)
    assert "broker 'k' (127.0.0.1:1): cannot connect" in result.stderr
    assert "hunter2-very-secret" not in result.stdout + result.stderr


EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "kafka.yaml"


def _remove_example(admin: AdminClient) -> None:
    cleanup(admin, "shop.")
    from tests.integration.kafka_cluster_support import cleanup as cleanup_access

    for name in ("billing", "checkout"):  # the example's SCRAM user and quotas
        cleanup_access(admin, name, bootstrap=BOOTSTRAP, topics=False)
    principals = {"User:billing", "User:checkout"}
    leftovers = [b for b in _all_acls(admin) if b.principal in principals and b.name.startswith(("shop.", "billing-"))]
    if leftovers:
        filters = [
            AclBindingFilter(
                b.restype, b.name, b.resource_pattern_type, b.principal, b.host, b.operation, b.permission_type
            )
            for b in leftovers
        ]
        for future in admin.delete_acls(filters).values():
            future.result()


def test_the_example_applies_and_then_plans_empty(admin: AdminClient) -> None:
    _remove_example(admin)
    try:
        first = planned(topoctl("plan", "-f", EXAMPLE, "--format", "json", "--detailed-exitcode"))
        assert "events/topic/shop.orders.v1.dlq" in first and set(first.values()) == {"create"}
        result = topoctl("apply", "-f", EXAMPLE, "--auto-approve")
        assert result.code == 0, str(result)
        assert_empty(EXAMPLE)
        assert partitions(admin, "shop.orders.v1.dlq") == partitions(admin, "shop.orders.v1") == 6
        assert "events/user/billing" in first and "events/quota/user/checkout" in first
    finally:
        _remove_example(admin)


def test_export_of_live_topics_plans_empty(tmp_path: Path, admin: AdminClient, ns: str) -> None:
    from topoctl.providers.kafka.export import export_broker

    path = write_manifest(
        tmp_path / "m.yaml",
        manifest(
            {
                f"{ns}.a": {
                    "partitions": 2,
                    "config": {"retention.ms": "3d", "segment.bytes": "64MiB"},
                    "dead_letter": {},
                }
            },
            [{"principal": f"User:{ns}", "resource_type": "topic", "resource_name": f"{ns}.a", "operation": "write"}],
        ),
    )
    apply(path)
    observed = KafkaDriver("k", {"bootstrap_servers": BOOTSTRAP}).read([], [])
    mine = [r for r in observed if r.address.name[0].startswith(ns) or f"User:{ns}" in r.address.name]
    section = export_broker("k", mine)
    assert section["topics"][f"{ns}.a"] == {
        "partitions": 2,
        "replication_factor": 1,
        "config": {"retention.ms": "3d", "segment.bytes": "64MiB"},
    }
    exported = write_manifest(
        tmp_path / "export.yaml",
        {"version": 1, "brokers": {"k": {"type": "kafka", "connection": {"bootstrap_servers": BOOTSTRAP}, **section}}},
    )
    assert_empty(exported)
