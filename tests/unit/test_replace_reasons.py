"""Golden text of every reason a provider gives for a replace: each field that forces one, on each
kind of each broker type (with its old and new value, never a truncated dictionary), and each
special case a kind words itself, with the way around the replace where the broker offers one
(RabbitMQ: the policy key that sets the same thing; Kafka: partitions only grow).

The table is `tests/unit/golden/replace-reasons.txt`; `UPDATE_GOLDEN=1` rewrites it after an
intended change (then read the diff)."""

from __future__ import annotations

import os
from pathlib import Path

from topoctl.model import JSON, FieldChange
from topoctl.providers import BROKER_TYPES, provider

GOLDEN = Path(__file__).parent / "golden" / "replace-reasons.txt"

# Values for fields whose type matters to the wording; any other field gets "old" -> "new".
SAMPLES: dict[str, tuple[JSON, JSON]] = {
    "type": ("classic", "quorum"),
    "durable": (True, False),
    "auto_delete": (False, True),
    "internal": (False, True),
    "arguments": ({"x-max-length": 100000}, {"x-max-length": 200000}),
    "partitions": (6, 3),
    "replication_factor": (3, 1),
    "fifo": (False, True),
    "storage": ("file", "memory"),
    "retention": ("limits", "workqueue"),
    "mirror": ({"name": "A"}, {"name": "B"}),
    "deliver_subject": (None, "deliver.x"),
    "max_deliver": (5, 10),
}

# The special cases: (broker type, kind, field, before, after).
SPECIAL: list[tuple[str, str, str, JSON, JSON]] = [
    # RabbitMQ: every queue argument a policy can set says so; one a policy cannot set does not.
    ("rabbitmq", "queue", "arguments", {"x-max-length": 1000}, {"x-max-length": 5000}),
    ("rabbitmq", "queue", "arguments", {"x-message-ttl": 60000}, {"x-message-ttl": 30000}),
    ("rabbitmq", "queue", "arguments", {}, {"x-dead-letter-exchange": "dlx", "x-delivery-limit": 5}),
    ("rabbitmq", "queue", "arguments", {"x-max-priority": 5}, {"x-max-priority": 10}),
    ("rabbitmq", "queue", "arguments", {"x-single-active-consumer": True}, {}),
    ("rabbitmq", "queue", "arguments", {"x-overflow": "drop-head"}, {"x-overflow": "reject-publish"}),
    ("rabbitmq", "queue", "arguments", {"x-max-age": "7D"}, {"x-max-age": "30D"}),
    ("rabbitmq", "exchange", "arguments", {}, {"alternate-exchange": "unrouted"}),
    ("rabbitmq", "queue", "type", "classic", "quorum"),
    ("rabbitmq", "binding", "routing_key", "order.*", "order.#"),
    # Kafka: a partition decrease; a schema type.
    ("kafka", "topic", "partitions", 6, 3),
    ("kafka", "subject", "schema_type", "AVRO", "PROTOBUF"),
    # NATS: one-way flags, workqueue retention, mirrors, pull <-> push.
    ("nats", "stream", "sealed", True, False),
    ("nats", "stream", "retention", "limits", "workqueue"),
    ("nats", "stream", "mirror", None, {"name": "A"}),
    ("nats", "stream", "mirror", {"name": "A"}, {"name": "B"}),
    ("nats", "consumer", "deliver_subject", None, "deliver.x"),
    ("nats", "consumer", "deliver_subject", "deliver.x", None),
]


def rows() -> list[str]:
    out = []
    for broker_type in BROKER_TYPES:
        kinds = provider(broker_type).kinds
        for kind_name, spec in sorted(kinds.items()):
            for field in sorted(spec.immutable):
                before, after = SAMPLES.get(field, ("old", "new"))
                change = FieldChange(field, before, after, forces_replacement=True)
                out.append(f"{broker_type}/{kind_name} {field}: {spec.replace_reason(change)}")
    out.append("")
    out.append("# special cases")
    for broker_type, kind_name, field, before, after in SPECIAL:
        spec = provider(broker_type).kinds[kind_name]
        change = FieldChange(field, before, after, forces_replacement=True)
        out.append(f"{broker_type}/{kind_name} {field}: {spec.replace_reason(change)}")
    return out


def test_every_replace_reason_matches_the_golden_table() -> None:
    text = "\n".join(rows()) + "\n"
    if os.environ.get("UPDATE_GOLDEN"):
        GOLDEN.write_text(text, encoding="utf-8")
    assert text == GOLDEN.read_text(encoding="utf-8")


def test_no_reason_is_a_truncated_dictionary_and_each_names_both_values() -> None:
    for row in rows():
        if not row or row.startswith("#"):
            continue
        assert "..." not in row and "{'" not in row, row
    text = "\n".join(rows())
    assert (
        "rabbitmq/queue arguments: arguments.x-max-length cannot change in place (100000 -> 200000): "
        "set max-length with a policy instead of the queue argument (a policy changes in place)"
    ) in text
    assert "kafka/topic partitions: partitions cannot decrease (6 -> 3): the topic is deleted and recreated; " in text
    assert "Kafka partitions only grow, so keep 6 or more to change the topic in place" in text
    # An argument no policy can set gets no such hint.
    assert "rabbitmq/queue arguments: arguments.x-max-priority cannot change in place (5 -> 10)\n" in text + "\n"
