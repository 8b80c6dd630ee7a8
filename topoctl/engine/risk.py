"""What a destructive change puts at risk, and whether that grew since a saved plan was made.

A reviewer approves a delete or replace together with what it takes along: the messages in a queue,
the queues of a vhost, the consumers of a stream, the subscriptions of a topic. A saved plan records
that as its `exposure`; `apply PLANFILE` reads the brokers again and refuses the plan when the same
change would now take more (a new object would go with it, or a count such as messages grew). A
count that shrank (messages consumed meanwhile) puts less at risk and is fine.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence

from topoctl.model import Address, Resource
from topoctl.providers.base import KindSpec

Exposure = dict[str, dict[str, int]]  # address -> volatile counts


def dependents(observed: Iterable[Resource]) -> dict[Address, list[Resource]]:
    """Live resources by what they depend on."""
    index: dict[Address, list[Resource]] = defaultdict(list)
    for r in observed:
        for dep in r.depends_on:
            index[dep].append(r)
    return index


def exposure(
    root: Resource,
    below: Mapping[Address, Sequence[Resource]],
    spec_of: Callable[[Address], KindSpec],
) -> Exposure:
    """`root` and everything that a delete of it deletes on the broker (through kinds that cascade,
    transitively: a vhost's queues and their bindings), each with its at-risk counts."""
    out: Exposure = {}
    stack = [root]
    while stack:
        resource = stack.pop()
        key = str(resource.address)
        if key in out:
            continue
        spec = spec_of(resource.address)
        out[key] = spec.exposure(resource)
        if spec.cascades:
            stack.extend(below.get(resource.address, ()))
    return out


def grown(approved: Mapping[str, Mapping[str, int]], now: Mapping[str, Mapping[str, int]]) -> list[str]:
    """What `now` puts at risk beyond `approved`, one phrase each (empty: nothing more)."""
    out = []
    for address in sorted(now):
        if address not in approved:
            out.append(f"{address} would now be deleted with it")
            continue
        for key, value in sorted(now[address].items()):
            was = approved[address].get(key, 0)
            if value > was:
                out.append(f"{address}: {key} {was} -> {value}")
    return out
