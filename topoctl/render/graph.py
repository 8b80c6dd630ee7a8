"""The message-flow graph as Mermaid (renders in GitHub Markdown) or Graphviz DOT. Pure.

Input: the resources to draw as nodes, the `Flow` edges between them (from each provider's
`flows.py`) and the brokers (name -> type). A flow endpoint that is not among the nodes (a
built-in exchange, a queue of another manifest) still gets a node, so no edge points nowhere.
Nodes are grouped by broker; dead-letter edges are dashed.

Node ids are derived from addresses but reduced to `[A-Za-z0-9_]` (Mermaid and DOT both choke on
`/`, `.`, `#` and spaces in ids, and `end` is a Mermaid keyword), so every id starts with `n_`
and colliding ids get a digest suffix. Labels are escaped for each language.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence

from topoctl.model import Address, Resource
from topoctl.providers.base import Flow

GRAPH_FORMATS = ("mermaid", "dot")
DEAD_LETTERS = "dead letters"

_UNSAFE_ID = re.compile(r"[^A-Za-z0-9_]+")


def render_graph(
    nodes: Sequence[Resource], flows: Sequence[Flow], brokers: Mapping[str, str], fmt: str = "mermaid"
) -> str:
    addresses = sorted({r.address for r in nodes} | {a for f in flows for a in (f.source, f.target)})
    ids = _ids(addresses)
    edges = sorted(set(flows), key=lambda f: (f.source, f.target, f.label, f.dead_letter))
    by_broker: dict[str, list[Address]] = {}
    for address in addresses:
        by_broker.setdefault(address.broker, []).append(address)
    if fmt == "dot":
        return _dot(by_broker, edges, ids, brokers)
    return _mermaid(by_broker, edges, ids, brokers)


def node_label(address: Address) -> str:
    """`queue shop/billing`: the kind, then the name with its parents (vhost, stream)."""
    return f"{address.kind} {'/'.join(address.name)}"


def _broker_label(name: str, brokers: Mapping[str, str]) -> str:
    kind = brokers.get(name)
    return f"{name} ({kind})" if kind else name


def _ids(addresses: Sequence[Address]) -> dict[Address, str]:
    plain = {a: "n_" + _UNSAFE_ID.sub("_", str(a)).strip("_") for a in addresses}
    seen: dict[str, int] = {}
    for ident in plain.values():
        seen[ident] = seen.get(ident, 0) + 1
    return {
        a: ident if seen[ident] == 1 else f"{ident}_{hashlib.sha256(str(a).encode()).hexdigest()[:6]}"
        for a, ident in plain.items()
    }


# -- Mermaid ------------------------------------------------------------------------------------


def _mermaid_text(text: str) -> str:
    # Inside a quoted Mermaid string, `#...;` is an entity: `#` itself must be one, then the rest.
    out = text.replace("#", "#35;")
    for char, entity in (('"', "#quot;"), ("<", "#lt;"), (">", "#gt;"), ("|", "#124;"), ("`", "#96;")):
        out = out.replace(char, entity)
    return out


def _mermaid(
    by_broker: Mapping[str, list[Address]],
    edges: Sequence[Flow],
    ids: Mapping[Address, str],
    brokers: Mapping[str, str],
) -> str:
    lines = ["flowchart LR"]
    for broker, addresses in by_broker.items():
        group = "g_" + _UNSAFE_ID.sub("_", broker)
        lines.append(f'  subgraph {group}["{_mermaid_text(_broker_label(broker, brokers))}"]')
        lines += [f'    {ids[a]}["{_mermaid_text(node_label(a))}"]' for a in addresses]
        lines.append("  end")
    for edge in edges:
        arrow = "-.->" if edge.dead_letter else "-->"
        label = f'|"{_mermaid_text(edge.label)}"|' if edge.label else ""
        lines.append(f"  {ids[edge.source]} {arrow}{label} {ids[edge.target]}")
    return "\n".join(lines) + "\n"


# -- Graphviz DOT -------------------------------------------------------------------------------


def _dot_text(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _dot(
    by_broker: Mapping[str, list[Address]],
    edges: Sequence[Flow],
    ids: Mapping[Address, str],
    brokers: Mapping[str, str],
) -> str:
    lines = [
        "digraph topoctl {",
        "  rankdir=LR;",
        '  node [shape=box, style=rounded, fontname="Helvetica"];',
        '  edge [fontname="Helvetica", fontsize=10];',
    ]
    for broker, addresses in by_broker.items():
        lines.append(f"  subgraph {_dot_text('cluster_' + broker)} {{")
        lines.append(f"    label={_dot_text(_broker_label(broker, brokers))};")
        lines += [f"    {ids[a]} [label={_dot_text(node_label(a))}];" for a in addresses]
        lines.append("  }")
    for edge in edges:
        attrs = []
        if edge.label:
            attrs.append(f"label={_dot_text(edge.label)}")
        if edge.dead_letter:
            attrs.append("style=dashed")
        suffix = f" [{', '.join(attrs)}]" if attrs else ""
        lines.append(f"  {ids[edge.source]} -> {ids[edge.target]}{suffix};")
    lines.append("}")
    return "\n".join(lines) + "\n"
