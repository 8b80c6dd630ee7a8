"""Desired vs observed -> Plan. Pure: no I/O, no broker client, deterministic output order."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace

from topoctl.engine.risk import dependents as _dependents
from topoctl.engine.risk import exposure
from topoctl.model import Action, Address, Change, Plan, Resource, fingerprint
from topoctl.providers.base import KindSpec, PruneScope, covering

SpecOf = Callable[[Address], KindSpec]


def diff(
    desired: Sequence[Resource],
    observed: Sequence[Resource],
    spec_of: SpecOf,
    prune: Mapping[str, Sequence[PruneScope]] | None = None,
    targets: Sequence[str] = (),
) -> Plan:
    """The changes that make `observed` match `desired`.

    `prune` maps broker name -> scopes inside which undeclared live objects are deleted.
    `targets` narrows the plan to matching addresses, their dependencies and what a targeted
    replace or delete would take with it.
    """
    live = {r.address: r for r in observed}
    wanted = {r.address: r for r in desired}
    changes: dict[Address, Change] = {}
    notes: list[Change] = []

    for want in desired:
        have = live.get(want.address)
        if want.absent:
            if have is not None:
                changes[want.address] = _delete(have, spec_of(have.address), want.source)
            continue
        if have is None:
            # Made with its units: a plan from scratch is all creates, and a dataclass `replace`
            # of each (`_with_units`) was a fifth of its diff.
            changes[want.address] = Change(
                want.address,
                Action.CREATE,
                None,
                dict(want.attrs),
                depends_on=want.depends_on,
                source=want.source,
                units=spec_of(want.address).units,
            )
            continue
        change = _compare(want, have, spec_of(want.address))
        if change is None:
            continue
        if not change.fields:
            notes.append(change)  # nothing to apply, but worth a mention (unmanaged settings, pending)
        else:
            changes[want.address] = change

    for broker, scopes in (prune or {}).items():
        if not scopes:
            continue
        covers = covering(scopes)  # a prefix prune may hold a scope per declared stream
        for have in observed:
            if have.broker != broker or have.address in wanted or have.address in changes:
                continue
            if covers(have.address):
                changes[have.address] = _delete(have, spec_of(have.address), None)

    # Only a delete or a replace cascades or exposes anything: without one, no dependents index.
    below = _dependents(observed) if any(c.destructive for c in changes.values()) else {}
    _cascade(changes, wanted, below, spec_of)
    if targets:
        changes = _select(changes, targets, below)
    for address, change in changes.items():
        if change.destructive:
            changes[address] = replace(change, exposure=exposure(live[address], below, spec_of))
    ordered = sorted(changes.values(), key=lambda c: _sort_key(c, spec_of))
    noted = sorted(notes, key=lambda c: _sort_key(c, spec_of))
    return Plan(changes=tuple(_with_units(c, spec_of) for c in ordered), notes=tuple(noted))


def _with_units(change: Change, spec_of: SpecOf) -> Change:
    if change.units:
        return change
    units = spec_of(change.address).units
    return replace(change, units=units) if units else change


def _sort_key(change: Change, spec_of: SpecOf) -> tuple[str, int, str, tuple[str, ...]]:
    a = change.address
    return (a.broker, spec_of(a).rank, a.kind, a.name)


def _compare(want: Resource, have: Resource, spec: KindSpec) -> Change | None:
    fields = spec.field_changes(want, have)
    remarks = spec.notes(want, have)
    if not fields and not remarks:
        return None
    managed = tuple(f for f in fields if not f.unmanaged)
    notes = tuple(f"{f.field} is set on the broker but not in the manifest (kept)" for f in fields if f.unmanaged)
    notes += tuple(remarks)
    replacing = [f for f in managed if f.forces_replacement]
    reasons = tuple(spec.replace_reason(f) for f in replacing)
    if replacing:
        reasons += tuple(spec.at_risk(have))
    return Change(
        want.address,
        Action.REPLACE if replacing else Action.UPDATE,
        dict(have.attrs),
        dict(want.attrs),
        fields=managed,
        reasons=reasons,
        depends_on=want.depends_on,
        observed_fingerprint=fingerprint(have),
        source=want.source,
        notes=notes,
    )


def _delete(have: Resource, spec: KindSpec, source: str | None) -> Change:
    return Change(
        have.address,
        Action.DELETE,
        dict(have.attrs),
        None,
        reasons=tuple(spec.at_risk(have)),
        depends_on=have.depends_on,
        observed_fingerprint=fingerprint(have),
        source=source,
    )


def _cascade(
    changes: dict[Address, Change],
    wanted: Mapping[Address, Resource],
    dependents: Mapping[Address, Sequence[Resource]],
    spec_of: SpecOf,
) -> None:
    """A replaced or deleted object takes its live dependents with it on brokers that cascade (a
    RabbitMQ queue its bindings, a stream its consumers). Plan those visibly: a dependent the
    manifest still wants is replaced in the same apply; one it does not want is named as lost."""
    pending = [c for c in changes.values() if c.destructive]
    while pending:
        parent = pending.pop()
        if not spec_of(parent.address).cascades:
            continue
        lost: list[str] = []
        for child in dependents.get(parent.address, ()):
            existing = changes.get(child.address)
            if existing is not None and existing.destructive:
                continue
            want = wanted.get(child.address)
            if want is None or want.absent:
                if want is None:
                    lost.append(str(child.address))
                continue
            changes[child.address] = Change(
                child.address,
                Action.REPLACE,
                dict(child.attrs),
                dict(want.attrs),
                fields=existing.fields if existing else (),
                reasons=(f"removed with {parent.address}, created again",),
                depends_on=want.depends_on,
                observed_fingerprint=fingerprint(child),
                source=want.source,
            )
            pending.append(changes[child.address])
        if lost:
            changes[parent.address] = _with_reasons(parent, _lost_reasons(sorted(lost)))


MAX_LISTED = 10


def _lost_reasons(lost: list[str]) -> tuple[str, ...]:
    """Name what goes with a deleted parent; a whole vhost's worth is summarised, not listed."""
    listed = tuple(f"also removes {a}" for a in lost[:MAX_LISTED])
    if len(lost) > MAX_LISTED:
        listed += (f"also removes {len(lost) - MAX_LISTED} more object(s) that depend on it",)
    return listed


def _with_reasons(change: Change, extra: tuple[str, ...]) -> Change:
    return replace(change, reasons=change.reasons + extra)


def _select(
    changes: dict[Address, Change], targets: Sequence[str], dependents: Mapping[Address, Sequence[Resource]]
) -> dict[Address, Change]:
    """Targeted changes, plus the changes they depend on and the ones they cascade into."""
    selected = {a for a in changes if any(a.matches(t) for t in targets)}
    queue = list(selected)
    while queue:
        address = queue.pop()
        change = changes[address]
        linked = list(change.depends_on)
        if change.destructive:
            linked += [r.address for r in dependents.get(address, ())]
        for other in linked:
            if other in changes and other not in selected:
                selected.add(other)
                queue.append(other)
    return {a: c for a, c in changes.items() if a in selected}
