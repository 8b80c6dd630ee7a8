"""Values a broker would refuse are refused by `validate`, offline, with file:line and exit 1.

What each broker refuses is measured against the real one by
tests/integration/test_refused_at_validate.py; these tests pin the offline side.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.cli import topoctl
from topoctl.providers.rabbitmq.policies import pattern_problem

RABBIT = """\
version: 1
brokers:
  r:
    type: rabbitmq
    connection: {{url: "http://127.0.0.1:15672"}}
    vhosts:
      v:
{body}
"""
NATS = """\
version: 1
brokers:
  n:
    type: nats
    connection: {{servers: ["nats://127.0.0.1:4222"]}}
{body}
"""
KAFKA = """\
version: 1
brokers:
  k:
    type: kafka
    connection: {{bootstrap_servers: "127.0.0.1:9092"}}
{body}
"""
REDIS = """\
version: 1
brokers:
  d:
    type: redis
    connection: {{url: "redis://127.0.0.1:6379"}}
{body}
"""
# The body is the filter policy of a subscription on line 13.
SNS_FILTER = """\
version: 1
brokers:
  c:
    type: aws
    connection: {{region: us-east-1}}
    sqs:
      queues:
        q1: {{}}
    sns:
      topics:
        t1:
          subscriptions:
            - {{protocol: sqs, endpoint: q1, filter_policy: {body}}}
