"""What a Kafka plan reads while its manifest is still being checked and compiled (see `engine.ahead`).

`KafkaDriver.read_ahead` sends, in the background, the metadata request (the connection check),
whose reply (or error) the next read takes as its own. When the read is still far off, it also
sends the dry run (CreateTopics with validate_only) of the declared topics that the metadata does
not show, built from the broker's section compiled as parsed and cut into the requests
`_validate_creates` would send. The read takes a dry run only for a topic whose NewTopic is the
very one it would send, and sends the others itself: a wrong guess costs broker time, never a
different plan or error. A section that does not pass the schema check gets no dry run.

Why "far off": the manifest reaches the read ahead once parsed, and then the loader needs only
its schema check and compile (0.05 s for 2,500 topics) before the read. Compiling the section a
second time in a thread of the same process slows that down as much as it saves (one
interpreter), so the guess is made only when the read has not come by the time the loader would
have compiled the section: with other brokers in the manifest (4 x 2,500 objects: the Kafka read
of 2,500 new topics ends 0.13-0.17 s sooner). With Kafka alone the read comes first and sends the
dry run itself, and only the metadata was read ahead (0.05 s sooner).

The configs of the live topics (what a no-change plan waits on) are not read ahead: turning the
replies into Python objects is most of their time (1.1 s of CPU for 2,500 topics), which a thread
of the same process cannot overlap with the loader's work.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Container, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka.admin import NewTopic  # type: ignore[attr-defined]

# The schema's fast pass-or-fail decision, without the wording of a failure (the loader's job).
from topoctl.manifest.schema import _passes
from topoctl.manifest.source import Context, SourceMap
from topoctl.providers.base import Compiled
from topoctl.providers.kafka.compile import compile_broker

# How long the background waits for the read before it compiles its guess (see `worth_guessing`):
# about twice what the loader takes to compile a section of that many topics.
GUESS_DELAY_S = 0.05
GUESS_DELAY_PER_TOPIC_S = 20e-6


@dataclass
class Early:
    """What a read ahead started, for the next read only."""

    # The first metadata request (`_metadata`): its reply, or its error, is the next read's.
    metadata: Future[Any]
    # The dry runs sent, by topic: the NewTopic as sent and its future.
    sent: dict[str, tuple[NewTopic, Future[Any]]] = field(default_factory=dict)
    # Set when the read starts, or `close` drops what was read ahead: the background sends no
    # more. The read never waits for the guess: it sends the rest itself.
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

    def worth_guessing(self, section: Mapping[str, Any]) -> bool:
        """Whether to compile the section again to guess the dry run, after waiting about as long
        as the loader takes to compile it. That second compile slows the loader's own (one
        interpreter), so it pays only when the read comes long after, as when the manifest has
        other brokers to compile too; with this broker alone the read comes first and sends the
        dry run itself (see the module's docstring)."""
        topics = section.get("topics")
        count = len(topics) if isinstance(topics, Mapping) else 0
        return not self.over.wait(GUESS_DELAY_S + GUESS_DELAY_PER_TOPIC_S * count)


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


def valid(broker: str, section: Mapping[str, Any]) -> bool:
    """Whether the section passes the schema's fast check (which also refuses what JSON cannot
    hold: NaN, keys that are not strings). A section the loader refuses gets no dry run, so its
    manifest sends no CreateTopics of any kind; the loader words the error. (A manifest refused
    for a part other than this section closes the driver, which stops the dry run, but a request
    may have gone: validate_only changes nothing.)"""
    try:
        return _passes({"version": 1, "brokers": {broker: section}})
    except Exception:  # a guess never fails anything
        return False


def may_create(section: Mapping[str, Any], live: Container[str]) -> bool:
    """Whether the section may declare a topic that the metadata does not show: one named under
    `topics:` that is not live, or a `dead_letter:` (which makes topics of its own). Else there is
    nothing to dry-run (a no-change plan), and nothing to compile."""
    topics = section.get("topics")
    return isinstance(topics, Mapping) and any(
        str(name) not in live or (isinstance(spec, Mapping) and spec.get("dead_letter") is not None)
        for name, spec in topics.items()
    )


def guessed(broker: str, section: Mapping[str, Any]) -> Compiled | None:
    """The section compiled as parsed, or None when it does not compile (the loader words why)."""
    try:
        return compile_broker(broker, section, Context(SourceMap()))
    except Exception:  # any value may be wrong: a guess never fails anything
        return None
