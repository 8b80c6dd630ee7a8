"""Durations and sizes as the manifest writes them (`7d`, `500ms`, `1GiB`), normalised to integers.

Exact integer arithmetic throughout: brokers store these as 64-bit integers (Kafka's Long.MAX is
the "never" of `max.compaction.lag.ms`, NATS durations are int64 nanoseconds), and a float has 53
bits, so `9223372036854775807ms` through a float comes back as ...808, a value the broker refuses.
Fractional inputs (`1.5h`, `0.5GiB`) are read as exact fractions and must come to a whole number
of the unit asked for. What `format_*`/`readable` write parses back to the very same integer.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Iterable, Mapping
from fractions import Fraction

INT64_MAX = 2**63 - 1
INT64_MIN = -(2**63)

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
# ASCII digits only: `\d` and str.isdigit() also take '²' or '٣', which int() then refuses.
_NUMBER = r"[0-9]+(?:\.[0-9]+)?"
_INTEGER = re.compile(r"-?[0-9]+")
_DURATION_PART = re.compile(rf"({_NUMBER})(ns|us|µs|ms|s|m|h|d|w)")

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
_SIZE = re.compile(rf"({_NUMBER})\s*([a-zA-Z]*)")

# The largest magnitude up to which every whole number is a float: beyond it a YAML float such as
# `1.0e+19` is already rounded, so it cannot say which integer was meant.
_EXACT_FLOAT = 2**53


def parse_duration(value: object, unit: str = "ms") -> int:
    """`value` in `unit` (ns, us, ms or s). Plain integers are already in `unit`.

    Accepts compound forms (`1h30m`) and decimals (`1.5h`) that come to a whole number of `unit`.
    Raises ValueError with a message fit for a user.
    """
    if isinstance(value, bool):
        raise ValueError(f"expected a duration, got {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return _whole_float(value)
    if not isinstance(value, str):
        raise ValueError(f"expected a duration such as 30s or 7d, got {value!r}")
    return _duration_text(value, unit)


@functools.lru_cache(maxsize=4096)
def _duration_text(value: str, unit: str) -> int:
    """A written duration: cached, since an estate of thousands of objects repeats a few dozen
    (`7d`, `30s`) and exact fractions cost microseconds each. Errors are not cached (raised anew)."""
    text = value.strip().lower()
    if _INTEGER.fullmatch(text):
        return int(text)
    pos, total = 0, Fraction(0)
    for m in _DURATION_PART.finditer(text):
        if m.start() != pos:
            break
        total += Fraction(m.group(1)) * _DURATION_UNITS_NS[m.group(2)]
        pos = m.end()
    if pos != len(text) or not text:
        raise ValueError(f"not a duration: {value!r} (use e.g. 500ms, 30s, 5m, 1h, 7d)")
    result = total / _UNIT_NS[unit]
    if result.denominator != 1:
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
    result = Fraction(m.group(1)) * _SIZE_UNITS[m.group(2).lower()]
    if result.denominator != 1:
        raise ValueError(f"size {value!r} is not a whole number of bytes")
    return int(result)


def _whole_float(value: float) -> int:
    if abs(value) > _EXACT_FLOAT:
        raise ValueError(
            f"{value!r} is too large to be exact as a decimal number: write it as a whole number "
            "(no '.', no exponent) or with a unit, e.g. 7d"
        )
    return int(value)


_DURATION_SUFFIXES_MS = (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000))


def format_duration_ms(ms: int) -> str:
    """The shortest exact rendering, for exported manifests (`604800000` -> `7d`). Zero is `0ms`;
    a negative number (a broker's "unlimited" marker) stays a plain integer, which parses back."""
    if ms < 0:
        return str(ms)
    for suffix, size in _DURATION_SUFFIXES_MS:
        if ms and ms % size == 0:
            return f"{ms // size}{suffix}"
    return f"{ms}ms"


_TO_NS = {"ns": 1, "us": 1_000, "ms": 1_000_000, "s": 1_000_000_000}
_SIZE_SUFFIXES = (("TiB", 1024**4), ("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024))


def format_size(size: int) -> str | None:
    """`52428800` -> `50MiB`: the largest binary unit that divides `size` exactly, or None for a
    size that is not a positive whole number of KiB (written as plain bytes)."""
    if size <= 0:
        return None
    for suffix, unit in _SIZE_SUFFIXES:
        if size % unit == 0:
            return f"{size // unit}{suffix}"
    return None


def readable(value: object, unit: str) -> object:
    """A value in a broker's unit as a person writes it: `604800000` ms -> `7d`, `52428800` bytes
    -> `50MiB`. Anything else (negative "unlimited" markers, zeros, odd amounts) stays as it is;
    lists are converted item by item. What this returns parses back to `value` exactly."""
    if isinstance(value, list):
        return [readable(v, unit) for v in value]
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        return value
    if unit == "bytes":
        return format_size(value) or value
    ns = value * _TO_NS.get(unit, 0)
    if not ns or ns % 1_000_000:
        return value
    return format_duration_ms(ns // 1_000_000)


def non_finite(value: object) -> tuple[object, ...] | None:
    """Where the first NaN or infinity in `value` is (keys and indexes from `value` down; `()` for
    `value` itself), or None. YAML reads `.nan` and `.inf` as floats, but JSON, which every broker
    API speaks, has neither: such a value would be refused at apply, and NaN is not even equal to
    itself, so a plan holding one could never read back equal."""
    if isinstance(value, float):
        return None if math.isfinite(value) else ()
    items: Iterable[tuple[object, object]]
    if isinstance(value, Mapping):
        items = value.items()
    elif isinstance(value, (list, tuple)):
        items = enumerate(value)
    else:
        return None
    for key, item in items:
        below = non_finite(item)
        if below is not None:
            return (key, *below)
    return None


NON_FINITE = (
    "NaN and infinity (YAML's .nan, .inf) are not values topoctl sends to a broker: JSON (plans, the"
    " brokers' HTTP APIs) has neither; write a number (or quote it for a string)"
)


def non_string_key(value: object) -> tuple[object, ...] | None:
    """Where the first mapping key that is not a string is in `value` (its path, the key last), or
    None. YAML reads an unquoted `0:` or `true:` as a number or a boolean, but every name and every
    key a broker stores is a string: JSON turns `0` into `"0"`, so such a key would differ from what
    the broker holds on every plan, and one next to string keys cannot even be sorted."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                return (key,)
            below = non_string_key(item)
            if below is not None:
                return (key, *below)
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            below = non_string_key(item)
            if below is not None:
                return (index, *below)
    return None


def non_string_key_message(key: object) -> str:
    if key is None:
        what, shown = "null", "null"
    elif isinstance(key, bool):
        what, shown = "a boolean", str(key).lower()
    else:
        what, shown = ("a number" if isinstance(key, (int, float)) else type(key).__name__), str(key)
    return f"key {shown} is {what} to YAML, but keys and names are strings: quote it ('{shown}')"
