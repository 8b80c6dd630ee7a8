"""`topoctl graph`: the manifest's message flow, offline (no broker is contacted).

Each provider's `flows.flows(desired)` gives the edges. The nodes are the resources of the kinds
that carry messages: a provider may name them in `flows.NODE_KINDS`; otherwise they are the kinds
its edges connect, so a queue nothing is bound to still shows, alone.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

from topoctl.manifest.loader import Manifest
from topoctl.model import Resource
from topoctl.providers import flows_of
from topoctl.providers.base import Flow


@dataclass(frozen=True)
class Graph:
    nodes: list[Resource]
    flows: list[Flow]
    brokers: dict[str, str]
    # Broker types without `flows.py`: drawn as nothing, and said so on stderr.
    unsupported: list[str] = field(default_factory=list)


def graph_of(manifest: Manifest) -> Graph:
    nodes: list[Resource] = []
    edges: list[Flow] = []
    unsupported: list[str] = []
    for name, spec in manifest.brokers.items():
        flows = flows_of(spec.type)
        if flows is None:
            unsupported.append(f"{name} ({spec.type})")
            continue
        desired = [r for r in spec.resources if not r.absent]
        found = flows(desired)
        kinds = getattr(sys.modules.get(flows.__module__), "NODE_KINDS", None)
        if kinds is None:
            kinds = {a.kind for f in found for a in (f.source, f.target) if a.broker == name}
        nodes += [r for r in desired if r.kind in kinds]
        edges += found
    return Graph(nodes, edges, {n: s.type for n, s in manifest.brokers.items()}, unsupported)
