"""`topoctl export` and `topoctl graph` support for Kafka."""

from __future__ import annotations

from pathlib import Path

import yaml

from tests.unit.kafka_support import acl_address, acl_attrs
from topoctl.engine.diff import diff
from topoctl.manifest.loader import load_manifest
from topoctl.model import Address, Resource
from topoctl.providers.kafka.export import export_broker, friendly
from topoctl.providers.kafka.flows import flows
from topoctl.providers.kafka.kinds import KINDS

ACL = acl_attrs(resource_type="cluster", resource_name="kafka-cluster", principal="User:ops", operation="describe")
OBSERVED = [
    Resource(
        Address("k", "topic", ("orders",)),
        {
            "partitions": 6,
            "replication_factor": 1,
            "config": {"retention.ms": "604800000", "segment.bytes": "1073741824", "cleanup.policy": "compact,delete"},
        },
    ),
    Resource(Address("k", "topic", ("bare",)), {"partitions": 1, "replication_factor": 1, "config": {}}),
    Resource(acl_address(ACL), ACL),
]


def test_export_reads_like_a_manifest_and_plans_empty(tmp_path: Path) -> None:
    section = export_broker("k", OBSERVED)
    assert section["topics"]["orders"]["config"] == {
        "retention.ms": "7d",
        "segment.bytes": "1GiB",
        "cleanup.policy": "compact,delete",
    }
    assert section["acls"] == [{"resource_type": "cluster", "principal": "User:ops", "operation": "describe"}]

    document = {
        "version": 1,
        "brokers": {"k": {"type": "kafka", "connection": {"bootstrap_servers": "x:1"}, **section}},
    }
    path = tmp_path / "export.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    desired = load_manifest([str(path)], env={}).resources
    plan = diff(desired, OBSERVED, lambda a: KINDS[a.kind])
    assert plan.empty and not plan.notes


def test_friendly_units_only_when_exact() -> None:
    assert friendly("retention.ms", "-1") == "-1"
    assert friendly("retention.ms", "1500") == "1500ms"
    assert friendly("max.message.bytes", "1000000") == "1000000"
    assert friendly("max.message.bytes", "1048576") == "1MiB"
    assert friendly("min.insync.replicas", "2") == "2"


def test_graph_shows_the_dead_letter_edge(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(
        "version: 1\nbrokers:\n  k:\n    type: kafka\n    connection: {bootstrap_servers: 'x:1'}\n"
        "    topics:\n      orders: {dead_letter: {}}\n      plain: {}\n",
        encoding="utf-8",
    )
    (edge,) = flows(load_manifest([str(path)], env={}).resources)
    assert (str(edge.source), str(edge.target), edge.dead_letter) == ("k/topic/orders", "k/topic/orders.dlq", True)


def test_graph_draws_shared_and_declared_dead_letter_topics(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(
        "version: 1\nbrokers:\n  k:\n    type: kafka\n    connection: {bootstrap_servers: 'x:1'}\n"
        "    topics:\n"
        "      a: {dead_letter: {topic: shared.dlq}}\n"
        "      b: {dead_letter: {topic: shared.dlq}}\n"
        "      c: {dead_letter: {topic: parked}}\n"
        "      parked: {partitions: 1}\n",
        encoding="utf-8",
    )
    edges = {(str(f.source), str(f.target)) for f in flows(load_manifest([str(path)], env={}).resources)}
    assert edges == {
        ("k/topic/a", "k/topic/shared.dlq"),
        ("k/topic/b", "k/topic/shared.dlq"),
        ("k/topic/c", "k/topic/parked"),
    }
