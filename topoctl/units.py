"""Durations and sizes as the manifest writes them (`7d`, `500ms`, `1GiB`), normalised to integers."""

from __future__ import annotations

import re

_DURATION_UNITS_NS = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60 * 1_000_000_000,
    "h": 3600 * 1_000_000_000,
    "d": 86400 * 1_000_000_000,
    "w": 7 * 86400 * 1_000_000_000,
}
_UNIT_NS = {"ns": 1, "us": 1_000, "ms": 1_000_000, "s": 1_000_000_000}
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h|d|w)")

_SIZE_UNITS = {
    "": 1,
    "b": 1,
    "k": 1000,
    "kb": 1000,
    "m": 1000**2,
    "mb": 1000**2,
    "g": 1000**3,
    "gb": 1000**3,
    "t": 1000**4,
    "tb": 1000**4,
    "ki": 1024,
    "kib": 1024,
    "mi": 1024**2,
    "mib": 1024**2,
    "gi": 1024**3,
    "gib": 1024**3,
    "ti": 1024**4,
    "tib": 1024**4,
}
_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*([a-zA-Z]*)")


def parse_duration(value: object, unit: str = "ms") -> int:
    """`value` in `unit` (ns, us, ms or s). Plain integers are already in `unit`.

    Accepts compound forms (`1h30m`). Raises ValueError with a message fit for a user.
    """
    if isinstance(value, bool):
        raise ValueError(f"expected a duration, got {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if not isinstance(value, str):
        raise ValueError(f"expected a duration such as 30s or 7d, got {value!r}")
    text = value.strip().lower()
    if text.lstrip("-").isdigit():
        return int(text)
    pos, total = 0, 0.0
    for m in _DURATION_PART.finditer(text):
        if m.start() != pos:
            break
        total += float(m.group(1)) * _DURATION_UNITS_NS[m.group(2)]
        pos = m.end()
    if pos != len(text) or not text:
        raise ValueError(f"not a duration: {value!r} (use e.g. 500ms, 30s, 5m, 1h, 7d)")
    result = total / _UNIT_NS[unit]
    if not result.is_integer():
        raise ValueError(f"duration {value!r} is not a whole number of {unit}")
    return int(result)


def parse_size(value: object) -> int:
    """Bytes. Plain integers are bytes; `KiB`/`MiB`/`GiB` are binary, `KB`/`MB`/`GB` decimal."""
    if isinstance(value, bool):
        raise ValueError(f"expected a size, got {value!r}")
    if isinstance(value, int):
        return value
    if not isinstance(value, str):
        raise ValueError(f"expected a size such as 512KiB or 1GiB, got {value!r}")
    m = _SIZE.fullmatch(value.strip())
    if not m or m.group(2).lower() not in _SIZE_UNITS:
        raise ValueError(f"not a size: {value!r} (use e.g. 512KiB, 10MiB, 1GiB or a number of bytes)")
    result = float(m.group(1)) * _SIZE_UNITS[m.group(2).lower()]
    if not result.is_integer():
        raise ValueError(f"size {value!r} is not a whole number of bytes")
    return int(result)


def format_duration_ms(ms: int) -> str:
    """The shortest exact rendering, for exported manifests (`604800000` -> `7d`)."""
    for suffix, size in (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000)):
        if ms and ms % size == 0:
            return f"{ms // size}{suffix}"
    return f"{ms}ms"


_TO_NS = {"ns": 1, "us": 1_000, "ms": 1_000_000, "s": 1_000_000_000}
_SIZE_SUFFIXES = (("TiB", 1024**4), ("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024))


def readable(value: object, unit: str) -> object:
    """A value in a broker's unit as a person writes it: `604800000` ms -> `7d`, `52428800` bytes
    -> `50MiB`. Anything else (negative "unlimited" markers, zeros, odd amounts) stays as it is;
    lists are converted item by item."""
    if isinstance(value, list):
        return [readable(v, unit) for v in value]
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        return value
    if unit == "bytes":
        for suffix, size in _SIZE_SUFFIXES:
            if value % size == 0:
                return f"{value // size}{suffix}"
        return value
    ns = value * _TO_NS.get(unit, 0)
    if not ns or ns % 1_000_000:
        return value
    return format_duration_ms(ns // 1_000_000)
