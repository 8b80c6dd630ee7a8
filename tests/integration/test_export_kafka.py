"""`topoctl export` against the real Kafka: topics with configs, a DLQ topic and ACLs, created with
the AdminClient (not topoctl), export to a manifest whose plan is empty; internal topics never show."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from confluent_kafka.admin import (  # type: ignore[attr-defined]
    AclBinding,
    AclOperation,
    AclPermissionType,
    AdminClient,
    NewTopic,
    ResourcePatternType,
    ResourceType,
)

from tests.cli import topoctl
from tests.integration.export_support import assert_targets_cover, export_to_file
from tests.integration.test_kafka_provider import (  # noqa: F401 - fixtures (cleanup included)
    BOOTSTRAP,
    _all_acls,
    admin,
    ns,
    wait_for,
)

pytestmark = pytest.mark.integration
BROKER = "exp-kafka"
CONNECTION = {"type": "kafka", "connection": {"bootstrap_servers": BOOTSTRAP}}


def _build_by_hand(client: AdminClient, prefix: str) -> None:
    topics = [
        NewTopic(
            f"{prefix}.orders",
            num_partitions=3,
            replication_factor=1,
            config={"retention.ms": "604800000", "segment.bytes": "67108864", "cleanup.policy": "delete"},
        ),
        NewTopic(f"{prefix}.orders.dlq", num_partitions=3, replication_factor=1),
        NewTopic(f"{prefix}.compacted", num_partitions=1, replication_factor=1, config={"cleanup.policy": "compact"}),
    ]
    for future in client.create_topics(topics, operation_timeout=30).values():
        future.result()
    acls = [
        AclBinding(
            ResourceType.TOPIC,
            f"{prefix}.orders",
            ResourcePatternType.LITERAL,
            f"User:{prefix}",
            "*",
            AclOperation.READ,
            AclPermissionType.ALLOW,
        ),
        AclBinding(
            ResourceType.GROUP,
            prefix,
            ResourcePatternType.PREFIXED,
            f"User:{prefix}",
            "*",
            AclOperation.READ,
            AclPermissionType.ALLOW,
        ),
    ]
    for future in client.create_acls(acls).values():
        future.result()
    # KRaft applies both asynchronously: export only once the broker shows all of it.
    names = {t.topic for t in topics}
    wait_for(lambda: names <= set(client.list_topics(timeout=10).topics), "the hand-built topics")
    wait_for(lambda: len([b for b in _all_acls(client) if b.principal == f"User:{prefix}"]) == 2, "the ACLs")


def test_export_of_hand_built_topics_and_acls_plans_empty(tmp_path: Path, admin: AdminClient, ns: str) -> None:  # noqa: F811
    _build_by_hand(admin, ns)
    result, exported = export_to_file(tmp_path, BROKER, CONNECTION)

    body = yaml.safe_load(result.stdout)["brokers"][BROKER]
    orders = body["topics"][f"{ns}.orders"]
    assert orders["partitions"] == 3
    assert orders["config"]["retention.ms"] == "7d" and orders["config"]["segment.bytes"] == "64MiB"
    assert not [t for t in body["topics"] if t.startswith("__")]  # internal topics are system objects
    mine = [a for a in body.get("acls", []) if a["principal"] == f"User:{ns}"]
    assert len(mine) == 2, body.get("acls")

    targets: list[str] = []
    for topic in (f"{ns}.orders", f"{ns}.orders.dlq", f"{ns}.compacted"):
        targets += ["--target", f"{BROKER}/topic/{topic}"]
    targets += ["--target", f"{BROKER}/acl/topic/literal/{ns}.orders", "--target", f"{BROKER}/acl/group/prefixed/{ns}"]
    # Narrowed to this test's objects: other tests create and delete topics on the same broker.
    assert_targets_cover(exported, targets, lambda a: ns in "/".join(a.name))
    plan = topoctl("plan", "-f", exported, "--detailed-exitcode", *targets)
    assert plan.code == 0, f"the plan of the export is not empty:\n{plan}"
    assert "No changes." in plan.stdout


LONG_MAX = 2**63 - 1


def test_export_of_extreme_configs_plans_empty(tmp_path: Path, admin: AdminClient, ns: str) -> None:  # noqa: F811
    """Values at the ends of what Kafka accepts, set out of band: Long.MAX (the broker's own
    "never" for max.compaction.lag.ms), -1 ("infinite" retention), -2 (local retention follows
    retention) and 0. The export must load back to the same integers, so the plan is empty."""
    configs = {
        f"{ns}.lmax": {"max.compaction.lag.ms": str(LONG_MAX), "retention.bytes": str(LONG_MAX)},
        f"{ns}.forever": {"retention.ms": "-1", "retention.bytes": "-1", "local.retention.ms": "-2"},
        f"{ns}.zero": {"min.compaction.lag.ms": "0", "segment.jitter.ms": "0"},
        # Long.MAX rounded down to whole days, seconds and KiB: a unit that a float would round.
        f"{ns}.big": {
            "delete.retention.ms": str(LONG_MAX - LONG_MAX % 86_400_000),
            "segment.ms": str(LONG_MAX - LONG_MAX % 1000),
            "local.retention.bytes": str(LONG_MAX - LONG_MAX % 1024),
        },
    }
    topics = [NewTopic(name, num_partitions=1, replication_factor=1, config=config) for name, config in configs.items()]
    for future in admin.create_topics(topics, operation_timeout=30).values():
        future.result()
    wait_for(lambda: set(configs) <= set(admin.list_topics(timeout=10).topics), "the hand-built topics")
    result, exported = export_to_file(tmp_path, BROKER, CONNECTION)

    body = yaml.safe_load(result.stdout)["brokers"][BROKER]["topics"]
    assert body[f"{ns}.forever"]["config"]["retention.ms"] == "-1"
    assert body[f"{ns}.big"]["config"]["delete.retention.ms"] == f"{LONG_MAX // 86_400_000}d"
    targets: list[str] = []
    for name in configs:
        targets += ["--target", f"{BROKER}/topic/{name}"]
    assert_targets_cover(exported, targets, lambda a: ns in "/".join(a.name))
    plan = topoctl("plan", "-f", exported, "--detailed-exitcode", *targets)
    assert plan.code == 0, f"the plan of the export is not empty:\n{plan}"
    assert "No changes." in plan.stdout
