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

from tests.cli import topoctl, write_manifest
from tests.integration.export_support import assert_targets_cover
from tests.integration.test_kafka_provider import (  # noqa: F401 - fixtures (cleanup included)
    BOOTSTRAP,
    _all_acls,
    admin,
    ns,
    wait_for,
)

pytestmark = pytest.mark.integration
BROKER = "exp-kafka"


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
    connection = write_manifest(
        tmp_path / "connection.yaml",
        {"version": 1, "brokers": {BROKER: {"type": "kafka", "connection": {"bootstrap_servers": BOOTSTRAP}}}},
    )
    result = topoctl("export", "--broker", BROKER, "-f", connection)
    assert result.code == 0, str(result)
    exported = tmp_path / "exported.yaml"
    exported.write_text(result.stdout, encoding="utf-8")

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
