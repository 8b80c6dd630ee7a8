"""Durations and sizes: parsing what manifests write, and writing what people read."""

from __future__ import annotations

import pytest

from topoctl.units import parse_duration, parse_size, readable


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
