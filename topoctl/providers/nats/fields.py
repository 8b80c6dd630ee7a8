"""The JetStream config fields topoctl manages, and how their values are normalised.

One table per object (stream, consumer, KV bucket, object store) names every field the manifest
may declare, its JetStream API JSON name and its value type. The compiler uses it to turn manifest
values into canonical attrs; the driver uses the same table to turn the server's config JSON into
attrs, so desired and observed compare with `==`. Durations are nanoseconds (the JetStream API
unit), sizes bytes.
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from topoctl.model import JSON

# Value types. "object"/"source"/"sources" are nested structures compared after dropping the
# zero values the server leaves out or fills in (an empty filter, `headers_only: false`).
DURATION = "duration"
DURATIONS = "durations"
SIZE = "size"
INT = "int"
BOOL = "bool"
STR = "str"
STRINGS = "strings"
METADATA = "metadata"
TIME = "time"
OBJECT = "object"
SOURCE = "source"
SOURCES = "sources"


# `Field.zero` for a field whose declared 0 the server replaces by a default that depends on other
# settings (the account, the stream, the ack policy): it could never read back as 0.
SERVER_DEFAULT = "server default"


@dataclass(frozen=True)
class Field:
    name: str  # manifest and attrs name
    api: str  # JetStream API JSON name
    type: str
    # What the server means when it leaves the key out of a config it returns.
    empty: JSON = None
    choices: tuple[str, ...] = ()
    description: str = ""
    # What the server stores when 0 is sent (`max_msgs: 0` reads back as -1), so a declared 0 is
    # compared as that; SERVER_DEFAULT: a 0 that cannot be declared. None: 0 is stored as 0.
    zero: JSON = None


def _fields(*items: Field) -> dict[str, Field]:
    return {f.name: f for f in items}


STREAM_FIELDS = _fields(
    Field("description", "description", STR, ""),
    Field("subjects", "subjects", STRINGS, []),
    Field("retention", "retention", STR, "limits", ("limits", "interest", "workqueue")),
    Field("storage", "storage", STR, "file", ("file", "memory")),
    Field("replicas", "num_replicas", INT, 1, zero=1),
    Field("max_consumers", "max_consumers", INT, -1, zero=-1),
    Field("max_msgs", "max_msgs", INT, -1, zero=-1),
    Field("max_bytes", "max_bytes", SIZE, -1, zero=-1),
    Field("max_age", "max_age", DURATION, 0),
    Field("max_msgs_per_subject", "max_msgs_per_subject", INT, -1, zero=-1),
    Field("max_msg_size", "max_msg_size", SIZE, -1, zero=-1),
    Field("discard", "discard", STR, "old", ("old", "new")),
    Field("discard_new_per_subject", "discard_new_per_subject", BOOL, False),
    Field("duplicate_window", "duplicate_window", DURATION, 0, zero=SERVER_DEFAULT),
    Field("no_ack", "no_ack", BOOL, False),
    Field("compression", "compression", STR, "none", ("none", "s2")),
    Field("first_seq", "first_seq", INT, 0),
    Field("metadata", "metadata", METADATA, {}),
    Field("placement", "placement", OBJECT, None),
    Field("mirror", "mirror", SOURCE, None),
    Field("sources", "sources", SOURCES, []),
    Field("subject_transform", "subject_transform", OBJECT, None),
    Field("republish", "republish", OBJECT, None),
    Field("consumer_limits", "consumer_limits", OBJECT, None),
    Field("allow_rollup_hdrs", "allow_rollup_hdrs", BOOL, False),
    Field("allow_direct", "allow_direct", BOOL, False),
    Field("deny_delete", "deny_delete", BOOL, False),
    Field("deny_purge", "deny_purge", BOOL, False),
    Field("sealed", "sealed", BOOL, False),
    Field("allow_msg_ttl", "allow_msg_ttl", BOOL, False),
    Field("subject_delete_marker_ttl", "subject_delete_marker_ttl", DURATION, 0),
    Field("allow_msg_counter", "allow_msg_counter", BOOL, False),
    Field("allow_msg_schedules", "allow_msg_schedules", BOOL, False),
    Field("allow_atomic", "allow_atomic", BOOL, False),
    Field("allow_batched", "allow_batched", BOOL, False),
    Field("persist_mode", "persist_mode", STR, "default", ("default", "async")),
)

CONSUMER_FIELDS = _fields(
    Field("description", "description", STR, ""),
    Field(
        "deliver_policy",
        "deliver_policy",
        STR,
        "all",
        ("all", "last", "new", "by_start_sequence", "by_start_time", "last_per_subject"),
    ),
    Field("opt_start_seq", "opt_start_seq", INT, 0),
    Field("opt_start_time", "opt_start_time", TIME, None),
    Field("ack_policy", "ack_policy", STR, "explicit", ("none", "all", "explicit")),
    Field("ack_wait", "ack_wait", DURATION, 0, zero=SERVER_DEFAULT),
    Field("max_deliver", "max_deliver", INT, -1, zero=-1),
    Field("backoff", "backoff", DURATIONS, []),
    Field("filter_subject", "filter_subject", STR, ""),
    Field("filter_subjects", "filter_subjects", STRINGS, []),
    Field("replay_policy", "replay_policy", STR, "instant", ("instant", "original")),
    Field("rate_limit_bps", "rate_limit_bps", INT, 0),
    Field("sample_freq", "sample_freq", STR, ""),
    Field("max_waiting", "max_waiting", INT, 0, zero=SERVER_DEFAULT),
    Field("max_ack_pending", "max_ack_pending", INT, 0, zero=SERVER_DEFAULT),
    Field("headers_only", "headers_only", BOOL, False),
    Field("max_batch", "max_batch", INT, 0),
    Field("max_expires", "max_expires", DURATION, 0),
    Field("max_bytes", "max_bytes", SIZE, 0),
    Field("inactive_threshold", "inactive_threshold", DURATION, 0),
    Field("deliver_subject", "deliver_subject", STR, ""),
    Field("deliver_group", "deliver_group", STR, ""),
    Field("idle_heartbeat", "idle_heartbeat", DURATION, 0),
    Field("flow_control", "flow_control", BOOL, False),
    Field("replicas", "num_replicas", INT, 0),
    Field("mem_storage", "mem_storage", BOOL, False),
    Field("metadata", "metadata", METADATA, {}),
    Field("priority_groups", "priority_groups", STRINGS, []),
    Field(
        "priority_policy",
        "priority_policy",
        STR,
        "none",
        ("none", "overflow", "pinned_client", "prioritized"),
    ),
    Field("priority_timeout", "priority_timeout", DURATION, 0),
)

# A KV bucket and an object store are streams; their own vocabulary maps onto stream fields.
KV_FIELDS = _fields(
    Field("description", "description", STR, ""),
    Field("history", "max_msgs_per_subject", INT, 1),
    Field("ttl", "max_age", DURATION, 0),
    Field("max_value_size", "max_msg_size", SIZE, -1, zero=-1),
    Field("max_bytes", "max_bytes", SIZE, -1, zero=-1),
    Field("storage", "storage", STR, "file", ("file", "memory")),
    Field("replicas", "num_replicas", INT, 1, zero=1),
    Field("compression", "compression", STR, "none", ("none", "s2")),
    Field("metadata", "metadata", METADATA, {}),
    Field("placement", "placement", OBJECT, None),
    Field("republish", "republish", OBJECT, None),
    Field("limit_marker_ttl", "subject_delete_marker_ttl", DURATION, 0),
    Field("mirror", "mirror", SOURCE, None),
    Field("sources", "sources", SOURCES, []),
)

OBJECT_STORE_FIELDS = _fields(
    Field("description", "description", STR, ""),
    Field("ttl", "max_age", DURATION, 0),
    Field("max_bytes", "max_bytes", SIZE, -1, zero=-1),
    Field("storage", "storage", STR, "file", ("file", "memory")),
    Field("replicas", "num_replicas", INT, 1, zero=1),
    Field("compression", "compression", STR, "none", ("none", "s2")),
    Field("metadata", "metadata", METADATA, {}),
    Field("placement", "placement", OBJECT, None),
)

# Nested duration fields inside OBJECT values, converted to ns like the top-level ones.
NESTED_DURATIONS = {"consumer_limits": ("inactive_threshold",)}
# Nested values the server fills in when they are left out (a republish without `src` reads back
# with `src: ">"`): dropped on both sides, like zero values.
NESTED_DEFAULTS: dict[str, dict[str, JSON]] = {"republish": {"src": ">"}}
SYSTEM_METADATA_PREFIX = "_nats."


# Fields whose `null` is not "unset": a list of subjects is never empty on the server (it falls back
# to the stream's name), and these counts have no unset state (history 1, replicas as the stream).
NOT_CLEARABLE = frozenset({"subjects", "replicas", "history", "first_seq", "opt_start_seq"})


def clearable(f: Field) -> bool:
    """Whether `null` may be declared for the field, meaning "not set": what the server has when
    the key is left out (`Field.empty`), so an update removes a description, a deliver group, a
    filter, metadata, a limit. Not for choices and flags (declare the value), and not for the
    fields whose unset value the server replaces by a default of its own choosing (it would
    never read back as unset)."""
    if f.choices or f.type in (BOOL, TIME) or f.zero == SERVER_DEFAULT:
        return False
    return f.name not in NOT_CLEARABLE


def units(table: Mapping[str, Field]) -> dict[str, str]:
    """attrs path -> unit of its integer values (`ns` durations, `bytes` sizes; a list's unit is its
    items'), so a plan can show `30d` and `1GiB` instead of the API's integers. See kinds.py."""
    out = {name: "ns" for name, f in table.items() if f.type in (DURATION, DURATIONS)}
    out.update({name: "bytes" for name, f in table.items() if f.type == SIZE})
    for name, nested in NESTED_DURATIONS.items():
        if name in table:
            out.update({f"{name}.{key}": "ns" for key in nested})
    return out


def prune_zero(value: Any) -> Any:
    """Drop keys whose value is a zero value, recursively: the server omits or fills them."""
    if isinstance(value, Mapping):
        out = {}
        for k, v in value.items():
            v = prune_zero(v)
            if v not in (None, "", 0, False, [], {}):
                out[k] = v
        return out
    if isinstance(value, list):
        return [prune_zero(v) for v in value]
    return value


_TIME = re.compile(r"(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?\s*(Z|z|[+-]\d{2}:?\d{2})?")


def normalise_time(value: object) -> str:
    """An RFC 3339 timestamp as the server prints it: UTC, `Z`, nanoseconds without trailing zeros.

    Raises ValueError. YAML may hand over a datetime for an unquoted timestamp.
    """
    if isinstance(value, _dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=_dt.timezone.utc)
        value = value.isoformat()
    if not isinstance(value, str):
        raise ValueError(f"expected an RFC 3339 timestamp, got {value!r}")
    m = _TIME.fullmatch(value.strip())
    if not m:
        raise ValueError(f"not an RFC 3339 timestamp: {value!r} (use e.g. 2024-05-01T00:00:00Z)")
    date, clock, frac, zone = m.groups()
    try:
        base = _dt.datetime.fromisoformat(f"{date}T{clock}")
    except ValueError as exc:
        raise ValueError(f"not an RFC 3339 timestamp: {value!r} ({exc})") from None
    if zone and zone.upper() != "Z":
        sign = 1 if zone[0] == "+" else -1
        digits = zone[1:].replace(":", "")
        offset = _dt.timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
        base -= sign * offset
    nanos = (frac or "").ljust(9, "0")[:9].rstrip("0")
    text = base.strftime("%Y-%m-%dT%H:%M:%S")
    return f"{text}.{nanos}Z" if nanos else f"{text}Z"


def user_metadata(value: object) -> dict[str, str]:
    """Metadata without the `_nats.*` keys the server adds (2.11+): those are never drift."""
    if not isinstance(value, Mapping):
        return {}
    return {str(k): str(v) for k, v in value.items() if not str(k).startswith(SYSTEM_METADATA_PREFIX)}


def _normalise_source(value: Any, time: Callable[[object], str]) -> Any:
    if not isinstance(value, Mapping):
        return value
    out = dict(value)
    if out.get("opt_start_time"):
        out["opt_start_time"] = time(out["opt_start_time"])
    if isinstance(out.get("subject_transforms"), list):
        out["subject_transforms"] = [prune_zero(t) for t in out["subject_transforms"]]
    pruned = prune_zero(out)
    return pruned or None


def observed_value(field: Field, raw: Mapping[str, Any]) -> JSON:
    """The attrs value of `field` in a config JSON returned by the server."""
    value = raw.get(field.api)
    if field.type == METADATA:
        return user_metadata(value)
    if field.type == SOURCE:
        return _normalise_source(value, normalise_time)
    if field.type == OBJECT:
        return normalise_object(field.name, value)
    if field.type == SOURCES:
        return [_normalise_source(v, normalise_time) for v in value or []]
    if field.type == TIME:
        return normalise_time(value) if value else None
    if value is None:
        return field.empty
    return value


_PLAIN = frozenset({DURATION, DURATIONS, SIZE, INT, BOOL, STR, STRINGS})
_Reading = list[tuple[str, str, JSON, "Field | None"]]


def _reading(fields: Mapping[str, Field]) -> _Reading:
    """(name, API name, empty value, the field when its value needs `observed_value`) per field."""
    return [(name, f.api, f.empty, None if f.type in _PLAIN else f) for name, f in fields.items()]


# The tables' own, made once (id: the tables live as long as the module).
_READINGS = {id(t): _reading(t) for t in (STREAM_FIELDS, CONSUMER_FIELDS, KV_FIELDS, OBJECT_STORE_FIELDS)}


def observed_attrs(fields: Mapping[str, Field], raw: Mapping[str, Any]) -> dict[str, JSON]:
    """The fields of a server config that differ from what the server means by leaving them out:
    a plan that deletes a stream lists its settings, not 30 defaults. The kinds compare a field
    that is not here as its `empty` value (`with_empties`)."""
    reading = _READINGS.get(id(fields)) or _reading(fields)
    out: dict[str, JSON] = {}
    get = raw.get
    for name, api, empty, nested in reading:
        # Thousands of configs a plan: a key the server left out is no setting of any type (it
        # normalises to None or the empty value), and plain values come straight from the JSON.
        value = get(api)
        if value is None:
            continue
        if nested is not None:
            value = observed_value(nested, raw)
        if value is not None and value != empty:
            out[name] = value
    return out


def with_empties(fields: Mapping[str, Field], attrs: Mapping[str, JSON]) -> dict[str, JSON]:
    """Observed attrs with every field the server left at its empty value filled back in."""
    return {**{name: f.empty for name, f in fields.items()}, **attrs}


def normalise_object(name: str, value: Any) -> Any:
    """The canonical form of a nested object (placement, republish, ...), on both sides: without
    zero values and server-filled defaults; None when nothing is left."""
    if not isinstance(value, Mapping):
        return None
    defaults = NESTED_DEFAULTS.get(name, {})
    pruned = prune_zero({k: v for k, v in value.items() if k not in defaults or v != defaults[k]})
    return pruned or None


def normalise_source(value: Any) -> Any:
    """The canonical form of a desired mirror/source entry (compile side)."""
    return _normalise_source(value, normalise_time)


def to_api(fields: Mapping[str, Field], attrs: Mapping[str, JSON]) -> dict[str, JSON]:
    """Declared attrs -> JetStream API JSON keys (only what is declared)."""
    return {fields[name].api: value for name, value in attrs.items() if name in fields}
