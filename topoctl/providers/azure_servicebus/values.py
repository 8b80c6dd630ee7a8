"""Service Bus values as the manifest writes them and as the service reports them (pure, no SDK).

Durations are compared as durations: the manifest writes `1m`, `14d` or ISO 8601 (`PT1M`), the SDK
returns `timedelta`; both become whole milliseconds in `attrs`. The service's "never" is .NET's
TimeSpan.MaxValue (`P10675199DT2H48M5.4775807S`); the SDK rounds it on the way in and out (it
sends `...5.47758S` back), so any duration of 10675199 days or more reads as `forever`.

The two reporting traps of the service live here too, so they are unit-tested without a network:
- a partitioned queue or topic on a Basic/Standard namespace reports 16 times the size it was
  created with (16 partitions of that size each), and refuses that reported size if it is sent back;
- a non-Premium namespace reports `max_message_size_in_kilobytes` (256) though nobody can set it.
"""

from __future__ import annotations

import re
from datetime import timedelta
from fractions import Fraction

from topoctl.units import parse_duration

FOREVER = "forever"
# .NET TimeSpan.MaxValue, the service's default for TTL and auto-delete-on-idle.
TIMESPAN_MAX = timedelta(days=10675199, hours=2, minutes=48, seconds=5, microseconds=477580)
_FOREVER_DAYS = 10675199
# The largest duration a TimeSpan holds, in ms (anything at or above the day count is "forever").
_MAX_MS = _FOREVER_DAYS * 86_400_000

PREMIUM = "Premium"
# Basic/Standard partitioned entities: 16 partitions, each of the declared size.
PARTITIONS = 16
STANDARD_SIZES_MB = (1024, 2048, 3072, 4096, 5120)
PREMIUM_SIZES_MB = (1024, 2048, 3072, 4096, 5120, 10240, 20480, 40960, 81920)

QUEUE_STATUSES = ("Active", "Disabled", "SendDisabled", "ReceiveDisabled")
TOPIC_STATUSES = ("Active", "Disabled", "SendDisabled")
SUBSCRIPTION_STATUSES = ("Active", "Disabled", "ReceiveDisabled")

# Entity names (Microsoft's naming rules): queues and topics up to 260 characters of letters,
# digits, `.`, `-`, `_` and `/` (a path), starting and ending with a letter or digit; subscriptions
# and rules up to 50 characters, no `/`. `$Default` is the service's own rule name.
ENTITY_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._/-]{0,258}[A-Za-z0-9])?$")
CHILD_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,48}[A-Za-z0-9])?$")
DEFAULT_RULE = "$Default"

_ISO = re.compile(
    r"^P(?:(?P<d>\d+(?:\.\d+)?)D)?(?:T(?:(?P<h>\d+(?:\.\d+)?)H)?(?:(?P<m>\d+(?:\.\d+)?)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?$"
)


def parse_sb_duration(value: object) -> int | str:
    """A manifest duration -> whole milliseconds, or FOREVER. Accepts `30s`, `1h30m`, `14d`,
    ISO 8601 (`PT30S`, `P14D`) and `forever`. Plain numbers are refused: Service Bus has no unit of
    its own for them, and guessing seconds or milliseconds would be wrong half the time."""
    if isinstance(value, (bool, int, float)):
        raise ValueError(f"write a unit: {value!r} is ambiguous (use e.g. 30s, 5m, 14d, PT30S or forever)")
    if not isinstance(value, str):
        raise ValueError(f"expected a duration such as 30s or 14d, got {value!r}")
    text = value.strip()
    if text.lower() == FOREVER:
        return FOREVER
    if text[:1].upper() == "P":
        exact = _iso_ms(text.upper())
        if exact >= _MAX_MS:
            return FOREVER  # TimeSpan.MaxValue has sub-millisecond digits: it is "forever" as it is
        if exact.denominator != 1:
            raise ValueError(f"duration {text!r} is not a whole number of milliseconds")
        ms = int(exact)
    else:
        ms = parse_duration(text, "ms")
    if ms < 0:
        raise ValueError(f"a duration cannot be negative: {value!r}")
    return FOREVER if ms >= _MAX_MS else ms


