"""Canonical topic config values, so a manifest value and a live one compare with `==`.

Kafka keeps every config value as a string and echoes a dynamic topic config back as it was set.
Both sides go through `canonical_value`: the manifest's `7d`, `1GiB`, `true` or `[compact, delete]`
and the broker's `"604800000"`, `"1073741824"`, `"true"`, `"compact,delete"` land on one spelling.
"""

from __future__ import annotations

from topoctl.units import parse_duration, parse_size

ConfigValue = str | int | float | bool | list[object] | None


def is_duration_key(key: str) -> bool:
    return key.endswith(".ms")


def is_size_key(key: str) -> bool:
    return key.endswith(".bytes")


def canonical_value(key: str, value: object) -> str:
    """The string Kafka stores for `value` under `key`. Raises ValueError for a value that
    cannot be a config value (the message is fit for a user)."""
    if isinstance(value, list):
        return ",".join(canonical_value(key, item) for item in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        text = value.strip()
        if is_duration_key(key) and text:
            return str(parse_duration(text, "ms"))
        if is_size_key(key) and text:
            return str(_parse_size_signed(text))
        if text.lower() in ("true", "false"):
            return text.lower()
        if _is_integer(text):
            return str(int(text))
        if "," in text:
            # List-typed configs (cleanup.policy, throttled replicas): Kafka splits on commas
            # and trims, so "compact, delete" and "compact,delete" mean the same list.
            return ",".join(part.strip() for part in text.split(","))
        return text
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if is_duration_key(key) or is_size_key(key):
            if not value.is_integer():
                raise ValueError(f"{key} must be a whole number, got {value!r}")
            return str(int(value))
        return repr(value)
    raise ValueError(f"{key}: expected a string, number, boolean or list, got {type(value).__name__}")


def canonical_or_raw(key: str, value: str) -> str:
    """A live value in canonical form; a value we cannot parse stays as the broker wrote it."""
    try:
        return canonical_value(key, value)
    except ValueError:
        return value


def _is_integer(text: str) -> bool:
    digits = text[1:] if text[:1] in "+-" else text
    return digits.isdigit()


def _parse_size_signed(text: str) -> int:
    # -1 (unlimited) and -2 (local.retention.bytes: follow retention.bytes) are legal sizes.
    if _is_integer(text):
        return int(text)
    return parse_size(text)
