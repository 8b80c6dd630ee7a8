"""The "Routing changes" of a plan: representative messages whose destinations differ before and after.

Before is what the brokers hold (the observed resources the plan was made from); after is that
state with the plan's changes applied, cascades included (a replaced queue loses the bindings the
manifest does not declare). Each broker family derives its representative messages from the
patterns on both sides (`Router.probes`); this module routes each on both sides and keeps only real
differences. Pure: no broker is contacted.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence

from topoctl.errors import RouteError
from topoctl.model import Action, Address, Change, Resource, RoutingChange
from topoctl.providers import router_of

# Messages tried per broker; a plan of thousands of bindings stays a plan, not a benchmark.
MAX_PROBES = 20_000


def after_state(
    observed: Sequence[Resource], changes: Sequence[Change], cascades: Callable[[Address], bool]
) -> list[Resource]:
    """`observed` as it will be once `changes` are applied."""
    live = {r.address: r for r in observed}
    below: dict[Address, list[Address]] = defaultdict(list)
    for r in observed:
        for parent in r.depends_on:
            below[parent].append(r.address)
    planned = {c.address for c in changes}
    for change in changes:
        if change.destructive and cascades(change.address):
            # The broker deletes the dependents too; those the plan re-creates are changes of their own.
            todo = list(below.get(change.address, ()))
            while todo:
                child = todo.pop()
                if child not in planned and live.pop(child, None) is not None:
                    todo += below.get(child, ())
        if change.action is Action.DELETE:
            live.pop(change.address, None)
        elif change.action is Action.UPDATE:
            base = live.get(change.address)
            attrs = dict(base.attrs) if base is not None else dict(change.after or {})
            for f in change.fields:
                if not f.unmanaged:
                    attrs[f.field] = f.after
            live[change.address] = Resource(change.address, attrs, change.depends_on)
        else:
            live[change.address] = Resource(change.address, dict(change.after or {}), change.depends_on)
    return list(live.values())


def routing_changes(
    changes: Sequence[Change],
    observed: Sequence[Resource],
    brokers: Mapping[str, str],
    cascades: Callable[[Address], bool],
) -> tuple[RoutingChange, ...]:
    """The plan's routing section; empty when nothing that routes changes."""
    out: list[RoutingChange] = []
    for broker, broker_type in brokers.items():
        router = router_of(broker_type)
        if router is None:
            continue
        mine = [c for c in changes if c.broker == broker]
        live = [r for r in observed if r.broker == broker]
        addresses = {r.address for r in live}
        if not any(router.relevant(c, addresses) for c in mine):
            continue
        before = router.topology(broker, live)
        after = router.topology(broker, after_state(live, mine, cascades))
        seen: set[str] = set()
        # A message that only adds headers to a key already listed, with the same difference, says
        # nothing new (the headers reach a headers exchange the change does not touch).
        deltas: set[tuple[str, str, frozenset[str], frozenset[str]]] = set()
        for message in router.probes(before, after, mine):
            if message.identity in seen:
                continue
            seen.add(message.identity)
            if len(seen) > MAX_PROBES:
                break
            try:
                was, will = before.route(message).addresses, after.route(message).addresses
            except RouteError:  # refused on one side (an exchange type topoctl does not model): not a re-route
                continue
            if was != will:
                source = str(message.source) if message.source is not None else ""
                delta = (
                    f"{source}|{message.dead_letter}",
                    message.key,
                    frozenset(was) - set(will),
                    frozenset(will) - set(was),
                )
                if message.headers and message.source is not None and delta in deltas:
                    continue
                deltas.add(delta)
                out.append(RoutingChange(broker, source, router.label(message), message.to_json(), was, will))
    return tuple(out)
