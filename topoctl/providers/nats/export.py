"""Observed JetStream objects -> the `streams:` / `key_value:` / `object_stores:` section of a
manifest (`topoctl export`).

The field tables (fields.py) drive it both ways: a field is written when its live value differs
from what the server means by leaving it out (`Field.empty`), in manifest units (`30d`, `1GiB`),
and from the default the server fills in when a client leaves it out (a 2m duplicate window, a
30s ack wait, 1000 acks pending, 512 waiting pulls: `server_defaults`). Those are not written: the
export declares what someone chose, and a field left out is not managed, so the plan of the
export is still empty. `dead_letter:` is not reconstructed: the dead-letter stream comes out as
the plain stream it is, with the advisory subjects, and the consumer with its `max_deliver`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from topoctl.export import duration_ns, size
from topoctl.model import JSON, Address, Resource
from topoctl.providers.nats import fields as F
from topoctl.providers.nats.buckets import DEFAULT_DUPLICATE_WINDOW_NS
from topoctl.providers.nats.kinds import CONSUMER, KV_BUCKET, OBJECT_STORE, STREAM

SECOND_NS = 1_000_000_000
# nats-server's defaults for what a create leaves out (server/consumer.go, stream.go).
DEFAULT_ACK_WAIT_NS = 30 * SECOND_NS
DEFAULT_MAX_ACK_PENDING = 1000
DEFAULT_MAX_WAITING = 512
DEFAULT_PINNED_TTL_NS = 120 * SECOND_NS

_TABLES = {
    STREAM: F.STREAM_FIELDS,
    CONSUMER: F.CONSUMER_FIELDS,
    KV_BUCKET: F.KV_FIELDS,
    OBJECT_STORE: F.OBJECT_STORE_FIELDS,
}
_SECTIONS = {KV_BUCKET: "key_value", OBJECT_STORE: "object_stores"}


def export_broker(broker: str, observed: Sequence[Resource]) -> dict[str, Any]:
    section: dict[str, dict[str, Any]] = {}
    mine = sorted((r for r in observed if r.broker == broker and r.kind in _TABLES), key=lambda r: r.address)
    live_streams = {r.address: r for r in mine if r.kind == STREAM}
    for r in mine:
        parent = live_streams.get(Address(broker, STREAM, r.address.name[:1])) if r.kind == CONSUMER else None
        defaults = server_defaults(r.kind, r.attrs, parent.attrs if parent else {})
        body = _fields(_TABLES[r.kind], r.attrs, defaults)
        if r.kind == STREAM:
            section.setdefault("streams", {}).setdefault(r.address.name[0], {}).update(body)
        elif r.kind == CONSUMER:
            stream, consumer = r.address.name
            streams = section.setdefault("streams", {})
            streams.setdefault(stream, {}).setdefault("consumers", {})[consumer] = body
        else:
            section.setdefault(_SECTIONS[r.kind], {})[r.address.name[0]] = body
    return section


def server_defaults(kind: str, attrs: Mapping[str, JSON], stream: Mapping[str, JSON]) -> dict[str, JSON]:
    """What the server stores for the fields a create leaves out, given the object's other settings
    (and, for a consumer, its stream's `consumer_limits`)."""
    if kind == STREAM:
        if attrs.get("mirror") or attrs.get("sources"):
            return {}  # no deduplication of their own: the window stays 0
        max_age = attrs.get("max_age")
        short = isinstance(max_age, int) and 0 < max_age < DEFAULT_DUPLICATE_WINDOW_NS
        return {"duplicate_window": max_age if short else DEFAULT_DUPLICATE_WINDOW_NS}
    if kind != CONSUMER:
        return {}
    limits = stream.get("consumer_limits")
    limits = limits if isinstance(limits, Mapping) else {}
    acks = attrs.get("ack_policy", F.CONSUMER_FIELDS["ack_policy"].empty) != "none"
    backoff = attrs.get("backoff")
    out: dict[str, JSON] = {
        # With backoff the server uses its first delay as ack_wait.
        "ack_wait": backoff[0] if isinstance(backoff, list) and backoff else DEFAULT_ACK_WAIT_NS if acks else 0,
        "max_ack_pending": limits.get("max_ack_pending") or (DEFAULT_MAX_ACK_PENDING if acks else 0),
        "inactive_threshold": limits.get("inactive_threshold") or 0,
    }
    if not attrs.get("deliver_subject"):
        out["max_waiting"] = DEFAULT_MAX_WAITING
    if attrs.get("priority_policy") == "pinned_client":
        out["priority_timeout"] = DEFAULT_PINNED_TTL_NS
    return out


def _fields(table: Mapping[str, F.Field], attrs: Mapping[str, JSON], defaults: Mapping[str, JSON]) -> dict[str, JSON]:
    out: dict[str, JSON] = {}
    for name, field in table.items():
        value = attrs.get(name, field.empty)
        if value == field.empty or value is None or (name in defaults and value == defaults[name]):
            continue
        out[name] = _readable(field, value)
    return out


def _readable(field: F.Field, value: JSON) -> JSON:
    if field.type == F.DURATION:
        return duration_ns(value)
    if field.type == F.DURATIONS and isinstance(value, list):
        return [duration_ns(v) for v in value]
    if field.type == F.SIZE:
        return size(value)
    nested = F.NESTED_DURATIONS.get(field.name, ())
    if nested and isinstance(value, Mapping):
        return {k: duration_ns(v) if k in nested else v for k, v in value.items()}
    return value
