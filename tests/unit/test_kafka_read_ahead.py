"""The matching of kafka/ahead.py: a dry run sent ahead serves the read only for the very same
CreateTopics entry, and nothing is sent once the read has started or the driver was closed."""

from __future__ import annotations

from concurrent.futures import Future
from typing import Any

import pytest
from confluent_kafka.admin import NewTopic  # type: ignore[attr-defined]

from topoctl.errors import BrokerError
from topoctl.providers.kafka.ahead import Early, same_new_topic
from topoctl.providers.kafka.driver import KafkaDriver


def _topic(name: str = "a", **changes: Any) -> NewTopic:
    settings: dict[str, Any] = {"num_partitions": 3, "replication_factor": 1, "config": {"retention.ms": "1000"}}
    settings.update(changes)
    return NewTopic(name, **settings)


def test_only_an_identical_create_topics_entry_is_the_same_request() -> None:
    assert same_new_topic(_topic(), _topic())
    assert same_new_topic(_topic(config={}), NewTopic("a", num_partitions=3, replication_factor=1))
    assert not same_new_topic(_topic(), _topic("b"))
    assert not same_new_topic(_topic(), _topic(num_partitions=4))
    assert not same_new_topic(_topic(), _topic(replication_factor=2))
    assert not same_new_topic(_topic(), _topic(config={"retention.ms": "2000"}))
    assert not same_new_topic(_topic(), _topic(config={"retention.ms": "1000", "cleanup.policy": "compact"}))
    assigned = NewTopic("a", replica_assignment=[[1], [1], [1]], config={"retention.ms": "1000"})
    assert not same_new_topic(
        assigned, NewTopic("a", replica_assignment=[[1], [2], [1]], config={"retention.ms": "1000"})
    )


def _sent(early: Early, *topics: NewTopic) -> dict[str, Future[Any]]:
    futures: dict[str, Future[Any]] = {t.topic: Future() for t in topics}
    assert early.send(list(topics), lambda chunk: {t.topic: futures[t.topic] for t in chunk})
    return futures


def test_the_read_takes_the_dry_runs_of_identical_topics_only() -> None:
    early = Early(None, metadata=Future())
    futures = _sent(early, _topic("same"), _topic("other"))
    taken = early.dry_runs([_topic("same"), _topic("other", num_partitions=9), _topic("unsent")])
    assert taken == {"same": futures["same"]}


def test_nothing_is_sent_once_the_read_started_or_the_driver_closed() -> None:
    calls: list[list[NewTopic]] = []
    early = Early(None, metadata=Future())
    early.dry_runs([])
    assert not early.send([_topic()], lambda chunk: calls.append(chunk) or {})  # type: ignore[func-returns-value]
    assert calls == []


def test_the_metadata_read_ahead_asks_its_own_client_after_close() -> None:
    # The read ahead asks the client it made; a driver closed meanwhile must not get a new one
    # (an AdminClient with nothing queued is falsy: `admin or self.admin` made one).
    driver = KafkaDriver("k", {"bootstrap_servers": "127.0.0.1:1", "timeout": "1s"})
    admin = driver.admin
    driver.close()
    with pytest.raises(BrokerError, match="cannot connect"):
        driver._metadata(admin)
    assert driver._admin is None
