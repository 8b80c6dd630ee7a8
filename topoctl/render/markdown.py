"""The plan as a pull-request comment: what matters in view, the full diff folded away."""

from __future__ import annotations

from topoctl.model import Plan
from topoctl.render.text import NO_CHANGES, SYMBOL, render_text, summary_line

MARKER = "<!-- topoctl-plan -->"
# GitHub refuses comments over 65,536 characters; keep a margin for what CI wraps around it.
LIMIT = 60_000


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown(plan: Plan, limit: int = LIMIT) -> str:
    head = [MARKER, "### topoctl plan", ""]
    if plan.empty:
        return "\n".join([*head, NO_CHANGES, ""])
    destructive = plan.destructive
    if destructive:
        head += [
            "> [!CAUTION]",
            f"> **{len(destructive)} destructive change(s)** — applying needs `--allow-destructive`:",
        ]
        for change in destructive[:20]:
            why = "; ".join(change.reasons)
            head.append(
                f"> - `{change.action.value}` `{change.address}`" + (f" — {_cell(why)}" if why else "")
            )
        if len(destructive) > 20:
            head.append(f"> - … and {len(destructive) - 20} more")
        head.append("")
    head += [f"**{summary_line(plan.summary)}**", "", "| | action | address | notes |", "|---|---|---|---|"]
    rows = []
    for change in plan.changes:
        notes = "; ".join(change.reasons)
        rows.append(
            f"| `{SYMBOL[change.action]}` | {change.action.value} | `{change.address}` | {_cell(notes)} |"
        )
    details = [
        "",
        "<details><summary>Full plan</summary>",
        "",
        "```diff",
        render_text(plan).rstrip("\n"),
        "```",
        "",
        "</details>",
        "",
    ]

    text = "\n".join(head + rows + details)
    if len(text) <= limit:
        return text
    # Too long for one comment: keep the table as far as it fits and say what was cut.
    kept: list[str] = []
    budget = limit - len("\n".join(head)) - 400
    for row in rows:
        budget -= len(row) + 1
        if budget < 0:
            break
        kept.append(row)
    cut = len(rows) - len(kept)
    tail = [
        "",
        f"_{cut} more change(s) and the full diff were left out to fit a comment; run `topoctl plan` or see the CI log._",
        "",
    ]
    return "\n".join(head + kept + tail)