def _iso_ms(text: str) -> Fraction:
    m = _ISO.match(text)
    if not m or text in ("P", "PT") or text.endswith("T"):
        raise ValueError(f"not an ISO 8601 duration: {text!r} (use e.g. PT30S, PT5M, P14D; no years or months)")
    total = Fraction(0)
    for key, ms in (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000)):
        if m.group(key):
            total += Fraction(m.group(key)) * ms
    return total


def duration_from_sdk(value: object) -> int | str | None:
    """What the SDK returned (a timedelta; an ISO string for values it could not parse) -> attrs."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            return parse_sb_duration(value)
        except ValueError:
            return value
    if isinstance(value, timedelta):
        if value.days >= _FOREVER_DAYS:
            return FOREVER
        return (value.days * 86_400 + value.seconds) * 1000 + value.microseconds // 1000
    return None


def duration_to_sdk(value: object) -> timedelta:
    """attrs -> what the SDK sends. FOREVER becomes TimeSpan.MaxValue as the SDK itself rounds it."""
    if value == FOREVER:
        return TIMESPAN_MAX
    if isinstance(value, int) and not isinstance(value, bool):
        return timedelta(milliseconds=value)
    raise ValueError(f"not a duration: {value!r}")


def format_sb_duration(value: object) -> object:
    """attrs -> the manifest's way of writing it (`60000` -> `1m`), for exports."""
    if value == FOREVER or not isinstance(value, int) or isinstance(value, bool):
        return value
    for suffix, size in (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000)):
        if value and value % size == 0:
            return f"{value // size}{suffix}"
    return f"{value}ms"


def reported_max_size(reported: int, partitioned: bool, sku: str) -> int:
    """The size a queue or topic was created with, from the size the service reports: a partitioned
    entity on Basic/Standard reports 16 partitions' worth. A report that is not such a multiple
    (not expected) is returned unchanged, so the plan shows it rather than hiding a difference."""
    if partitioned and sku != PREMIUM and reported % PARTITIONS == 0 and reported // PARTITIONS in STANDARD_SIZES_MB:
        return reported // PARTITIONS
    return reported


def allowed_sizes(sku: str) -> tuple[int, ...]:
    return PREMIUM_SIZES_MB if sku == PREMIUM else STANDARD_SIZES_MB


def canonical_status(value: str, allowed: tuple[str, ...]) -> str | None:
    """`active` -> `Active` (the service's spelling), or None when it is not one of `allowed`."""
    for status in allowed:
        if status.lower() == value.lower():
            return status
    return None


def entity_of(forward: str | None, host: str) -> str | None:
    """`sb://<host>/orders` -> `orders` when `host` is this namespace (case-insensitive, as DNS);
    another namespace's URL stays whole, and a plain name stays as it is."""
    if not forward:
        return None
    prefix = "sb://"
    if forward.lower().startswith(prefix):
        rest = forward[len(prefix) :]
        where, _, path = rest.partition("/")
        if host and where.lower() == host.lower() and path:
            return path.rstrip("/")
        return forward
    return forward


def same_entity(a: object, b: object) -> bool:
    """Entity names are case-insensitive in Service Bus (`Orders` and `orders` are one queue)."""
    if isinstance(a, str) and isinstance(b, str):
        return a.lower() == b.lower()
    return a == b


PROPERTY_TYPES = (str, int, float, bool)


def check_property_value(value: object) -> str | None:
    """A correlation property or SQL parameter value topoctl can write back exactly, or why not."""
    if isinstance(value, PROPERTY_TYPES):
        return None
    return (
        f"{value!r} is a {type(value).__name__}: use a string, a number or true/false "
        "(quote dates and durations to send them as text)"
    )
