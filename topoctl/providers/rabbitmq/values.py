"""Normalised forms of RabbitMQ argument and policy values, shared by compiler and driver.

The manifest may write `x-message-ttl: 30s` or `max-length-bytes: 1GiB`; the broker stores
integers (ms, bytes). Stream retention (`x-max-age`, policy `max-age`) is a string in RabbitMQ's
own units (`7D`, `12h`, `1M`, `1Y`); both sides are rewritten to one normal form by what the value
means to the broker, so `7d`, `168h` and `7D` compare equal, and so do `1M` and `30d`.
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

# RabbitMQ's max-age units and their length in seconds, as the broker reads them
# (`rabbit_amqqueue:check_max_age/1`, `unit_value_in_ms/1`): a month is 30 days and a year 365,
# whatever the calendar says. The case matters: `M` is a month, `m` a minute.
AGE_UNITS = {"Y": 365 * 86400, "M": 30 * 86400, "D": 86400, "h": 3600, "m": 60, "s": 1}
# The normal form uses the largest unit of fixed, unambiguous length that divides the value: a
# plan says `30D` rather than `1M`, which a reader could take for a minute.
_NORMAL_UNITS = ("D", "h", "m", "s")
_RABBIT_AGE = re.compile(r"(\d+)([YMDhms])")


def max_age_seconds(value: JSON) -> int:
    """The length of a max-age in seconds, by its meaning to the broker: `1M` and `30d` are both
    2592000, `1Y` and `365D` both 31536000. Broker forms (`<digits><Y|M|D|h|m|s>`) are read
    exactly, other durations the way the manifest reads them (`7d`, `1h30m`); integers are seconds.
    Raises ValueError for what is not a positive whole number of seconds."""
    if isinstance(value, str):
        m = _RABBIT_AGE.fullmatch(value.strip())
        if m:
            seconds = int(m.group(1)) * AGE_UNITS[m.group(2)]
        elif "M" in value or "Y" in value:
            # The manifest's duration reader ignores case, so `1M30D` would read as a minute
            # and 30 days: refuse rather than guess.
            raise ValueError(
                f"{value!r}: RabbitMQ's M (30 days) and Y (365 days) stand alone, as in 1M or 1Y;"
                " write other lengths in days, hours, minutes or seconds (e.g. 45d)"
            )
        else:
            seconds = parse_duration(value, "s")
    elif isinstance(value, int) and not isinstance(value, bool):
        seconds = value
    else:
        raise ValueError(f"expected a duration such as 7d, 12h or 1M, got {value!r}")
    if seconds <= 0:
        raise ValueError(f"a max-age must be positive, got {value!r}")
    return seconds


def max_age(value: JSON) -> str:
    """`7d`, `168h`, `604800s`, `7D` -> `7D`; `1M`, `30d` -> `30D`; `1Y` -> `365D`.
    Raises ValueError for what is not a duration."""
    seconds = max_age_seconds(value)
    for unit in _NORMAL_UNITS:
        if seconds % AGE_UNITS[unit] == 0:
            return f"{seconds // AGE_UNITS[unit]}{unit}"
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
