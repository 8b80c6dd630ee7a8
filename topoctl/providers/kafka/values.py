"""Canonical topic config values, so a manifest value and a live one compare with `==`.

Kafka keeps every config value as a string, parsed to the config's type and written back in that
type's form (`01` -> `1`, `TRUE` -> `true`, `1` -> `1.0` for a double, lists trimmed and without
duplicates). Both sides go through `canonical_value`: the manifest's `7d`, `1GiB`, `true` or
`[delete, compact]` and the broker's `"604800000"`, `"1073741824"`, `"true"`, `"compact,delete"`
land on one spelling.
"""

from __future__ import annotations

import functools
import math

from topoctl.units import INT64_MAX, INT64_MIN, parse_duration, parse_size

ConfigValue = str | int | float | bool | list[object] | None


def is_duration_key(key: str) -> bool:
    return key.endswith(".ms")


def is_size_key(key: str) -> bool:
    return key.endswith(".bytes")


# Kafka parses a dynamic config to its type and stores the type's string form: a DOUBLE comes
# back as Java's `Double.toString` (`1` -> `1.0`, `0.0001` -> `1.0E-4`), a LIST trimmed and
# without duplicates. The topic configs of those types, as of Kafka 4.x:
DOUBLE_KEYS = frozenset({"min.cleanable.dirty.ratio"})
# Lists that mean sets: `[delete, compact]` and `compact,delete` are the same policy.
SET_KEYS = frozenset(
    {"cleanup.policy", "leader.replication.throttled.replicas", "follower.replication.throttled.replicas"}
)


# Topic configs of Java type INT as of Kafka 4.x (the other numeric ones are LONG): beyond an int
# the broker answers "Not a number of type INT"; checked by tests/integration/test_refused_at_validate.py.
INT_KEYS = frozenset(
    {
        "segment.bytes",
        "segment.index.bytes",
        "max.message.bytes",
        "index.interval.bytes",
        "min.insync.replicas",
        "max.decompressed.message.bytes",
        "compression.gzip.level",
        "compression.lz4.level",
        "compression.zstd.level",
    }
)
INT32_MAX = 2**31 - 1
INT32_MIN = -(2**31)


def canonical_value(key: str, value: object) -> str:
    """The string Kafka stores for `value` under `key`. Raises ValueError for a value that
    cannot be a config value (the message is fit for a user)."""
    if isinstance(value, str):
        return _canonical_text(key, value)
    return _checked(key, _canonical_value(key, value))


@functools.lru_cache(maxsize=8192)
def _canonical_text(key: str, value: str) -> str:
    """A written value, cached: an estate's thousands of topics (and every live config read back)
    repeat a few dozen (`7d`, `64MiB`, `delete`), and a size costs an exact fraction each time.
    Errors are not cached (raised anew)."""
    return _checked(key, _canonical_value(key, value))


def _checked(key: str, text: str) -> str:
    if key in INT_KEYS and _is_integer(text) and not INT32_MIN <= int(text) <= INT32_MAX:
        raise ValueError(f"{key} is {text}, beyond what Kafka can store (at most {INT32_MAX}, Integer.MAX)")
    return text


def _canonical_value(key: str, value: object) -> str:
    if key in SET_KEYS:
        return _canonical_set(key, value)
    numeric = is_duration_key(key) or is_size_key(key) or key in DOUBLE_KEYS
    if numeric and isinstance(value, (bool, list)):
        raise ValueError(f"{key} takes one number, got {value!r}")
    if key in DOUBLE_KEYS:
        return _canonical_double(key, value)
    if isinstance(value, list):
        return ",".join(_canonical_value(key, item) for item in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        text = value.strip()
        if is_duration_key(key) and text:
            return _long(key, parse_duration(text, "ms"))
        if is_size_key(key) and text:
            return _long(key, _parse_size_signed(text))
        if text.lower() in ("true", "false"):
            return text.lower()
        if _is_integer(text):
            return str(int(text))
        if "," in text:
            # List-typed configs: Kafka splits on commas and trims, so "a, b" and "a,b" are one list.
            return ",".join(part.strip() for part in text.split(","))
        return text
    if isinstance(value, int):
        return _long(key, value) if numeric else str(value)
    if isinstance(value, float):
        if numeric:
            if not value.is_integer():
                raise ValueError(f"{key} must be a whole number, got {value!r}")
            return _long(key, parse_duration(value))  # exact, or refused when a float cannot be
        return repr(value)
    raise ValueError(f"{key}: expected a string, number, boolean or list, got {type(value).__name__}")


def _canonical_double(key: str, value: object) -> str:
    # One spelling per number on both sides (the broker's "1.0E-4" and the manifest's 0.0001).
    try:
        number = float(value.strip() if isinstance(value, str) else value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError(f"{key} must be a number, got {value!r}") from None
    if not math.isfinite(number):
        raise ValueError(f"{key} must be a finite number, got {value!r}")
    return repr(number)


def _canonical_set(key: str, value: object) -> str:
    items = value if isinstance(value, list) else [value]
    parts: set[str] = set()
    for item in items:
        if isinstance(item, (bool, list, dict)) or item is None:
            raise ValueError(f"{key} takes names, got {item!r}")
        parts.update(p.strip() for p in str(item).split(","))
    parts.discard("")
    return ",".join(sorted(parts))


def canonical_or_raw(key: str, value: str) -> str:
    """A live value in canonical form; a value we cannot parse stays as the broker wrote it."""
    try:
        return canonical_value(key, value)
    except ValueError:
        return value


def _long(key: str, number: int) -> str:
    # Every `.ms` and `.bytes` topic config is a Java int or long: beyond a long, the broker
    # cannot even parse it, so say so offline (the INT ones: `canonical_value`).
    if not INT64_MIN <= number <= INT64_MAX:
        raise ValueError(f"{key} is {number}, beyond what Kafka can store (at most {INT64_MAX}, Long.MAX)")
    return str(number)


def _is_integer(text: str) -> bool:
    digits = text[1:] if text[:1] in "+-" else text
    return digits.isascii() and digits.isdigit()  # '²' is a digit to isdigit(), not to int()


def _parse_size_signed(text: str) -> int:
    # -1 (unlimited) and -2 (local.retention.bytes: follow retention.bytes) are legal sizes.
    if _is_integer(text):
        return int(text)
    return parse_size(text)