"""


def validate(tmp_path: Path, template: str, body: str) -> tuple[int, str, Path]:
    path = tmp_path / "m.yaml"
    path.write_text(template.format(body=body), encoding="utf-8")
    result = topoctl("validate", "-f", path)
    assert "Traceback" not in result.stderr, result.stderr
    return result.code, result.stderr, path


def refused(tmp_path: Path, template: str, body: str, line: int, *words: str) -> str:
    code, err, path = validate(tmp_path, template, body)
    assert code == 1, err
    assert f"{path}:{line}:" in err, err
    for word in words:
        assert word in err, err
    assert len(err.strip().splitlines()) == 1, err
    return err


# -- RabbitMQ policy patterns: PCRE, not Python's re -------------------------------------------


def policy(pattern: str) -> str:
    quoted = "'" + pattern.replace("'", "''") + "'"  # YAML single quotes: backslashes as they are
    return f"        policies:\n          p:\n            pattern: {quoted}\n            definition: {{max-length: 1}}"


# Python's `re` takes these, RabbitMQ (PCRE) refuses them: the old check let them through.
@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        ("[", "missing terminating ]"),
        ("^orders\\.(", "missing closing parenthesis"),
        ("\\u0041", "does not support"),
        ("a{70000}", "number too big"),
        ("[[:word2:]]", "unknown POSIX class"),
        ("\\U00000041", "does not support"),
        ("\\x{100}", "too large"),
    ],
)
def test_a_pattern_rabbitmq_refuses_is_a_manifest_error(tmp_path: Path, pattern: str, reason: str) -> None:
    err = refused(tmp_path, RABBIT, policy(pattern), 10, "pattern", "RabbitMQ refuses", reason)
    assert "at character" in err


# RabbitMQ takes these; Python's `re` refuses every one, so a check by Python would be wrong.
@pytest.mark.parametrize(
    "pattern", ["\\z", "^a\\Q.b\\E", "\\p{L}+", "(?<name>x)\\k<name>", "\\x{41}", "a(?i)b", "(a)(?1)", "\\R", "\\C"]
)
def test_a_pattern_rabbitmq_takes_is_valid(tmp_path: Path, pattern: str) -> None:
    with pytest.raises(re.error):
        re.compile(pattern)
    assert pattern_problem(pattern) is None
    code, err, _ = validate(tmp_path, RABBIT, policy(pattern))
    assert code == 0, err


@pytest.mark.parametrize(("regex", "valid"), [("[", False), ("\\u0041", False), ("(?<n>q)\\z", True)])
def test_permission_regexes_are_checked_like_policy_patterns(tmp_path: Path, regex: str, valid: bool) -> None:
    body = f"        permissions:\n          bob: {{configure: '{regex}', write: '', read: ''}}"
    if valid:
        code, err, _ = validate(tmp_path, RABBIT, body)
        assert code == 0, err
    else:
        refused(tmp_path, RABBIT, body, 9, "RabbitMQ refuses")


def test_a_pattern_position_counts_characters_not_bytes() -> None:
    assert pattern_problem("é[") == "missing terminating ] for character class (at character 2)"


def test_a_lone_surrogate_is_not_a_crash() -> None:
    assert pattern_problem("\ud800") is None  # sent as-is; the broker decides


# -- RabbitMQ queue arguments -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argument", "value", "bound"),
    [
        ("x-message-ttl", "315360000001", "at most 315360000000"),
        ("x-message-ttl", "3651d", "at most 315360000000"),
        ("x-expires", "0", "at least 1"),
        ("x-stream-max-segment-size-bytes", "3000000001", "at most 3000000000"),
    ],
)
def test_a_queue_argument_out_of_range_is_refused(tmp_path: Path, argument: str, value: str, bound: str) -> None:
    kind = "stream" if "stream" in argument else "classic"
    lines = ["        queues:", "          q:", f"            type: {kind}", "            arguments:"]
    body = "\n".join([*lines, f"              {argument}: {value}"])
    refused(tmp_path, RABBIT, body, 12, argument, bound)


def test_a_queue_argument_at_its_bound_is_valid(tmp_path: Path) -> None:
    body = "        queues:\n          q:\n            arguments: {x-message-ttl: 3650d, x-max-priority: 255}"
    code, err, _ = validate(tmp_path, RABBIT, body)
    assert code == 0, err


# -- NATS: int64 nanoseconds, int32 max_msg_size, uint64 sequences ----------------------------------


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("max_age", "106752d", ("max_age", "int64 of nanoseconds", "9223372800000000000 ns")),
        ("duplicate_window", "9223372036854775808ns", ("duplicate_window", "int64")),
        ("max_msgs", "9223372036854775808", ("max_msgs", "int64")),
        ("max_bytes", "8EiB", ()),
        ("max_msg_size", "2GiB", ("max_msg_size", "int32", "2147483647")),
        ("first_seq", "18446744073709551616", ("first_seq", "uint64")),
    ],
)
def test_a_stream_field_beyond_its_go_type_is_refused(
    tmp_path: Path, field: str, value: str, words: tuple[str]
) -> None:
    body = f"    streams:\n      S:\n        subjects: [s.>]\n        {field}: {value}"
    if field == "max_bytes":  # not a size topoctl reads: still refused, by the size parser
        code, err, _ = validate(tmp_path, NATS, body)
        assert code == 1, err
        return
    refused(tmp_path, NATS, body, 9, *words)


def test_the_largest_int64_duration_is_valid(tmp_path: Path) -> None:
    body = "    streams:\n      S:\n        subjects: [s.>]\n        max_age: 106751d\n        max_msg_size: 2147483647"
    code, err, _ = validate(tmp_path, NATS, body)
    assert code == 0, err


@pytest.mark.parametrize(
    ("field", "value", "line"),
    [
        ("ack_wait: 106752d", "ack_wait", 11),
        ("backoff: [1s, 106752d]", "backoff[1]", 11),
        ("max_deliver: 9223372036854775808", "max_deliver", 11),
        ("opt_start_seq: -1", "opt_start_seq", 11),
        ("rate_limit_bps: 18446744073709551616", "rate_limit_bps", 11),
        ("dead_letter: {max_deliver: 9223372036854775808}", "max_deliver", 11),
    ],
)
def test_a_consumer_field_beyond_its_go_type_is_refused(tmp_path: Path, field: str, value: str, line: int) -> None:
    body = f"    streams:\n      S:\n        subjects: [s.>]\n        consumers:\n          c:\n            {field}"
    refused(tmp_path, NATS, body, line, value, "the server refuses it")


def test_a_kv_ttl_and_consumer_limits_beyond_int64_are_refused(tmp_path: Path) -> None:
    refused(tmp_path, NATS, "    key_value:\n      b:\n        ttl: 106752d", 8, "ttl", "int64")
    body = "    streams:\n      S:\n        subjects: [s.>]\n        consumer_limits: {inactive_threshold: 106752d}"
    refused(tmp_path, NATS, body, 9, "inactive_threshold", "int64")


# -- Kafka: INT configs, INT32 partitions, INT16 replication factor -------------------------------------


@pytest.mark.parametrize(
    ("setting", "words"),
    [
        ("config: {max.message.bytes: 2GiB}", ("max.message.bytes", "Integer.MAX")),
        ("config: {segment.bytes: 2147483648}", ("segment.bytes", "Integer.MAX")),
        ("config: {min.insync.replicas: 2147483648}", ("min.insync.replicas", "Integer.MAX")),
        ("partitions: 2147483648", ("partitions", "INT32")),
        ("replication_factor: 32768", ("replication_factor", "INT16")),
    ],
)
def test_a_kafka_integer_beyond_its_java_type_is_refused(tmp_path: Path, setting: str, words: tuple[str]) -> None:
    refused(tmp_path, KAFKA, f"    topics:\n      t:\n        {setting}", 8, *words)


def test_kafka_integers_at_their_bound_are_valid(tmp_path: Path) -> None:
    config = "{segment.bytes: 2147483647, retention.bytes: 9223372036854775807}"
    body = f"    topics:\n      t:\n        partitions: 6\n        config: {config}"
    code, err, _ = validate(tmp_path, KAFKA, body)
    assert code == 0, err


# -- Redis: uint64 entry ID parts, int64 counts ------------------------------------------------------


def test_redis_entry_ids_and_counts_beyond_64_bits_are_refused(tmp_path: Path) -> None:
    group = "    streams:\n      s:\n        groups:\n          g:\n            {}"
    refused(tmp_path, REDIS, group.format("start: 18446744073709551616-0"), 10, "start must be")
    refused(tmp_path, REDIS, group.format("entries_read: 9223372036854775808"), 10, "signed 64-bit")
    code, err, _ = validate(tmp_path, REDIS, group.format("start: 18446744073709551615-0"))
    assert code == 0, err


# -- NaN and infinity, anywhere ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("template", "body", "line"),
    [
        (RABBIT, "        queues:\n          q: {arguments: {x-custom: .nan}}", 9),
        (RABBIT, "        policies:\n          p: {pattern: x, definition: {max-length: .inf}}", 9),
        (KAFKA, "    topics:\n      t: {config: {min.cleanable.dirty.ratio: -.inf}}", 7),
        (KAFKA, "    topics:\n      t: {config: {message.downconversion.enable: .nan}}", 7),
    ],
)
def test_nan_and_infinity_are_refused_with_the_line(tmp_path: Path, template: str, body: str, line: int) -> None:
    refused(tmp_path, template, body, line, "NaN and infinity")


def test_nan_in_an_aws_filter_policy_is_refused(tmp_path: Path) -> None:
    code, err, path = validate(tmp_path, SNS_FILTER, '{price: [{numeric: [">", .nan]}]}')
    assert code == 1 and f"{path}:13:" in err and "NaN" in err, err


# -- keys that YAML reads as numbers or booleans ---------------------------------------------------


@pytest.mark.parametrize(
    ("template", "body", "line", "key"),
    [
        (RABBIT, "        queues:\n          q: {arguments: {1: a, x-b: c}}", 9, "key 1 is a number"),
        (RABBIT, "        exchanges:\n          e: {arguments: {true: x}}", 9, "key true is a boolean"),
        (KAFKA, "    topics:\n      t: {config: {0: x}}", 7, "key 0 is a number"),
    ],
)
def test_a_key_that_is_not_a_string_is_refused(tmp_path: Path, template: str, body: str, line: int, key: str) -> None:
    refused(tmp_path, template, body, line, key, "quote it")


def test_a_number_key_in_an_sns_filter_policy_is_refused_not_a_crash_at_plan(tmp_path: Path) -> None:
    """Found by the fuzz tests: `{0: [..]}` beside string keys made the plan's fingerprint crash."""
    code, err, path = validate(tmp_path, SNS_FILTER, "{0: [created], type: [paid]}")
    assert code == 1 and f"{path}:13:" in err and "quote it ('0')" in err, err


def test_a_broker_name_yaml_reads_as_a_number_is_refused_not_a_crash(tmp_path: Path) -> None:
    """Found by the fuzz tests: `brokers: {0: ...}` reached the address code, which needs a string."""
    code, err, path = validate(tmp_path, REDIS.replace("  d:\n", "  0:\n"), "    streams:\n      s: {}")
    assert code == 1 and f"{path}:3:" in err and "not of type 'string'" in err, err
