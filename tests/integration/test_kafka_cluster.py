"""Replication factor changes by partition reassignment, against the real three-broker cluster:
data produced before, consumed after, nothing lost; an interrupted reassignment shown by the next
plan and finished by the next apply."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka.admin import AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource, ResourceType
from kafka import TopicPartition
from kafka.admin import KafkaAdminClient

from tests.cli import apply_ok, assert_empty, change_of, planned, topoctl, write_manifest
from tests.cli import plan_json as plan
from tests.integration.kafka_cluster_support import PLAIN, consume_all, partitions, produce
from tests.integration.kafka_cluster_support import kafka_cluster as kafka_cluster
from tests.integration.kafka_cluster_support import ns as ns

pytestmark = pytest.mark.integration


def manifest(topics: dict[str, Any]) -> dict[str, Any]:
    broker = {"type": "kafka", "connection": {"bootstrap_servers": PLAIN}, "topics": topics}
    return {"version": 1, "brokers": {"cluster": broker}}


def test_replication_factor_up_and_down_keeps_every_message(
    tmp_path: Path, kafka_cluster: AdminClient, ns: str
) -> None:
    topic = f"{ns}.orders"
    path = write_manifest(tmp_path / "m.yaml", manifest({topic: {"partitions": 6, "replication_factor": 1}}))
    apply_ok(path)
    sent = produce(topic, 3000, "before")

    path = write_manifest(tmp_path / "m.yaml", manifest({topic: {"partitions": 6, "replication_factor": 3}}))
    planned_up = plan(path)
    change = change_of(planned_up, f"cluster/topic/{topic}")
    assert change["action"] == "update" and not change["destructive"]
    fields = {f["field"]: f for f in change["fields"]}
    assert fields["replication_factor"]["before"] == 1 and fields["replication_factor"]["after"] == 3
    target = fields["assignment"]["after"]
    assert sorted(target) == [str(p) for p in range(6)]
    for p, replicas in target.items():
        assert len(set(replicas)) == 3 and replicas[0] == fields["assignment"]["before"][p][0]
    text = topoctl("plan", "-f", path)
    assert "assignment.0" in text.stdout and "must be replaced" not in text.stdout

    applied = apply_ok(path)
    assert f"cluster/topic/{topic}: updated" in applied.stderr
    live = partitions(kafka_cluster, topic)
    for p, replicas in target.items():
        assert live[int(p)][0] == replicas, live
        assert sorted(live[int(p)][1]) == sorted(replicas), "a new replica is not in sync"
    assert_empty(path)
    sent |= produce(topic, 500, "between")

    path = write_manifest(tmp_path / "m.yaml", manifest({topic: {"partitions": 6, "replication_factor": 2}}))
    down = change_of(plan(path), f"cluster/topic/{topic}")
    assert down["action"] == "update"
    apply_ok(path)
    assert all(len(replicas) == 2 for replicas, _ in partitions(kafka_cluster, topic).values())
    assert_empty(path)

    received = consume_all(topic, len(sent))
    assert len(received) == len(sent) and set(received) == sent  # nothing lost, nothing doubled


def test_more_replicas_than_brokers_is_a_plan_error(tmp_path: Path, kafka_cluster: AdminClient, ns: str) -> None:
    topic = f"{ns}.small"
    path = write_manifest(tmp_path / "m.yaml", manifest({topic: {"partitions": 1, "replication_factor": 1}}))
    apply_ok(path)
    path = write_manifest(tmp_path / "m.yaml", manifest({topic: {"partitions": 1, "replication_factor": 4}}))
    result = topoctl("plan", "-f", path)
    assert result.code == 1 and "more than the 3 broker(s)" in result.stderr, str(result)


def _throttle(client: AdminClient, topic: str, on: bool) -> None:
    """Replication throttled to ~1 KB/s (broker rates and the topic's throttled replicas), so a
    reassignment stays in progress; or the throttle removed."""
    op = AlterConfigOpType.SET if on else AlterConfigOpType.DELETE
    brokers = [
        ConfigResource(
            ResourceType.BROKER,
            str(b),
            incremental_configs=[
                ConfigEntry(k, "1000" if on else None, incremental_operation=op)
                for k in ("leader.replication.throttled.rate", "follower.replication.throttled.rate")
            ],
        )
        for b in (1, 2, 3)
    ]
    topic_resource = ConfigResource(
        ResourceType.TOPIC,
        topic,
        incremental_configs=[
            ConfigEntry(k, "*" if on else None, incremental_operation=op)
            for k in ("leader.replication.throttled.replicas", "follower.replication.throttled.replicas")
        ],
    )
    for resource in [*brokers, topic_resource]:  # one BROKER resource per request
        for future in client.incremental_alter_configs([resource]).values():
            future.result()
    if on:  # dynamic broker configs reach each broker through the metadata log: wait until they all have it
        deadline = time.monotonic() + 30
        while True:
            rates = [  # one BROKER resource per request here too
                f.result().get("leader.replication.throttled.rate")
                for b in (1, 2, 3)
                for f in client.describe_configs([ConfigResource(ResourceType.BROKER, str(b))]).values()
            ]
            if all(r is not None and r.value == "1000" for r in rates):
                return
            assert time.monotonic() < deadline, "the replication throttle did not reach every broker"
            time.sleep(0.2)


def test_an_interrupted_reassignment_shows_in_the_plan_and_apply_finishes_it(
    tmp_path: Path, kafka_cluster: AdminClient, ns: str
) -> None:
    topic = f"{ns}.slow"
    path = write_manifest(tmp_path / "m.yaml", manifest({topic: {"partitions": 2, "replication_factor": 1}}))
    apply_ok(path)
    sent = produce(topic, 400, "slow", size=1000)  # ~400 KB: minutes at 1 KB/s
    start = partitions(kafka_cluster, topic)
    extra = KafkaAdminClient(bootstrap_servers=PLAIN.split(","))
    try:
        _throttle(kafka_cluster, topic, on=True)
        # Started by hand (as an interrupted apply leaves it): partition 0 to three replicas.
        leader = start[0][0][0]
        target = [leader, *sorted({1, 2, 3} - {leader})]
        extra.alter_partition_reassignments({TopicPartition(topic, 0): target})
        assert extra.list_partition_reassignments(), "the reassignment finished before it could be seen"

        path = write_manifest(tmp_path / "m.yaml", manifest({topic: {"partitions": 2, "replication_factor": 3}}))
        shown = plan(path)
        change = change_of(shown, f"cluster/topic/{topic}")
        assert change["action"] == "update"
        fields = {f["field"]: f for f in change["fields"]}
        assert fields["replication_factor"]["before"] == 1  # what it has for good
        assert fields["assignment"]["after"]["0"] == target  # the pending target is kept
        assert any("in progress" in n for n in change["notes"]), change["notes"]
    finally:
        _throttle(kafka_cluster, topic, on=False)
        extra.close()
    apply_ok(path)
    assert all(len(set(isr)) == 3 for _, isr in partitions(kafka_cluster, topic).values())
    assert_empty(path)
    assert set(consume_all(topic, len(sent))) == sent


def test_rf_change_of_50_partitions_with_data_is_timed(tmp_path: Path, kafka_cluster: AdminClient, ns: str) -> None:
    """The closing number of issue 13: 50 partitions with data, 1 -> 3 replicas (printed with -s)."""
    topic = f"{ns}.fifty"
    path = write_manifest(tmp_path / "m.yaml", manifest({topic: {"partitions": 50, "replication_factor": 1}}))
    apply_ok(path)
    sent = produce(topic, 20_000, "fifty", size=500)  # ~10 MB over 50 partitions
    path = write_manifest(tmp_path / "m.yaml", manifest({topic: {"partitions": 50, "replication_factor": 3}}))
    assert planned(plan(path)) == {f"cluster/topic/{topic}": "update"}
    began = time.monotonic()
    apply_ok(path)
    took = time.monotonic() - began
    print(f"\nRF 1 -> 3 of 50 partitions with {len(sent)} messages (~10 MB): apply took {took:.1f}s")
    assert all(len(set(isr)) == 3 for _, isr in partitions(kafka_cluster, topic).values())
    assert_empty(path)
    assert len(consume_all(topic, len(sent))) == len(sent)
