"""A plan -> waves of steps that can run at the same time.

Deletes come first, dependents before what they depend on (a binding before its queue); then
creates and updates, dependencies first (a DLQ before the queue that dead-letters into it). A
replace is split into its delete and its create, so a replaced queue's bindings are deleted with
it and created again after it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

from topoctl.errors import PlanError
from topoctl.model import Action, Address, Change, Plan


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
    for change in plan.changes:
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
    delete_levels = _levels(deletes, lambda a: delete_after[a])
    write_levels = _levels(writes, lambda a: [d for d in writes[a].depends_on if d in writes])

    out: list[list[Change]] = []
    for steps, levels in ((deletes, delete_levels), (writes, write_levels)):
        grouped: dict[int, list[Change]] = {}
        for address, change in steps.items():
            grouped.setdefault(levels[address], []).append(change)
        out.extend(grouped[level] for level in sorted(grouped))
    return out


def _levels(nodes: dict[Address, Change], before: Callable[[Address], Sequence[Address]]) -> dict[Address, int]:
    """level(a) = 1 + max(level(b) for b that must run before a). A cycle has no order that
    works, so it is an error naming it, before anything runs."""
    levels: dict[Address, int] = {}
    path: list[Address] = []

    def level(a: Address) -> int:
        if a in levels:
            return levels[a]
        if a in path:
            cycle = [*path[path.index(a) :], a]
            raise PlanError("dependency cycle: " + " -> ".join(str(x) for x in cycle))
        path.append(a)
        result = 1 + max((level(b) for b in before(a)), default=-1)
        path.pop()
        levels[a] = result
        return result

    for address in nodes:
        level(address)
    return levels
