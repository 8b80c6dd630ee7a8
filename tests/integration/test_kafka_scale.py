"""5,000 Kafka topics in one apply against the real KRaft broker (issue 10).

A correctness test, not a timing one. The KRaft controller writes one request's metadata records
as one atomic batch and refuses more than 10,000 of them; a topic here is 4 records (the topic,
its partition, two configs), so one CreateTopics of all 5,000 (and its dry run at plan time) was
refused with "Unable to perform excessively large batch operation".
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient  # type: ignore[attr-defined]

from tests.cli import apply_ok, assert_empty, write_manifest

BOOTSTRAP = os.environ.get("KAFKA_BOOTSTRAP", "127.0.0.1:9092")
TOPICS = 5_000
pytestmark = pytest.mark.integration


@pytest.fixture
def prefix() -> Iterator[str]:
    prefix = f"scale{uuid.uuid4().hex[:8]}."
    yield prefix
    admin = AdminClient({"bootstrap.servers": BOOTSTRAP})
    mine = [t for t in admin.list_topics(timeout=30).topics if t.startswith(prefix)]
    for start in range(0, len(mine), 1_000):
        for future in admin.delete_topics(mine[start : start + 1_000], operation_timeout=60).values():
            future.result()


def test_five_thousand_topics_are_created_in_requests_under_the_kraft_cap(tmp_path: Path, prefix: str) -> None:
    topics = {
        f"{prefix}{i}": {
            "partitions": 1,
            "replication_factor": 1,
            "config": {"retention.ms": "1d", "cleanup.policy": "delete"},
        }
        for i in range(TOPICS)
    }
    document = {
        "version": 1,
        "brokers": {"events": {"type": "kafka", "connection": {"bootstrap_servers": BOOTSTRAP}, "topics": topics}},
    }
    path = write_manifest(tmp_path / "estate.yaml", document)

    result = apply_ok(path)
    assert f"Resources: {TOPICS} added" in result.stderr

    live = AdminClient({"bootstrap.servers": BOOTSTRAP}).list_topics(timeout=30).topics
    assert len([t for t in live if t.startswith(prefix)]) == TOPICS
    assert_empty(path)  # every topic's configs are read back as declared
