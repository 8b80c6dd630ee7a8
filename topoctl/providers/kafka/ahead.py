"""What a Kafka plan reads while its manifest is still being checked and compiled (see `engine.ahead`).

`KafkaDriver.read_ahead` sends, in the background, the metadata request (the connection check),
whose reply (or error) the next read takes as its own. Once the broker's section is compiled
(`read_ahead_compiled`), the dry run (CreateTopics with validate_only) of the declared topics that
the metadata does not show goes out too, cut into the requests `_validate_creates` would send,
unless the read has started by then. The read takes a dry run only for a topic whose NewTopic is
the very one it would send, and sends the others itself: a wrong guess costs broker time, never a
different plan or error. A section is compiled only once it passed the schema check, so a manifest
refused there sends no CreateTopics of any kind.

With Kafka alone in the manifest the read comes right after the compile and sends most of the dry
run itself (only the metadata is read ahead: 0.05 s sooner for 2,500 new topics); with other
brokers still to compile, the dry run is out before the read (4 x 2,500 objects: the Kafka read of
2,500 new topics ends 0.13-0.17 s sooner).

The configs of the live topics (what a no-change plan waits on) are not read ahead: turning the
replies into Python objects is most of their time (1.1 s of CPU for 2,500 topics), which a thread
of the same process cannot overlap with the loader's work.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]


@dataclass
class Early:
    """What a read ahead started, for the next read only."""

    # The client the read ahead made (a background thread never makes one after `close`).
    admin: AdminClient
    # The first metadata request (`_metadata`): its reply, or its error, is the next read's.
    metadata: Future[Any]
    # The dry runs sent, by topic: the NewTopic as sent and its future.
    sent: dict[str, tuple[NewTopic, Future[Any]]] = field(default_factory=dict)
    # Set when the read starts, or `close` drops what was read ahead: the background sends no
    # more. The read never waits for the dry run sent ahead: it sends the rest itself.
    over: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def dry_runs(self, new: Sequence[NewTopic]) -> dict[str, Future[Any]]:
        """The futures of the dry runs sent ahead for exactly these NewTopics (the others are not)."""
        self.over.set()
        with self.lock:  # a request being sent is in `sent` once it is out
            sent = self.sent
        out = {}
        for topic in new:
            early = sent.get(topic.topic)
            if early is not None and same_new_topic(early[0], topic):
                out[topic.topic] = early[1]
        return out

    def send(self, chunk: Sequence[NewTopic], call: Callable[[list[NewTopic]], Mapping[str, Future[Any]]]) -> bool:
        """`call(chunk)`, one request of the dry run, unless it is `over`; whether it was sent."""
        with self.lock:
            if self.over.is_set():
                return False
            futures = call(list(chunk))
            self.sent.update({topic.topic: (topic, futures[topic.topic]) for topic in chunk})
            return True


def same_new_topic(a: NewTopic, b: NewTopic) -> bool:
    """Whether two CreateTopics entries are the same request: name, partitions, replication
    factor, replica assignment and configs."""
    return bool(
        a.topic == b.topic
        and a.num_partitions == b.num_partitions
        and a.replication_factor == b.replication_factor
        and a.replica_assignment == b.replica_assignment
        and dict(a.config or {}) == dict(b.config or {})
    )
