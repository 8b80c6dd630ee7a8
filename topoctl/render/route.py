"""`topoctl route` output: a small tree of the paths (text) or the destinations (JSON)."""

from __future__ import annotations

import json

from topoctl.model import Address
from topoctl.routing.model import BINDING, Hop, Route

UNROUTABLE = "(unroutable)"


def render_route(route: Route, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(route.to_json(), indent=2) + "\n"
    return render_route_text(route)


def _describe(route: Route) -> str:
    m = route.message
    parts = []
    if m.dead_letter:
        parts.append(f"dead letters of {m.source}" + (f" ({m.reason})" if m.reason != "rejected" else ""))
    elif m.source is not None:
        parts.append(str(m.source))
    else:
        parts.append(m.broker)
    if m.source is None:
        parts.append(f"subject {m.key}")
    elif m.source.kind in ("exchange", "queue"):
        parts.append(f"routing key {json.dumps(m.key)}")
    if m.headers:
        name = "attributes" if m.source is not None and m.source.kind == "sns_topic" else "headers"
        parts.append(f"{name} " + ", ".join(f"{k}={json.dumps(v)}" for k, v in sorted(m.headers.items())))
    if m.body is not None:
        parts.append(f"body {m.body}")
    return "Message: " + ", ".join(parts)


def render_route_text(route: Route) -> str:
    lines = [_describe(route)]
    # The paths share their first hops: draw them as one tree, children in the order met.
    children: dict[tuple[Hop, ...], list[Hop]] = {}
    roots: list[Hop] = []
    for destination in route.destinations:
        for i, hop in enumerate(destination.path):
            parent = destination.path[:i]
            siblings = children.setdefault(parent, []) if i else roots
            if hop not in siblings:
                siblings.append(hop)

    def draw(prefix: tuple[Hop, ...], hop: Hop, indent: str, last: bool, top: bool) -> None:
        label = str(hop.address) + (f"  ({hop.via})" if hop.via != BINDING else "")
        lines.append(label if top else f"{indent}{'└── ' if last else '├── '}{label}")
        path = (*prefix, hop)
        below = children.get(path, [])
        inner = "" if top else indent + ("    " if last else "│   ")
        for i, child in enumerate(below):
            draw(path, child, inner, i == len(below) - 1, False)

    for root in roots:
        draw((), root, "", True, True)
    lines += [f"# {note}" for note in route.notes]
    count = len(route.destinations)
    if count:
        lines.append(f"Routed to {count} destination{'s' if count != 1 else ''}.")
    else:
        lines.append(f"{UNROUTABLE}: no destination receives this message.")
    return "\n".join(lines) + "\n"


def short(address: str) -> str:
    """A destination as the plan shows it: its name with parents (`shop/billing`)."""
    try:
        return Address.parse(address).display_name
    except ValueError:
        return address
