"""Observed JetStream objects -> the `streams:` / `key_value:` / `object_stores:` section of a
manifest (`topoctl export`).

The field tables (fields.py) drive it both ways: a field is written when its live value differs
from what the server means by leaving it out (`Field.empty`), in manifest units (`30d`, `1GiB`).
Server-filled values (a 2m duplicate window) are written too: they are live values, and planning
them is a no-op. `dead_letter:` is not reconstructed: the dead-letter stream comes out as the plain
stream it is, with the advisory subjects, and the consumer with its `max_deliver`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from topoctl.export import duration_ns, size
from topoctl.model import JSON, Resource
from topoctl.providers.nats import fields as F
from topoctl.providers.nats.kinds import CONSUMER, KV_BUCKET, OBJECT_STORE, STREAM

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
    for r in mine:
        body = _fields(_TABLES[r.kind], r.attrs)
        if r.kind == STREAM:
            section.setdefault("streams", {}).setdefault(r.address.name[0], {}).update(body)
        elif r.kind == CONSUMER:
            stream, consumer = r.address.name
            streams = section.setdefault("streams", {})
            streams.setdefault(stream, {}).setdefault("consumers", {})[consumer] = body
        else:
            section.setdefault(_SECTIONS[r.kind], {})[r.address.name[0]] = body
    return section


def _fields(table: Mapping[str, F.Field], attrs: Mapping[str, JSON]) -> dict[str, JSON]:
    out: dict[str, JSON] = {}
    for name, field in table.items():
        value = attrs.get(name, field.empty)
        if value == field.empty or value is None:
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
