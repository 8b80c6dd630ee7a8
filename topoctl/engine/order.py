"""A plan -> waves of steps that can run at the same time.

Deletes come first, dependents before what they depend on (a binding before its queue); then
creates and updates, dependencies first (a DLQ before the queue that dead-letters into it). A
replace is split into its delete and its create, so a replaced queue's bindings are deleted with
it and created again after it.

A provider may declare that some creates need not wait a wave for what they depend on
(`KindSpec.created_together`): its driver takes a whole topology in one call and creates it in
order itself (RabbitMQ's definitions import: exchanges, then queues, then bindings), so a binding
created with its queue costs one bulk call and one check instead of two.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

from topoctl.errors import PlanError
from topoctl.model import Action, Address, Change, Plan
from topoctl.providers import provider


def split(change: Change) -> tuple[Change | None, Change | None]:
    """(delete step, create/update step) of one change."""
    if change.action is Action.DELETE:
        return change, None
    if change.action is Action.REPLACE:
        return (
            replace(change, action=Action.DELETE, after=None, fields=()),
            replace(change, action=Action.CREATE, before=None, fields=()),
        )
    return None, change


def waves(plan: Plan) -> list[list[Change]]:
    deletes: dict[Address, Change] = {}
    writes: dict[Address, Change] = {}
    created: set[Address] = set()  # plain creates (not the second half of a replace)
    for change in plan.changes:
        if change.action is Action.CREATE:
            created.add(change.address)
        d, w = split(change)
        if d is not None:
            deletes[d.address] = d
        if w is not None:
            writes[w.address] = w

    # X depends on Y: delete X before Y, so Y's delete level is above X's.
    delete_after: dict[Address, list[Address]] = {a: [] for a in deletes}
    for change in deletes.values():
        for dep in change.depends_on:
            if dep in deletes:
                delete_after[dep].append(change.address)
    delete_levels = _levels(deletes, lambda a: [(b, 1) for b in delete_after[a]])
    together = _created_together(plan)

    def write_before(a: Address) -> list[tuple[Address, int]]:
        # A dependency that the provider creates in the same call costs no wave (see module doc).
        kinds = together.get((a.broker, a.kind)) if a in created else None
        if not kinds:
            return [(d, 1) for d in writes[a].depends_on if d in writes]
        return [
            (d, 0 if d.kind in kinds and d in created and d.broker == a.broker and d.name[0] == a.name[0] else 1)
            for d in writes[a].depends_on
            if d in writes
        ]

    write_levels = _levels(writes, write_before)

    out: list[list[Change]] = []
    for steps, levels in ((deletes, delete_levels), (writes, write_levels)):
        grouped: dict[int, list[Change]] = {}
        for address, change in steps.items():
            grouped.setdefault(levels[address], []).append(change)
        out.extend(grouped[level] for level in sorted(grouped))
    return out


def _created_together(plan: Plan) -> dict[tuple[str, str], frozenset[str]]:
    """(broker, kind) -> the kinds its creates may share a wave with, for the brokers of the plan
    whose provider declares any (a plan that does not name its brokers' types has none)."""
    out: dict[tuple[str, str], frozenset[str]] = {}
    for broker, broker_type in plan.brokers.items():
        try:
            kinds = provider(broker_type).kinds
        except ValueError:  # a type this build does not know: the plain order
            continue
        out.update({(broker, kind): spec.created_together for kind, spec in kinds.items() if spec.created_together})
    return out


def _levels(
    nodes: dict[Address, Change], before: Callable[[Address], Sequence[tuple[Address, int]]]
) -> dict[Address, int]:
    """level(a) = max(level(b) + gap for (b, gap) that must run before a), 0 for none: a gap of 1
    puts b in an earlier wave, 0 in the same one. A cycle has no order that works, so it is an
    error naming it, before anything runs."""
    levels: dict[Address, int] = {}
    path: list[Address] = []

    def level(a: Address) -> int:
        if a in levels:
            return levels[a]
        if a in path:
            cycle = [*path[path.index(a) :], a]
            raise PlanError("dependency cycle: " + " -> ".join(str(x) for x in cycle))
        path.append(a)
        result = max((level(b) + gap for b, gap in before(a)), default=0)
        path.pop()
        levels[a] = result
        return result

    for address in nodes:
        level(address)
    return levels
