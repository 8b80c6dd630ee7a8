"""Normalised forms of RabbitMQ argument and policy values, shared by compiler and driver.

The manifest may write `x-message-ttl: 30s` or `max-length-bytes: 1GiB`; the broker stores
integers (ms, bytes). Stream retention (`x-max-age`, policy `max-age`) is a string in RabbitMQ's
own units (`7D`, `12h`); both sides are rewritten to its shortest exact form so `7d`, `168h` and
`7D` compare equal.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

from topoctl.model import JSON
from topoctl.units import parse_duration, parse_size

# Argument (queue `arguments`) and policy-definition keys holding milliseconds or bytes.
MS_KEYS = frozenset({"x-message-ttl", "x-expires", "message-ttl", "expires"})
BYTE_KEYS = frozenset(
    {
        "x-max-length-bytes",
        "x-max-in-memory-bytes",
        "x-stream-max-segment-size-bytes",
        "max-length-bytes",
        "max-in-memory-bytes",
        "stream-max-segment-size-bytes",
    }
)
MAX_AGE_KEYS = frozenset({"x-max-age", "max-age"})

# RabbitMQ's max-age units, largest first (`Y` and `M` have no fixed length: kept verbatim).
_AGE_UNITS = (("D", 86400), ("h", 3600), ("m", 60), ("s", 1))
_RABBIT_AGE = re.compile(r"(\d+)([YMDhms])")


def max_age(value: JSON) -> JSON:
    """`7d`, `168h`, `604800s` and `7D` -> `7D`. Raises ValueError for what is not a duration."""
    if isinstance(value, str):
        m = _RABBIT_AGE.fullmatch(value.strip())
        if m and m.group(2) in "YM":
            return value.strip()
        seconds = int(m.group(1)) * dict(_AGE_UNITS)[m.group(2)] if m else parse_duration(value, "s")
    elif isinstance(value, int) and not isinstance(value, bool):
        seconds = value
    else:
        raise ValueError(f"expected a duration such as 7d or 12h, got {value!r}")
    if seconds <= 0:
        raise ValueError(f"a max-age must be positive, got {value!r}")
    for unit, size in _AGE_UNITS:
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    raise AssertionError("unreachable: every whole number of seconds has a unit")


def normalise(key: str, value: JSON) -> JSON:
    """The broker's representation of one argument / definition value. Raises ValueError."""
    if key in MS_KEYS:
        return parse_duration(value, "ms")
    if key in BYTE_KEYS:
        return parse_size(value)
    if key in MAX_AGE_KEYS:
        return max_age(value)
    return value


def normalise_map(
    values: Mapping[str, JSON], on_error: Callable[[str, str], Exception] | None = None
) -> dict[str, JSON]:
    out: dict[str, JSON] = {}
    for key, value in values.items():
        try:
            out[key] = normalise(key, value)
        except ValueError as exc:
            if on_error is None:
                out[key] = value  # live data: keep what the broker said rather than fail the plan
            else:
                raise on_error(key, str(exc)) from None
    return out
