"""The vocabulary shared by every layer: addresses, resources, changes and plans.

Everything here is plain data (frozen dataclasses over JSON-compatible values), so a plan can be
saved to a file and read back without losing anything, and the engine can stay a pure function.
"""

from __future__ import annotations

import enum
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

JSON = Any  # a JSON-compatible value: None, bool, int, float, str, list of JSON, dict str -> JSON


def _encode(part: str) -> str:
    # Only `/` and `%` are escaped: addresses must stay readable (`orders.v1`, `order.*`, spaces,
    # `Bestellungen-ü`), and what a user types after `--target` is what the plan printed.
    return part.replace("%", "%25").replace("/", "%2F")


@dataclass(frozen=True, order=True, init=False)
class Address:
    """`<broker>/<kind>/<name>`; the name carries its parents (vhost, stream, ...)."""

    broker: str
    kind: str
    name: tuple[str, ...]

    def __init__(self, broker: str, kind: str, name: tuple[str, ...]) -> None:
        # A frozen dataclass sets each field through object.__setattr__, three times slower than
        # this; a plan of 10,000 objects makes addresses by the hundred thousand.
        fields = self.__dict__
        fields["broker"], fields["kind"], fields["name"] = broker, kind, name

    def __hash__(self) -> int:
        # Addresses key every map of a plan, tens of thousands of lookups at estate scale: the
        # hash of the three parts is worked out once, not at each lookup.
        value: int | None = self.__dict__.get("_hash")
        if value is None:
            value = self.__dict__["_hash"] = hash((self.broker, self.kind, self.name))
        return value

    def __reduce__(self) -> tuple[type[Address], tuple[str, str, tuple[str, ...]]]:
        # The cached hash of one process is wrong in another (string hashing is salted).
        return (Address, (self.broker, self.kind, self.name))

    def __str__(self) -> str:
        return "/".join([_encode(self.broker), self.kind, *(_encode(p) for p in self.name)])

    @property
    def display_name(self) -> str:
        return "/".join(_encode(p) for p in self.name)

    @classmethod
    def parse(cls, text: str) -> Address:
        parts = text.split("/")
        if len(parts) < 3 or not all(parts[:2]):
            raise ValueError(f"not a resource address: {text!r} (expected <broker>/<kind>/<name>)")
        return cls(unquote(parts[0]), parts[1], tuple(unquote(p) for p in parts[2:]))

    def matches(self, target: str) -> bool:
        """`--target` selects an address exactly, or everything below a prefix of whole segments.
        Empty segments count: a binding address ends in `/` or `//` (empty routing key, no
        arguments), so `.../queue/q//` must not also select `.../queue/q/k/3807d1168e7b`."""
        parts = target.split("/")
        return str(self).split("/")[: len(parts)] == parts


class _Addressed:
    """`broker` and `kind` of anything that has an address."""

    address: Address

    @property
    def broker(self) -> str:
        return self.address.broker

    @property
    def kind(self) -> str:
        return self.address.kind


@dataclass(frozen=True, init=False)
class Resource(_Addressed):
    """One broker object, desired (from the manifest) or observed (read from the broker).

    `attrs` holds normalised values, so the engine compares them with `==`. For a desired
    resource it holds only what the manifest declares (plus what compiling sugar implies); for an
    observed one, everything the provider read. `info` is volatile observed data that is never
    diffed (message counts, consumer counts) and feeds the "at risk" notes of destructive changes.
    """

    address: Address
    attrs: Mapping[str, JSON]
    depends_on: tuple[Address, ...] = ()
    absent: bool = False  # desired `state: absent`
    source: str | None = None  # "file:line" of the manifest entry
    info: Mapping[str, JSON] = field(default_factory=dict)

    def __init__(
        self,
        address: Address,
        attrs: Mapping[str, JSON],
        depends_on: tuple[Address, ...] = (),
        absent: bool = False,
        source: str | None = None,
        info: Mapping[str, JSON] | None = None,
    ) -> None:
        # As Address: straight into the instance dict (a plan makes one per object, twice).
        fields = self.__dict__
        fields["address"], fields["attrs"], fields["depends_on"] = address, attrs, depends_on
        fields["absent"], fields["source"], fields["info"] = absent, source, {} if info is None else info


