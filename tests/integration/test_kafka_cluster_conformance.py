"""The shared conformance suite for Kafka's replication factor, quotas and SCRAM users, on the real
three-broker cluster; and saved plans of them going stale."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from confluent_kafka.admin import AdminClient

from tests.cli import topoctl, write_manifest
from tests.integration.conformance import Conformance
from tests.integration.kafka_cluster_support import ADMIN, SASL, admin, cleanup
from tests.integration.kafka_cluster_support import kafka_cluster as kafka_cluster
from tests.integration.kafka_cluster_support import ns as ns

pytestmark = pytest.mark.integration

CONNECTION = {
    "bootstrap_servers": SASL,
    "sasl": {"mechanism": "SCRAM-SHA-512", "username": ADMIN[0], "password": ADMIN[1]},
}


def broker(**sections: Any) -> dict[str, Any]:
    return {"version": 1, "brokers": {"kc": {"type": "kafka", "connection": CONNECTION, **sections}}}


class TestKafkaClusterConformance(Conformance):
    """Update: a replication factor (by reassignment); delete: a SCRAM user and a quota."""

    stages = ("create", "update", "delete")

    @pytest.fixture(autouse=True)
    def _cluster(self, kafka_cluster: AdminClient) -> None:
        pass

    def manifest(self, ns: str, stage: str) -> dict[str, Any]:
        factor = 1 if stage == "create" else 3
        users: dict[str, Any] = {
            f"{ns}-svc": {"mechanism": "SCRAM-SHA-256", "password": f"svc-{ns}"},
            f"{ns}-old": {"mechanism": "SCRAM-SHA-512", "password": f"old-{ns}"},
        }
        quotas: list[dict[str, Any]] = [
            {"entity": {"user": f"{ns}-svc"}, "producer_byte_rate": 1048576},
            {"entity": {"client-id": f"{ns}-app"}, "request_percentage": 25},
        ]
        if stage == "delete":
            users[f"{ns}-old"] = {"state": "absent"}
            quotas[1] = {"entity": {"client-id": f"{ns}-app"}, "state": "absent"}
        topics = {f"{ns}.orders": {"partitions": 3, "replication_factor": factor}}
        return broker(topics=topics, users=users, quotas=quotas)

    def address(self, ns: str, stage: str) -> str:
        return {"update": f"kc/topic/{ns}.orders", "delete": f"kc/user/{ns}-old"}[stage]

    def cleanup(self, ns: str) -> None:
        cleanup(admin(), ns)


class TestKafkaQuotaConformance(Conformance):
    """Update: a quota value; delete: a SCRAM user (quotas and users have no replace)."""

    stages = ("create", "update", "delete")

    @pytest.fixture(autouse=True)
    def _cluster(self, kafka_cluster: AdminClient) -> None:
        pass

    def manifest(self, ns: str, stage: str) -> dict[str, Any]:
        rate = "1MiB" if stage == "create" else "2MiB"
        quotas = [
            {"entity": {"user": f"{ns}-svc", "client-id": "<default>"}, "consumer_byte_rate": rate},
            {"entity": {"user": f"{ns}-svc"}, "request_percentage": 10},
        ]
        users: dict[str, Any] = {f"{ns}-svc": {"password": f"svc-{ns}", "iterations": 8192}}
        if stage == "delete":
            users[f"{ns}-svc"] = {"state": "absent"}
        return broker(quotas=quotas, users=users)

    def address(self, ns: str, stage: str) -> str:
        return {"update": f"kc/quota/user/{ns}-svc/client-id/<default>", "delete": f"kc/user/{ns}-svc"}[stage]

    def cleanup(self, ns: str) -> None:
        cleanup(admin(), ns)


def test_saved_plans_of_quotas_and_replication_go_stale(
    tmp_path: Path, kafka_cluster: AdminClient, ns: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    topic = f"{ns}.stale"
    first = broker(
        topics={topic: {"partitions": 2, "replication_factor": 1}},
        quotas=[{"entity": {"user": f"{ns}-u"}, "request_percentage": 10}],
    )
    path = write_manifest(tmp_path / "m.yaml", first)
    assert topoctl("apply", "-f", path, "--auto-approve").code == 0
    second = broker(
        topics={topic: {"partitions": 2, "replication_factor": 2}},
        quotas=[{"entity": {"user": f"{ns}-u"}, "request_percentage": 20}],
    )
    path = write_manifest(tmp_path / "m.yaml", second)
    saved = tmp_path / "plan.json"
    made = topoctl("plan", "-f", path, "-o", saved)
    assert made.code == 0, str(made)

    # Behind topoctl's back: the quota changes, then a partition gets a second replica.
    third = broker(quotas=[{"entity": {"user": f"{ns}-u"}, "request_percentage": 30}])
    behind = topoctl("apply", "-f", write_manifest(tmp_path / "behind.yaml", third), "--auto-approve")
    assert behind.code == 0, str(behind)
    result = topoctl("apply", saved, "--auto-approve")
    assert result.code == 1 and "saved plan is stale" in result.stderr, str(result)
    assert f"kc/quota/user/{ns}-u" in result.stderr

    # Only the topic, targeted: its assignment moves behind topoctl's back, and the plan is stale.
    made = topoctl("plan", "-f", path, "-o", saved, "--target", f"kc/topic/{topic}")
    assert made.code == 0, str(made)
    from kafka import TopicPartition
    from kafka.admin import KafkaAdminClient

    extra = KafkaAdminClient(bootstrap_servers=["127.0.0.1:19092"])
    try:
        meta = kafka_cluster.list_topics(topic=topic, timeout=10).topics[topic]
        leader = meta.partitions[0].replicas[0]
        extra.alter_partition_reassignments({TopicPartition(topic, 0): [leader, 1 if leader != 1 else 2]})
    finally:
        extra.close()
    import time

    deadline = time.monotonic() + 30
    while len(kafka_cluster.list_topics(topic=topic, timeout=10).topics[topic].partitions[0].isrs) < 2:
        assert time.monotonic() < deadline, "the hand-made reassignment did not finish"
        time.sleep(0.2)
    result = topoctl("apply", saved, "--auto-approve")
    assert result.code == 1 and "saved plan is stale" in result.stderr, str(result)
    again = topoctl("apply", "-f", path, "--auto-approve")
    assert again.code == 0, str(again)
