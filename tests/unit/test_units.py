"""Durations and sizes: parsing what manifests write, and writing what people read."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from topoctl.render.text import shown
from topoctl.units import INT64_MAX, INT64_MIN, format_duration_ms, format_size, parse_duration, parse_size, readable

LONG_MAX = INT64_MAX  # Java's Long.MAX_VALUE, Kafka's "never" and NATS' largest duration in ns
DAY_MS = 86_400_000


@pytest.mark.parametrize(
    ("text", "unit", "expected"),
    [("7d", "ms", 604_800_000), ("1h30m", "s", 5400), ("500ms", "ns", 500_000_000), (5, "ms", 5), ("90", "s", 90)],
)
def test_parse_duration(text: object, unit: str, expected: int) -> None:
    assert parse_duration(text, unit) == expected


@pytest.mark.parametrize("bad", ["7 days", "1.5ms", True, "", "h"])
def test_bad_durations_say_how_to_write_one(bad: object) -> None:
    with pytest.raises(ValueError):
        parse_duration(bad, "s")


def test_parse_size() -> None:
    assert parse_size("1GiB") == 1 << 30
    assert parse_size("512KiB") == 512 * 1024
    assert parse_size("10MB") == 10_000_000
    assert parse_size(42) == 42
    with pytest.raises(ValueError):
        parse_size("lots")


@pytest.mark.parametrize(
    ("value", "unit", "shown"),
    [
        (604_800_000, "ms", "7d"),
        (86_400_000_000_000, "ns", "1d"),
        (90, "s", "90s"),
        (1500, "ms", "1500ms"),
        (52_428_800, "bytes", "50MiB"),
        (1000, "bytes", 1000),
        (-1, "ms", -1),
        (0, "ns", 0),
        (1, "ns", 1),
        ([1_000_000_000, 2_000_000_000], "ns", ["1s", "2s"]),
        ("already", "ms", "already"),
    ],
)
def test_readable(value: object, unit: str, shown: object) -> None:
    assert readable(value, unit) == shown


# -- exact at the extremes every broker accepts ----------------------------------------------------


@pytest.mark.parametrize(
    ("text", "unit", "expected"),
    [
        # Kafka: Long.MAX (max.compaction.lag.ms' default), -1 (infinite retention), 0.
        ("9223372036854775807ms", "ms", LONG_MAX),
        ("9223372036854775807", "ms", LONG_MAX),
        (LONG_MAX, "ms", LONG_MAX),
        (f"{LONG_MAX // DAY_MS}d", "ms", LONG_MAX - LONG_MAX % DAY_MS),
        (f"{LONG_MAX // 1000}s", "ms", LONG_MAX - LONG_MAX % 1000),
        ("-1", "ms", -1),
        (-1, "ms", -1),
        ("0", "ms", 0),
        ("0ms", "ms", 0),
        ("0d", "ms", 0),
        # NATS: int64 nanoseconds, to the last one.
        ("9223372036854775807ns", "ns", LONG_MAX),
        ("106751d23h47m16s854775807ns", "ns", LONG_MAX),
        ("106751d23h47m16.854775807s", "ns", LONG_MAX),
        ("106751d", "ns", 106_751 * 86_400 * 10**9),
        ("9223372036854775us", "ns", 9_223_372_036_854_775_000),
        ("1.5h", "ns", 5400 * 10**9),
        ("0.000000001s", "ns", 1),
        # SQS (seconds): visibility timeout 0..12h, retention 60s..14d, delay 0..15m, wait 0..20s.
        ("12h", "s", 43_200),
        ("14d", "s", 1_209_600),
        ("2w", "s", 1_209_600),
        ("15m", "s", 900),
        ("1m", "s", 60),
        ("20s", "s", 20),
        ("0s", "s", 0),
        ("0.5m", "s", 30),
        # RabbitMQ (ms): x-message-ttl and x-expires go up to 2^32-1.
        ("49d17h2m47s295ms", "ms", 2**32 - 1),
        ("4294967295", "ms", 2**32 - 1),
        ("1.5s", "ms", 1500),
    ],
)
def test_durations_are_exact_at_the_extremes(text: object, unit: str, expected: int) -> None:
    result = parse_duration(text, unit)
    assert result == expected and type(result) is int


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("9223372036854775807", LONG_MAX),
        ("9223372036854775807B", LONG_MAX),
        ("9007199254740991KiB", (2**53 - 1) * 1024),
        ("8388607TiB", 8_388_607 * 2**40),
        ("0.5GiB", 2**29),
        ("1.5KiB", 1536),
        ("0", 0),
        ("256KiB", 262_144),  # SQS' old maximum message size
        ("1MiB", 1_048_576),  # and the new one
        ("1KiB", 1024),  # and its minimum
        ("1 GiB", 2**30),
    ],
)
def test_sizes_are_exact_at_the_extremes(text: str, expected: int) -> None:
    result = parse_size(text)
    assert result == expected and type(result) is int


@pytest.mark.parametrize(
    ("bad", "unit", "message"),
    [
        ("1.5ms", "ms", "not a whole number of ms"),
        ("0.0000000001s", "ns", "not a whole number of ns"),
        ("1.0000001ms", "ms", "not a whole number of ms"),
        ("1e3s", "s", "not a duration"),
        ("-1ms", "ms", "not a duration"),
        ("\u00b2", "ms", "not a duration"),  # a digit to str.isdigit(), not to int()
        ("\u0663s", "s", "not a duration"),
        (1.5, "s", "expected a duration"),
        (1e19, "ms", "too large to be exact"),
        (float("inf"), "ms", "expected a duration"),
    ],
)
def test_inexact_or_malformed_durations_are_refused_clearly(bad: object, unit: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_duration(bad, unit)


@pytest.mark.parametrize(("bad", "message"), [("0.1KiB", "not a whole number of bytes"), ("1.5", "whole number")])
def test_sizes_that_are_not_whole_bytes_are_refused(bad: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_size(bad)


def test_whole_floats_within_float_precision_are_accepted() -> None:
    assert parse_duration(30.0, "s") == 30
    assert parse_duration(float(2**53), "ns") == 2**53


@pytest.mark.parametrize(
    ("ms", "text"),
    [(LONG_MAX, "9223372036854775807ms"), (0, "0ms"), (-1, "-1"), (-DAY_MS, "-86400000"), (DAY_MS, "1d")],
)
def test_format_duration_ms(ms: int, text: str) -> None:
    assert format_duration_ms(ms) == text
    assert parse_duration(text, "ms") == ms


def test_format_size() -> None:
    assert format_size(2**40 * 3) == "3TiB" and format_size(1536) is None
    assert format_size(0) is None and format_size(-1) is None


# -- what is written parses back to the same integer, over the whole int64 range -------------------

INT64 = st.integers(min_value=INT64_MIN, max_value=INT64_MAX)
UNITS = [1, 1000, 1024, 60_000, 3_600_000, DAY_MS, 1024**3, 1024**4, 10**9, 60 * 10**9, 86_400 * 10**9]
# Round numbers of every unit too: the ones that render with a suffix, near the limits as well.
ROUND = st.sampled_from(UNITS).flatmap(
    lambda u: st.integers(min_value=INT64_MIN // u + 1, max_value=INT64_MAX // u).map(lambda k: k * u)
)
VALUES = st.one_of(INT64, ROUND)
EDGES = [INT64_MAX, INT64_MIN, 0, -1, -2, 1, LONG_MAX - LONG_MAX % DAY_MS, 2**53 + 1, 2**63 - 1024]


DURATION_UNITS = ["ns", "us", "ms", "s"]
Test = Callable[..., None]


def at_edges(f: Test) -> Test:
    """The limits are always tried, whatever hypothesis draws."""
    for value in EDGES:
        f = example(value)(f)
    return f


def at_edges_in_every_unit(f: Test) -> Test:
    for value in EDGES:
        for unit in DURATION_UNITS:
            f = example(value, unit)(f)
    return f


@settings(database=None, max_examples=300)
@given(VALUES)
@at_edges
def test_format_duration_ms_then_parse_is_the_identity(ms: int) -> None:
    assert parse_duration(format_duration_ms(ms), "ms") == ms


@settings(database=None, max_examples=300)
@given(VALUES, st.sampled_from(DURATION_UNITS))
@at_edges_in_every_unit
def test_readable_durations_parse_back_exactly(value: int, unit: str) -> None:
    assert parse_duration(readable(value, unit), unit) == value


@settings(database=None, max_examples=300)
@given(VALUES)
@at_edges
def test_readable_sizes_parse_back_exactly(size: int) -> None:
    assert parse_size(readable(size, "bytes")) == size


@settings(database=None, max_examples=300)
@given(VALUES, st.sampled_from([*DURATION_UNITS, "bytes"]))
@at_edges_in_every_unit
def test_the_text_plan_shows_values_that_parse_back_exactly(value: int, unit: str) -> None:
    """What `topoctl plan` prints for a duration or size field (`"30d"`, `"1GiB"`, or the plain
    integer) is what a user may paste into a manifest: it must mean the same integer."""
    printed = json.loads(shown(value, "f", {"f": unit}))
    back = parse_size(printed) if unit == "bytes" else parse_duration(printed, unit)
    assert back == value
