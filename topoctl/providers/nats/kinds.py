"""The JetStream resource kinds and what the server lets change in place.

Mutability was checked against nats-server 2.15 (see docs/nats.md): a field listed here as
forcing replacement is one the server refuses to update (error 10052 for streams, 10012 for
consumers), so the plan says "replace" up front instead of failing halfway through an apply.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass

from topoctl.model import JSON, FieldChange, Resource
from topoctl.providers.base import KindSpec
from topoctl.providers.nats import fields as F

STREAM = "stream"
CONSUMER = "consumer"
KV_BUCKET = "kv_bucket"
OBJECT_STORE = "object_store"

# false -> true updates in place; true -> false is refused by the server.
ONE_WAY_FLAGS = frozenset({"sealed", "deny_delete", "deny_purge", "allow_msg_ttl", "allow_msg_schedules"})


def _version(text: object) -> tuple[int, ...]:
    nums = re.findall(r"\d+", str(text or ""))[:3]
    return tuple(int(n) for n in nums) if nums else ()


def _full(observed: Resource, fields: Mapping[str, F.Field]) -> Resource:
    """Observed attrs leave out what the server left empty (fields.observed_attrs); compared, it
    is the empty value."""
    return dataclasses.replace(observed, attrs=F.with_empties(fields, observed.attrs))


def unchanged(desired: Resource, observed: Resource, fields: Mapping[str, F.Field]) -> bool:
    """Whether every declared value equals the live one (a field the server left out compares as
    its empty value): true of most objects of a plan of thousands, and found without building the
    observed attrs with every empty filled in."""
    live = observed.attrs
    return all(k in fields and live.get(k, fields[k].empty) == v for k, v in desired.attrs.items())


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


@dataclass(frozen=True)
class StreamKind(KindSpec):
    """Streams, and the base of the bucket kinds (which are streams underneath)."""

    one_way: frozenset[str] = ONE_WAY_FLAGS
    # attrs path -> unit of its integers ("ns", "bytes"): plans show `30d` instead of
    # 2592000000000000 (the JSON plan keeps the integers and carries these units).
    units: Mapping[str, str] = dataclasses.field(default_factory=dict)
    fields: Mapping[str, F.Field] = dataclasses.field(default_factory=lambda: F.STREAM_FIELDS)
    # Limits the server enforces at once when lowered by an update: what is over them is removed.
    limits: tuple[str, ...] = ("max_age", "max_msgs", "max_bytes", "max_msgs_per_subject")
    unit: str = "message"

    def field_changes(self, desired: Resource, observed: Resource) -> list[FieldChange]:
        if unchanged(desired, observed, self.fields):
            return []
        changes = super().field_changes(desired, _full(observed, self.fields))
        # max_consumers became updatable in 2.14; older servers refuse the update.
        version = _version(observed.info.get("server_version"))
        if version and version < (2, 14):
            changes = [
                dataclasses.replace(c, forces_replacement=True) if c.field == "max_consumers" else c for c in changes
            ]
        return changes

    def notes(self, desired: Resource, observed: Resource) -> list[str]:
        """An update is not destructive, but lowering a limit removes stored messages right away:
        the plan says so when there are some."""
        stored = observed.info.get("messages")
        if not isinstance(stored, int) or stored <= 0:
            return []
        have = F.with_empties(self.fields, observed.attrs)
        out = []
        for name in self.limits:
            want, was = desired.attrs.get(name), have.get(name)
            if isinstance(want, int) and want > 0 and isinstance(was, int) and (was <= 0 or want < was):
                out.append(
                    f"lowering {name} removes at once what is over the new limit ({_plural(stored, self.unit)} stored)"
                )
        if desired.attrs.get("retention") == "interest" and have.get("retention") == "limits":
            out.append(f"interest retention removes the {self.unit}s no consumer still has to deliver")
        return out

    def forces_replacement(self, field: str, before: JSON, after: JSON) -> bool:
        if field == "retention":
            return before != after and "workqueue" in (before, after)
        if field in self.one_way:
            return bool(before) and not after
        if field == "mirror":
            # Dropping the mirror promotes the stream in place; any other mirror change is refused.
            return after is not None
        return field in self.immutable

    def replace_reason(self, change: FieldChange) -> str:
        if change.field in self.one_way:
            return f"{change.field} is a one-way flag: the server cannot turn it off"
        if change.field == "retention":
            return f"retention cannot change to or from workqueue ({change.before} -> {change.after})"
        if change.field == "mirror":
            if change.before is None:
                return "a stream cannot become a mirror in place"
            return "a mirror cannot change in place (only `mirror: null`, promoting the stream, can)"
        return super().replace_reason(change)

    def at_risk(self, observed: Resource) -> list[str]:
        notes = super().at_risk(observed)
        consumers = observed.info.get("consumers")
        if isinstance(consumers, int) and consumers > 0:
            verb = "goes" if consumers == 1 else "go"
            notes.append(f"its {_plural(consumers, 'consumer')} {verb} with it")
        return notes


@dataclass(frozen=True)
class BucketKind(StreamKind):
    """A KV bucket or object store: a stream whose bucket settings map onto stream fields."""

    def at_risk(self, observed: Resource) -> list[str]:
        messages = observed.info.get("messages")
        if isinstance(messages, int) and messages > 0:
            size = observed.info.get("bytes")
            extra = f", {size} bytes" if isinstance(size, int) else ""
            return [f"{_plural(messages, self.unit)} will be lost{extra}"]
        return []


# A consumer filters by one subject or by a list, never both: declaring one clears the other.
FILTER_PAIRS = {"filter_subject": ("filter_subjects", []), "filter_subjects": ("filter_subject", "")}


@dataclass(frozen=True)
class ConsumerKind(KindSpec):
    units: Mapping[str, str] = dataclasses.field(default_factory=dict)

    def field_changes(self, desired: Resource, observed: Resource) -> list[FieldChange]:
        changes: list[FieldChange] = []
        if not unchanged(desired, observed, F.CONSUMER_FIELDS):
            changes = super().field_changes(desired, _full(observed, F.CONSUMER_FIELDS))
        # A filter form the server left out reads as unset either way (None here, its empty value
        # once filled in): only a live one is cleared.
        for declared, (other, empty) in FILTER_PAIRS.items():
            live = observed.attrs.get(other)
            if desired.attrs.get(declared) and other not in desired.attrs and live:
                changes.append(FieldChange(other, live, empty))
        return changes

    def forces_replacement(self, field: str, before: JSON, after: JSON) -> bool:
        if field == "deliver_subject":
            # push -> push with another subject is fine; pull <-> push is not.
            return bool(before) != bool(after)
        return field in self.immutable

    def replace_reason(self, change: FieldChange) -> str:
        if change.field == "deliver_subject":
            kinds = ("pull", "push") if change.after else ("push", "pull")
            return f"a {kinds[0]} consumer cannot become a {kinds[1]} consumer in place"
        return super().replace_reason(change)

    def at_risk(self, observed: Resource) -> list[str]:
        pending = observed.info.get("num_pending")
        ack_pending = observed.info.get("num_ack_pending")
        parts = []
        if isinstance(pending, int) and pending > 0:
            parts.append(f"{_plural(pending, 'message')} not yet delivered")
        if isinstance(ack_pending, int) and ack_pending > 0:
            parts.append(f"{_plural(ack_pending, 'message')} awaiting ack")
        if not parts:
            return []
        return ["its delivery position is lost (" + ", ".join(parts) + ")"]


STREAM_IMMUTABLE = frozenset({"storage", "allow_msg_counter", "persist_mode"})


def _bucket(kind: str, table: Mapping[str, F.Field], rank: int, unit: str, limits: tuple[str, ...]) -> BucketKind:
    return BucketKind(
        kind, immutable=frozenset({"storage"}), rank=rank, unit=unit, units=F.units(table), fields=table, limits=limits
    )


KINDS: dict[str, KindSpec] = {
    STREAM: StreamKind(STREAM, immutable=STREAM_IMMUTABLE, cascades=True, rank=10, units=F.units(F.STREAM_FIELDS)),
    KV_BUCKET: _bucket(KV_BUCKET, F.KV_FIELDS, 20, "value", ("ttl", "history", "max_bytes")),
    OBJECT_STORE: _bucket(OBJECT_STORE, F.OBJECT_STORE_FIELDS, 30, "chunk", ("ttl", "max_bytes")),
    CONSUMER: ConsumerKind(
        CONSUMER,
        units=F.units(F.CONSUMER_FIELDS),
        immutable=frozenset(
            {
                "deliver_policy",
                "opt_start_seq",
                "opt_start_time",
                "ack_policy",
                "replay_policy",
                "idle_heartbeat",
                "flow_control",
                "max_waiting",
                "mem_storage",
            }
        ),
        rank=40,
    ),
}
