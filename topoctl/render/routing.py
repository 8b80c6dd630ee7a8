"""The "Routing changes" section of a plan (text and Markdown): each representative message whose
destinations differ, `before -> after`, grouped by where it enters. Absent when there are none."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import groupby

from topoctl.model import RoutingChange
from topoctl.render.route import UNROUTABLE, short

HEADING = "Routing changes (messages whose destinations differ):"
# Lines of the text section; the JSON plan carries every change.
MAX_TEXT = 100


def _side(addresses: Sequence[str]) -> str:
    return ", ".join(short(a) for a in addresses) if addresses else UNROUTABLE


def group_title(change: RoutingChange) -> str:
    if change.message.get("dead_letter"):
        reason = change.message.get("reason")
        return f"dead letters of {change.source}" + (f" ({reason})" if reason else "")
    return change.source or f"{change.broker} (subjects)"


def _group_key(change: RoutingChange) -> tuple[str, str]:
    return change.broker, group_title(change)


def text_lines(routing: Sequence[RoutingChange], limit: int = MAX_TEXT) -> list[str]:
    if not routing:
        return []
    out = [HEADING]
    shown = 0
    # Grouped by where the messages enter, brokers in name order, groups in the order found.
    first: dict[tuple[str, str], int] = {}
    for i, change in enumerate(routing):
        first.setdefault(_group_key(change), i)
    ordered = sorted(routing, key=lambda c: (c.broker, first[_group_key(c)]))
    for (_, title), group in groupby(ordered, key=_group_key):
        if shown >= limit:
            break
        changes = list(group)[: limit - shown]
        width = max(len(c.label) for c in changes)
        out += ["", f"  {title}"]
        out += [f"    {c.label.ljust(width)}  {_side(c.before)} -> {_side(c.after)}" for c in changes]
        shown += len(changes)
    if len(routing) > shown:
        out += ["", f"  ... and {len(routing) - shown} more (the JSON plan lists them all)"]
    return [*out, ""]