class Action(str, enum.Enum):
    CREATE = "create"
    UPDATE = "update"
    REPLACE = "replace"
    DELETE = "delete"

    @property
    def destructive(self) -> bool:
        return self in (Action.REPLACE, Action.DELETE)


@dataclass(frozen=True)
class FieldChange:
    field: str
    before: JSON
    after: JSON
    forces_replacement: bool = False
    # A field that exists live but is not declared: shown, left alone unless the manifest asks.
    unmanaged: bool = False

    def to_json(self) -> dict[str, JSON]:
        out: dict[str, JSON] = {"field": self.field, "before": self.before, "after": self.after}
        if self.forces_replacement:
            out["forces_replacement"] = True
        if self.unmanaged:
            out["unmanaged"] = True
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, JSON]) -> FieldChange:
        return cls(
            field=data["field"],
            before=data.get("before"),
            after=data.get("after"),
            forces_replacement=bool(data.get("forces_replacement", False)),
            unmanaged=bool(data.get("unmanaged", False)),
        )


def fingerprint(resource: Resource | None) -> str | None:
    """A digest of what a saved plan saw, so `apply PLANFILE` can tell whether it is stale."""
    if resource is None:
        return None
    text = json.dumps(resource.attrs, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Change(_Addressed):
    address: Address
    action: Action
    before: Mapping[str, JSON] | None  # observed attrs (None when creating)
    after: Mapping[str, JSON] | None  # desired attrs (None when deleting)
    fields: tuple[FieldChange, ...] = ()
    reasons: tuple[str, ...] = ()  # why replace/delete, and what is at risk
    depends_on: tuple[Address, ...] = ()
    observed_fingerprint: str | None = None
    source: str | None = None
    # Not a change itself, but shown with one (e.g. unmanaged live config keys on an unchanged topic).
    notes: tuple[str, ...] = ()
    # Units of duration and size fields by path (from the kind), for readable rendering only.
    units: Mapping[str, str] = field(default_factory=dict)
    # What a destructive change takes with it, as approved: the object and every live object that
    # goes with it, by address, with their volatile counts (messages, ...). A saved plan is stale
    # when this grew (see `engine.risk`).
    exposure: Mapping[str, Mapping[str, int]] = field(default_factory=dict)

    @property
    def destructive(self) -> bool:
        return self.action.destructive

    def to_json(self) -> dict[str, JSON]:
        out: dict[str, JSON] = {
            "address": str(self.address),
            "broker": self.address.broker,
            "kind": self.address.kind,
            "name": self.address.display_name,
            "name_parts": list(self.address.name),
            "action": self.action.value,
            "before": dict(self.before) if self.before is not None else None,
            "after": dict(self.after) if self.after is not None else None,
            "destructive": self.destructive,
            "reasons": list(self.reasons),
            "fields": [f.to_json() for f in self.fields],
            "depends_on": [str(a) for a in self.depends_on],
            "observed_fingerprint": self.observed_fingerprint,
        }
        if self.source:
            out["source"] = self.source
        if self.notes:
            out["notes"] = list(self.notes)
        if self.units:
            out["units"] = dict(self.units)
        if self.exposure:
            out["exposure"] = {a: dict(counts) for a, counts in self.exposure.items()}
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, JSON]) -> Change:
        address = Address(data["broker"], data["kind"], tuple(data["name_parts"]))
        return cls(
            address=address,
            action=Action(data["action"]),
            before=data.get("before"),
            after=data.get("after"),
            fields=tuple(FieldChange.from_json(f) for f in data.get("fields", ())),
            reasons=tuple(data.get("reasons", ())),
            depends_on=tuple(Address.parse(a) for a in data.get("depends_on", ())),
            observed_fingerprint=data.get("observed_fingerprint"),
            source=data.get("source"),
            notes=tuple(data.get("notes", ())),
            units=dict(data.get("units", {})),
            exposure={a: dict(counts) for a, counts in data.get("exposure", {}).items()},
        )


