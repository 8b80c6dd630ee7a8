"""What `validate` refuses offline, the real broker refuses too (and what it accepts, the broker takes).

Each test sends the value straight to the broker, behind topoctl's back, to show the broker's own
answer, then runs `topoctl validate` on a manifest that declares it: exit 1, file:line, no broker
contacted. The unit side is tests/unit/test_refused_at_validate.py.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient, NewTopic

from tests.cli import topoctl
from tests.integration.rabbitmq_support import api, seg
from topoctl.providers.rabbitmq.policies import pattern_problem
from topoctl.units import INT64_MAX

pytestmark = pytest.mark.integration

NATS_URL = "nats://127.0.0.1:4222"
KAFKA = "127.0.0.1:9092"
DAY_NS = 86_400 * 10**9


def validate(tmp_path: Path, text: str) -> tuple[int, str, Path]:
    path = tmp_path / "m.yaml"
    path.write_text(text, encoding="utf-8")
    result = topoctl("validate", "-f", path)
    assert "Traceback" not in result.stderr, result.stderr
    return result.code, result.stderr, path


# -- RabbitMQ --------------------------------------------------------------------------------------

# The broker's verdict is compared with pattern_problem's on each: patterns Python's `re` gets
# wrong either way, and the usual ones. (The PCRE 8.45 / PCRE2 differences that policies.py
# documents are left out: RabbitMQ 3.10 runs on Erlang 25, PCRE 8.45.)
PATTERNS = [
    "^audit\\.",
    ".*",
    "^(orders|billing)\\.v[0-9]+$",
    "[",
    "(",
    ")",
    "a**",
    "[z-a]",
    "\\u0041",
    "\\U00000041",
    "\\N{LATIN SMALL LETTER A}",
    "a{70000}",
    "[[:foo:]]",
    "\\x{100}",
    "(?<=a+)b",
    "(a)\\2",
    "\\z",
    "\\Qa.b\\E",
    "\\p{L}+",
    "(?<name>x)\\k<name>",
    "\\x{41}",
    "a(?i)b",
    "(a)(?1)",
    "\\R",
    "\\h+",
    "\\K",
    "(*UTF8)x",
    "(?|(a)|(b))",
    "a++b",
    "(?>ab)c",
    "é+",
]


@pytest.fixture
def rabbit() -> Iterator[httpx.Client]:
    with api() as client:
        yield client


def broker_takes_pattern(client: httpx.Client, vhost: str, pattern: str) -> bool:
    body = {"pattern": pattern, "definition": {"max-length": 1}, "apply-to": "queues"}
    r = client.put(f"/api/policies/{seg(vhost)}/it-pattern", json=body)
    assert r.status_code in (201, 204, 400), r.text
    if r.status_code == 400:
        assert "regular expression" in r.text or "pattern" in r.text, r.text
    return r.status_code != 400


def test_rabbitmq_policy_patterns_validate_agrees_with_the_broker(rabbit: httpx.Client) -> None:
    vhost = f"it-rx-{uuid.uuid4().hex[:8]}"
    rabbit.put(f"/api/vhosts/{seg(vhost)}").raise_for_status()
    try:
        disagreements = [
            (p, takes)
            for p in PATTERNS
            if (takes := broker_takes_pattern(rabbit, vhost, p)) != (pattern_problem(p) is None)
        ]
    finally:
        rabbit.delete(f"/api/vhosts/{seg(vhost)}")
    assert disagreements == []


def test_a_pattern_the_broker_refuses_fails_validate_with_the_line(tmp_path: Path, rabbit: httpx.Client) -> None:
    vhost = f"it-rx-{uuid.uuid4().hex[:8]}"
    rabbit.put(f"/api/vhosts/{seg(vhost)}").raise_for_status()
    try:
        assert not broker_takes_pattern(rabbit, vhost, "[")
    finally:
        rabbit.delete(f"/api/vhosts/{seg(vhost)}")
    code, err, path = validate(
        tmp_path,
        "version: 1\nbrokers:\n  r:\n    type: rabbitmq\n    vhosts:\n      v:\n        policies:\n"
        "          p:\n            pattern: '['\n            definition: {max-length: 1}\n",
    )
    assert code == 1 and f"{path}:9:" in err and "missing terminating ]" in err, err


def test_permission_regexes_validate_agrees_with_the_broker(rabbit: httpx.Client) -> None:
    user = f"it-rx-{uuid.uuid4().hex[:8]}"
    rabbit.put(f"/api/users/{user}", json={"password": uuid.uuid4().hex, "tags": ""}).raise_for_status()
    try:
        disagreements = []
        for regex in ("[", "\\u0041", "a{70000}", "(?<n>q)\\z", "^orders\\.", ""):
            body = {"configure": regex, "write": ".*", "read": ".*"}
            r = rabbit.put(f"/api/permissions/%2F/{user}", json=body)
            assert r.status_code in (201, 204, 400), r.text
            if (r.status_code != 400) != (pattern_problem(regex) is None):
                disagreements.append((regex, r.status_code))
    finally:
        rabbit.delete(f"/api/users/{user}")
    assert disagreements == []


@pytest.mark.parametrize(
    ("queue_type", "argument", "largest", "refused"),
    [
        ("classic", "x-message-ttl", 315_360_000_000, 315_360_000_001),
        ("classic", "x-expires", 315_360_000_000, 0),
        ("classic", "x-max-priority", 255, 256),
        ("stream", "x-stream-max-segment-size-bytes", 3_000_000_000, 3_000_000_001),
    ],
)
def test_queue_argument_bounds_are_the_brokers(
    tmp_path: Path, rabbit: httpx.Client, queue_type: str, argument: str, largest: int, refused: int
) -> None:
    def declare(value: int) -> int:
        name = f"it-arg-{uuid.uuid4().hex[:8]}"
        body = {"durable": True, "arguments": {"x-queue-type": queue_type, argument: value}}
        r = rabbit.put(f"/api/queues/%2F/{name}", json=body)
        rabbit.delete(f"/api/queues/%2F/{name}")
        return r.status_code

    assert declare(largest) in (201, 204)
    assert declare(refused) == 400
    text = (
        "version: 1\nbrokers:\n  r:\n    type: rabbitmq\n    vhosts:\n      v:\n        queues:\n          q:\n"
        f"            type: {queue_type}\n            arguments:\n              {argument}: {{}}\n"
    )
    code, err, path = validate(tmp_path, text.format(refused))
    assert code == 1 and f"{path}:11:" in err and argument in err, err
    code, err, _ = validate(tmp_path, text.format(largest))
    assert code == 0, err


# -- NATS ------------------------------------------------------------------------------------------


def nats_requests(requests: list[tuple[str, dict[str, Any]]]) -> list[dict[str, Any]]:
    import nats

    async def run() -> list[dict[str, Any]]:
        nc = await nats.connect(NATS_URL)
        try:
            out = []
            for subject, body in requests:
                msg = await nc.request(subject, json.dumps(body).encode(), timeout=10)
                out.append(json.loads(msg.data))
            return out
        finally:
            await nc.close()

    return asyncio.run(run())


@pytest.mark.parametrize(
    ("field", "largest", "refused", "manifest_value"),
    [
        ("max_age", INT64_MAX, 106_752 * DAY_NS, "106752d"),
        ("duplicate_window", INT64_MAX, INT64_MAX + 1, f"{INT64_MAX + 1}ns"),
        ("max_msgs", INT64_MAX, INT64_MAX + 1, str(INT64_MAX + 1)),
        ("max_msg_size", 2**31 - 1, 2**31, "2GiB"),
        ("first_seq", 2**64 - 1, 2**64, str(2**64)),
    ],
)
def test_stream_fields_beyond_their_go_type_get_10025_and_fail_validate(
    tmp_path: Path, field: str, largest: int, refused: int, manifest_value: str
) -> None:
    name = f"IT_RANGE_{uuid.uuid4().hex[:8]}"

    def create(value: int) -> dict[str, Any]:
        body = {"name": name, "subjects": [f"{name}.>"], "storage": "memory", field: value}
        return nats_requests([(f"$JS.API.STREAM.CREATE.{name}", body)])[0]

    answer = create(refused)
    assert answer.get("error", {}).get("err_code") == 10025, answer
    assert "error" not in create(largest)
    nats_requests([(f"$JS.API.STREAM.DELETE.{name}", {})])
    code, err, path = validate(
        tmp_path,
        "version: 1\nbrokers:\n  n:\n    type: nats\n    streams:\n      S:\n        subjects: [s.>]\n"
        f"        {field}: {manifest_value}\n",
    )
    assert code == 1 and f"{path}:8:" in err and field in err, err


def test_a_consumer_ack_wait_beyond_int64_gets_10025_and_fails_validate(tmp_path: Path) -> None:
    stream = f"IT_RANGE_{uuid.uuid4().hex[:8]}"
    config = {"durable_name": "c", "ack_policy": "explicit", "ack_wait": 106_752 * DAY_NS}
    answers = nats_requests(
        [
            (f"$JS.API.STREAM.CREATE.{stream}", {"name": stream, "subjects": [f"{stream}.>"], "storage": "memory"}),
            (f"$JS.API.CONSUMER.CREATE.{stream}.c", {"stream_name": stream, "config": config}),
            (f"$JS.API.STREAM.DELETE.{stream}", {}),
        ]
    )
    assert answers[1].get("error", {}).get("err_code") == 10025, answers[1]
    code, err, path = validate(
        tmp_path,
        "version: 1\nbrokers:\n  n:\n    type: nats\n    streams:\n      S:\n        subjects: [s.>]\n"
        "        consumers:\n          c: {ack_wait: 106752d}\n",
    )
    assert code == 1 and f"{path}:9:" in err and "ack_wait" in err, err


# -- Kafka -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["max.message.bytes", "segment.bytes", "min.insync.replicas", "index.interval.bytes"])
def test_kafka_int_configs_beyond_integer_max_are_refused_by_the_broker_and_validate(tmp_path: Path, key: str) -> None:
    admin = AdminClient({"bootstrap.servers": KAFKA})
    topic = f"it-range-{uuid.uuid4().hex[:8]}"
    future = admin.create_topics([NewTopic(topic, 1, 1, config={key: str(2**31)})], validate_only=True)[topic]
    with pytest.raises(KafkaException, match="Not a number of type INT"):
        future.result(30)
    code, err, path = validate(
        tmp_path,
        "version: 1\nbrokers:\n  k:\n    type: kafka\n    connection: {bootstrap_servers: '127.0.0.1:9092'}\n"
        f"    topics:\n      t:\n        config: {{{key}: {2**31}}}\n",
    )
    assert code == 1 and f"{path}:8:" in err and key in err, err


def test_kafka_partitions_beyond_int32_cannot_even_be_sent(tmp_path: Path) -> None:
    with pytest.raises(OverflowError):  # what topoctl's plan met before: an "unexpected" crash
        NewTopic(f"it-range-{uuid.uuid4().hex[:8]}", 2**31, 1)
    code, err, path = validate(
        tmp_path,
        "version: 1\nbrokers:\n  k:\n    type: kafka\n    connection: {bootstrap_servers: '127.0.0.1:9092'}\n"
        "    topics:\n      t:\n        partitions: 2147483648\n",
    )
    assert code == 1 and f"{path}:8:" in err and "INT32" in err, err


# -- Redis -----------------------------------------------------------------------------------------


def test_redis_refuses_entry_ids_and_counts_beyond_64_bits(tmp_path: Path) -> None:
    r = redis.Redis(host="127.0.0.1", port=6379)
    key = f"it-range-{uuid.uuid4().hex[:8]}"
    try:
        r.xadd(key, {"a": "1"})
        with pytest.raises(redis.ResponseError, match="Invalid stream ID"):
            r.xgroup_create(key, "g1", id="18446744073709551616-0")
        with pytest.raises(redis.ResponseError, match="out of range"):
            r.execute_command("XGROUP", "CREATE", key, "g2", "0", "ENTRIESREAD", str(2**63))
    finally:
        r.delete(key)
    head = "version: 1\nbrokers:\n  d:\n    type: redis\n    streams:\n      s:\n        groups:\n          g:\n"
    code, err, path = validate(tmp_path, head + "            start: 18446744073709551616-0\n")
    assert code == 1 and f"{path}:9:" in err, err
    code, err, path = validate(tmp_path, head + f"            entries_read: {2**63}\n")
    assert code == 1 and f"{path}:9:" in err, err
