"""Kafka config values at the ends of their range: exact both ways, refused offline beyond a long."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from tests.cli import topoctl
from topoctl.providers.kafka.export import friendly
from topoctl.providers.kafka.values import canonical_value
from topoctl.units import INT64_MAX, INT64_MIN

LONG_MAX = INT64_MAX


@pytest.mark.parametrize(
    ("key", "value", "stored"),
    [
        ("max.compaction.lag.ms", "9223372036854775807ms", str(LONG_MAX)),
        ("max.compaction.lag.ms", "9223372036854775807", str(LONG_MAX)),
        ("max.compaction.lag.ms", LONG_MAX, str(LONG_MAX)),
        ("delete.retention.ms", f"{LONG_MAX // 86_400_000}d", str(LONG_MAX - LONG_MAX % 86_400_000)),
        ("retention.ms", "-1", "-1"),
        ("retention.ms", -1, "-1"),
        ("retention.ms", "0", "0"),
        ("retention.ms", "0ms", "0"),
        ("retention.ms", 1.0, "1"),
        ("retention.ms", "1.5h", "5400000"),
        ("retention.bytes", "-1", "-1"),
        ("local.retention.bytes", "-2", "-2"),
        ("retention.bytes", str(LONG_MAX), str(LONG_MAX)),
        ("retention.bytes", "0.5GiB", str(2**29)),
        ("min.insync.replicas", "02", "2"),
    ],
)
def test_extreme_values_are_stored_exactly(key: str, value: object, stored: str) -> None:
    assert canonical_value(key, value) == stored


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("max.compaction.lag.ms", "9223372036854775808ms", "beyond what Kafka can store"),
        ("max.compaction.lag.ms", LONG_MAX + 1, "beyond what Kafka can store"),
        ("retention.ms", "106751991167301d", "beyond what Kafka can store"),
        ("retention.ms", str(INT64_MIN - 1), "beyond what Kafka can store"),
        ("retention.bytes", "8388608TiB", "beyond what Kafka can store"),
        ("retention.ms", 1e19, "too large to be exact"),
        ("retention.ms", "1.5ms", "not a whole number of ms"),
        ("retention.ms", 1.5, "whole number"),
        ("retention.bytes", "0.1KiB", "not a whole number of bytes"),
    ],
)
def test_values_a_long_cannot_hold_or_that_are_not_whole_are_refused(key: str, value: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        canonical_value(key, value)


def test_validate_refuses_a_value_beyond_long_max_with_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(
        "version: 1\nbrokers:\n  k:\n    type: kafka\n    connection: {bootstrap_servers: 127.0.0.1:9092}\n"
        "    topics:\n      t:\n        config:\n          max.compaction.lag.ms: 9223372036854775808ms\n",
        encoding="utf-8",
    )
    result = topoctl("validate", "-f", path)
    assert result.code == 1, str(result)
    assert f"{path}:9" in result.stderr and "beyond what Kafka can store" in result.stderr
    assert "Traceback" not in result.stderr


# segment.bytes is a Java INT: the broker never holds one beyond 2**31 - 1 (refused offline).
KEYS = st.sampled_from(["retention.ms", "max.compaction.lag.ms", "retention.bytes", "local.retention.bytes"])
LONGS = st.one_of(
    st.integers(min_value=INT64_MIN, max_value=INT64_MAX),
    st.sampled_from([1000, 60_000, 86_400_000, 1024, 1024**3, 1024**4]).flatmap(
        lambda u: st.integers(min_value=0, max_value=INT64_MAX // u).map(lambda k: k * u)
    ),
)


@settings(database=None, max_examples=300)
@given(KEYS, LONGS)
@example("max.compaction.lag.ms", LONG_MAX)
@example("retention.bytes", LONG_MAX - LONG_MAX % 1024)
@example("segment.ms", LONG_MAX - LONG_MAX % 1000)
@example("retention.ms", -1)
@example("retention.ms", 0)
def test_an_exported_value_loads_back_to_what_the_broker_holds(key: str, number: int) -> None:
    """export writes `friendly(key, live)`; the manifest compiler reads it with canonical_value."""
    live = str(number)
    assert canonical_value(key, friendly(key, live)) == live