@dataclass(frozen=True)
class Summary:
    create: int = 0
    update: int = 0
    replace: int = 0
    delete: int = 0

    @property
    def add(self) -> int:
        return self.create + self.replace

    @property
    def change(self) -> int:
        return self.update

    @property
    def destroy(self) -> int:
        return self.delete + self.replace

    def to_json(self) -> dict[str, int]:
        return {"create": self.create, "update": self.update, "replace": self.replace, "delete": self.delete}

    @classmethod
    def of(cls, changes: Iterable[Change]) -> Summary:
        counts = {a: 0 for a in Action}
        for c in changes:
            counts[c.action] += 1
        return cls(counts[Action.CREATE], counts[Action.UPDATE], counts[Action.REPLACE], counts[Action.DELETE])


@dataclass(frozen=True)
class RoutingChange:
    """A representative message whose destinations differ before and after the plan (see
    `topoctl.routing`): `before` and `after` are the addresses it lands in, empty when unroutable."""

    broker: str
    source: str  # address where it enters (exchange, topic, dead-lettering queue); "" for a NATS account
    label: str  # the message as a reader knows it: `order.paid`, `type=created`, `orders.created`
    message: Mapping[str, JSON]  # what it is exactly (key, headers, attributes, body, ...)
    before: tuple[str, ...]
    after: tuple[str, ...]

    def to_json(self) -> dict[str, JSON]:
        return {
            "broker": self.broker,
            "from": self.source,
            "label": self.label,
            "message": dict(self.message),
            "before": list(self.before),
            "after": list(self.after),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, JSON]) -> RoutingChange:
        return cls(
            broker=data["broker"],
            source=data.get("from", ""),
            label=data.get("label", ""),
            message=dict(data.get("message", {})),
            before=tuple(data.get("before", ())),
            after=tuple(data.get("after", ())),
        )


PLAN_FORMAT_VERSION = "1"


@dataclass(frozen=True)
class Plan:
    changes: tuple[Change, ...]
    # Unchanged resources that still deserve a mention (unmanaged live settings), never applied.
    notes: tuple[Change, ...] = ()
    # Where the plan came from, so `apply PLANFILE` can reconnect: manifest paths, broker types.
    manifests: tuple[str, ...] = ()
    brokers: Mapping[str, str] = field(default_factory=dict)  # broker name -> type
    targets: tuple[str, ...] = ()
    # Messages the plan re-routes (empty when nothing that routes changes; then left out of output).
    routing: tuple[RoutingChange, ...] = ()

    @property
    def summary(self) -> Summary:
        return Summary.of(self.changes)

    @property
    def empty(self) -> bool:
        return not self.changes

    @property
    def destructive(self) -> tuple[Change, ...]:
        return tuple(c for c in self.changes if c.destructive)

    def to_json(self) -> dict[str, JSON]:
        out: dict[str, JSON] = {
            "format_version": PLAN_FORMAT_VERSION,
            "changes": [c.to_json() for c in self.changes],
            "summary": self.summary.to_json(),
            "notes": [c.to_json() for c in self.notes],
            "manifests": list(self.manifests),
            "brokers": dict(self.brokers),
            "targets": list(self.targets),
        }
        if self.routing:
            out["routing_changes"] = [r.to_json() for r in self.routing]
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, JSON]) -> Plan:
        version = data.get("format_version")
        if version != PLAN_FORMAT_VERSION:
            raise ValueError(
                f"unsupported plan format_version {version!r} (this topoctl reads {PLAN_FORMAT_VERSION!r})"
            )
        return cls(
            changes=tuple(Change.from_json(c) for c in data["changes"]),
            notes=tuple(Change.from_json(c) for c in data.get("notes", ())),
            manifests=tuple(data.get("manifests", ())),
            brokers=dict(data.get("brokers", {})),
            targets=tuple(data.get("targets", ())),
            routing=tuple(RoutingChange.from_json(r) for r in data.get("routing_changes", ())),
        )
