"""The three-broker Kafka cluster (`dev/brokers up kafka-cluster`) for the tests that need one:
started on first use by a session fixture (CI's `make test` starts only the default brokers), and
helpers to look at it behind topoctl's back."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from confluent_kafka import Consumer, KafkaException, Producer
from confluent_kafka.admin import AdminClient, UserScramCredentialDeletion

from tests.integration.servers import dev_brokers_up
from tests.integration.test_kafka_provider import cleanup as cleanup_topics

PLAIN = "127.0.0.1:19092,127.0.0.1:19093,127.0.0.1:19094"
SASL = "127.0.0.1:19192,127.0.0.1:19193,127.0.0.1:19194"
ADMIN = ("admin", "admin-secret")  # the cluster's SCRAM super user (dev/brokers)


@pytest.fixture(scope="session")
def kafka_cluster() -> AdminClient:
    dev_brokers_up("kafka-cluster")
    return admin()


def admin() -> AdminClient:
    return AdminClient({"bootstrap.servers": PLAIN, "log_level": 0})


@pytest.fixture
def ns(kafka_cluster: AdminClient) -> Iterator[str]:
    """A unique prefix for topic and user names; what carries it is removed afterwards."""
    name = f"kc{uuid.uuid4().hex[:8]}"
    yield name
    cleanup(kafka_cluster, name)


def cleanup(client: AdminClient, ns: str, bootstrap: str = PLAIN, topics: bool = True) -> None:
    """Topics, SCRAM users and quota entities whose names start with `ns`."""
    if topics:
        cleanup_topics(client, ns)
    users = client.describe_user_scram_credentials().result()
    deletions = [
        UserScramCredentialDeletion(name, info.mechanism)
        for name, description in users.items()
        if name.startswith(ns)
        for info in description.scram_credential_infos
    ]
    if deletions:
        for future in client.alter_user_scram_credentials(deletions).values():
            future.result()
    from kafka.admin import KafkaAdminClient
    from kafka.protocol.admin import AlterClientQuotasRequest, DescribeClientQuotasRequest

    extra = KafkaAdminClient(bootstrap_servers=bootstrap.split(","), client_id="topoctl-tests")
    try:

        async def describe() -> Any:
            return await extra._manager.send(DescribeClientQuotasRequest(components=[], strict=False))

        entries = extra._manager.run(describe).entries
        entry = AlterClientQuotasRequest.EntryData
        mine = [
            entry(
                entity=[entry.EntityData(entity_type=e.entity_type, entity_name=e.entity_name) for e in item.entity],
                ops=[entry.OpData(key=v.key, value=0.0, remove=True) for v in item.values],
            )
            for item in entries
            if any((e.entity_name or "").startswith(ns) for e in item.entity)
        ]
        if mine:

            async def alter() -> Any:
                return await extra._manager.send(AlterClientQuotasRequest(entries=mine, validate_only=False))

            extra._manager.run(alter)
    finally:
        extra.close()


def partitions(client: AdminClient, topic: str) -> dict[int, tuple[list[int], list[int]]]:
    """partition -> (replicas, isr) from the metadata."""
    meta = client.list_topics(topic=topic, timeout=10).topics[topic]
    return {p: (list(pm.replicas), list(pm.isrs)) for p, pm in meta.partitions.items()}


def produce(topic: str, count: int, tag: str, size: int = 100) -> set[str]:
    """`count` messages with keys (so they spread over partitions), every one acknowledged by all
    in-sync replicas; their values."""
    producer = Producer({"bootstrap.servers": PLAIN, "acks": "all", "linger.ms": 5, "log_level": 0})
    values = {f"{tag}-{i}-" + "x" * size for i in range(count)}
    failed: list[Any] = []
    for value in sorted(values):
        producer.produce(topic, value=value.encode(), key=value[:12].encode(), on_delivery=_collect(failed))
        producer.poll(0)
    assert producer.flush(60) == 0, "messages still waiting after 60s"
    assert not failed, failed[:3]
    return values


def _collect(failed: list[Any]) -> Any:
    def delivered(err: Any, msg: Any) -> None:
        if err is not None:
            failed.append(err)

    return delivered


def consume_all(topic: str, expected: int, timeout_s: float = 60) -> list[str]:
    """Every message of `topic` from the beginning, read by a fresh group."""
    consumer = Consumer(
        {
            "bootstrap.servers": PLAIN,
            "group.id": f"topoctl-test-{uuid.uuid4().hex[:8]}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "log_level": 0,
        }
    )
    consumer.subscribe([topic])
    out: list[str] = []
    deadline = time.monotonic() + timeout_s
    try:
        while len(out) < expected and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is None:
                continue
            if msg.error():
                raise KafkaException(msg.error())
            out.append(msg.value().decode())
        # Anything beyond what was expected is a bug too (duplicates): read a little longer.
        end = time.monotonic() + 1.0
        while time.monotonic() < end:
            msg = consumer.poll(0.2)
            if msg is not None and not msg.error():
                out.append(msg.value().decode())
    finally:
        consumer.close()
    return out
