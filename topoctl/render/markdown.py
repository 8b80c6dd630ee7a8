"""The plan as a pull-request comment: what matters in view, the full diff folded away.

Layout, top to bottom: a hidden marker line (so a CI job finds and updates its own comment), a
heading, a GitHub alert listing the destructive changes, the `Plan: ...` summary, a table of the
changes, and the text plan collapsed in `<details>` as a ```diff block.

GitHub refuses comments over 65,536 characters. When the whole comment does not fit, the least
useful part goes first: the folded diff loses change blocks from its end, then the table loses
rows, then the alert; whatever was cut is said in the comment.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from topoctl.model import Action, Change, Plan, RoutingChange
from topoctl.render.text import NO_CHANGES, SYMBOL, flatten, render_change, render_text, summary_line

MARKER = "<!-- topoctl-plan -->"
# GitHub's hard limit is 65,536; keep a margin for what a CI job wraps around the comment.
LIMIT = 60_000
# A cell of the table or a line of the alert is cut here: one huge reason must not crowd out the rest.
CELL_MAX = 300

_KEY_UNSAFE = re.compile(r"[^A-Za-z0-9_.:/@+=-]+")
# Backslash-escaped in table cells and alert lines so reasons like `order.*` or `<queue>.dlq` stay literal.
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<|~])")
# A text-plan line that carries a diff symbol after its indentation.
_SYMBOL_LINE = re.compile(r"^(\s+)([-+~!])( .*)?$")
_BACKTICKS = re.compile(r"`+")


def marker(key: str | None = None) -> str:
    """The hidden first line; with a key (`prod`, `eu/staging`) several plans in one PR stay apart.

    `<!-- topoctl-plan -->` is not a substring of `<!-- topoctl-plan:prod -->`, so a search for one
    never finds the other.
    """
    if not key:
        return MARKER
    # `--` cannot appear inside an HTML comment, and `>` could end it: both are folded away.
    safe = re.sub("-{2,}", "-", _KEY_UNSAFE.sub("-", key)).strip("-")
    return f"<!-- topoctl-plan:{safe} -->"


def render_markdown(plan: Plan, limit: int = LIMIT, key: str | None = None) -> str:
    head = [marker(key), "### topoctl plan" + (f" · {_code(key)}" if key else ""), ""]
    if plan.empty:
        return "\n".join(head + _empty_body(plan)).rstrip("\n") + "\n"

    changes = plan.changes
    destructive = plan.destructive
    pieces = _Pieces(plan)

    def compose(n_alert: int, n_rows: int, n_blocks: int, n_routes: int | None = None) -> str:
        n_routes = routes if n_routes is None else n_routes
        lines = list(head)
        lines += _alert(destructive, n_alert)
        lines += [f"**{summary_line(plan.summary)}**", ""]
        lines += _cut_note(len(changes), n_rows, n_blocks, len(destructive), n_alert)
        lines += _table(changes, n_rows, pieces)
        lines += routing_section(plan.routing, n_routes)
        lines += _details(plan, n_blocks, pieces)
        return "\n".join(lines).rstrip("\n") + "\n"

    routes = min(len(plan.routing), MAX_ROUTING_ROWS)
    alert, rows, blocks = len(destructive), len(changes), len(changes)
    # The rows alone over the limit: the whole comment cannot fit, so its full diff is not made.
    if sum(len(row) + 1 for row in pieces.rows(rows)) <= limit:
        text = compose(alert, rows, blocks)
        if len(text) <= limit:
            return text
    # Shrink one part at a time, in order of least value to a reviewer; each is monotonic in its count.
    blocks = _largest_fitting(lambda n: len(compose(alert, rows, n)), blocks, limit)
    if blocks == 0:
        routes = _largest_fitting(lambda n: len(compose(alert, rows, 0, n)), routes, limit)
        if routes == 0:
            rows = _largest_fitting(lambda n: len(compose(alert, n, 0, 0)), rows, limit)
            if rows == 0:
                alert = _largest_fitting(lambda n: len(compose(n, 0, 0, 0)), alert, limit)
    return compose(alert, rows, blocks)


class _Pieces:
    """Each change's table row and folded diff block, made once: fitting the size limit composes
    the comment a few dozen times, and re-rendering 10,000 changes each time took seconds."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self._rows: list[str] = []
        self._blocks: list[list[str]] = []
        self._ticks: list[int] = []  # the longest run of backticks in each block
        self._full: list[str] | None = None

    def rows(self, n: int) -> list[str]:
        while len(self._rows) < n:
            self._rows.append(_row(self.plan.changes[len(self._rows)]))
        return self._rows[:n]

    def blocks(self, n: int) -> tuple[list[str], int]:
        """The diff lines of the first `n` changes, and their longest run of backticks."""
        while len(self._blocks) < n:
            block = [_diff_line(line) for line in (*render_change(self.plan.changes[len(self._blocks)]), "")]
            self._blocks.append(block)
            self._ticks.append(_ticks(block))
        return [line for block in self._blocks[:n] for line in block], max(self._ticks[:n], default=0)

    def full(self) -> list[str]:
        if self._full is None:
            self._full = [_diff_line(line) for line in render_text(self.plan).rstrip("\n").split("\n")]
        return self._full


def _largest_fitting(size: Callable[[int], int], high: int, limit: int) -> int:
    """The largest n in [0, high] with size(n) <= limit (0 when none does); size grows with n.
    Probes 1, 2, 4, ... first: a big plan fits a few hundred changes, and probing n = high / 2
    would render half of them for nothing."""
    low, probe = 0, 1
    while probe <= high and size(probe) <= limit:
        low, probe = probe, probe * 2
    high = min(high, probe - 1)
    while low < high:
        mid = (low + high + 1) // 2
        if size(mid) <= limit:
            low = mid
        else:
            high = mid - 1
    return low


def _empty_body(plan: Plan) -> list[str]:
    lines = [f"**{NO_CHANGES}**", ""]
    if plan.notes:
        # The text plan of an empty plan is the "No changes" line, a blank, a heading, then the notes.
        lines += _fold("Notes (nothing to apply)", render_text(plan).rstrip("\n").split("\n")[3:])
    return lines


def _alert(destructive: tuple[Change, ...], shown: int) -> list[str]:
    if not destructive:
        return []
    count = len(destructive)
    lines = [
        "> [!CAUTION]",
        f"> **{count} destructive change{'s' if count != 1 else ''}**: "
        "`topoctl apply` refuses them unless `--allow-destructive` is given.",
    ]
    for change in destructive[:shown]:
        reasons = "; ".join(change.reasons)
        lines.append(
            f"> - **{change.action.value}** {_code(str(change.address))}" + (f": {_cell(reasons)}" if reasons else "")
        )
    if shown < count:
        lines.append(f"> - and {count - shown} more")
    return [*lines, ""]


def _cut_note(total: int, rows: int, blocks: int, destructive: int, alert: int) -> list[str]:
    cut = []
    if blocks < total:
        cut.append(f"the full diff shows {blocks} of {total} changes" if blocks else "the full diff was left out")
    if rows < total:
        cut.append(f"the table lists {rows} of {total} changes" if rows else "the table was left out")
    if alert < destructive:
        cut.append(f"the warning names {alert} of {destructive} destructive changes")
    if not cut:
        return []
    return [
        "> [!NOTE]",
        f"> Parts were left out to fit GitHub's comment size limit: {'; '.join(cut)}. "
        "See the whole plan in the CI log or with `topoctl show` on the saved plan.",
        "",
    ]


def _table(changes: tuple[Change, ...], shown: int, pieces: _Pieces | None = None) -> list[str]:
    if shown == 0:
        return []
    lines = ["| | Address | Action | Fields | Reasons and notes |", "|:-:|---|---|---|---|"]
    lines += pieces.rows(shown) if pieces is not None else [_row(change) for change in changes[:shown]]
    return [*lines, ""]


def _row(change: Change) -> str:
    # Notes too: "lowering max_msgs removes what is over the limit" belongs in view, not folded.
    remarks = "; ".join((*change.reasons, *change.notes))
    return (
        f"| {_code(SYMBOL[change.action])} | {_code(str(change.address))} | {change.action.value} "
        f"| {_fields_cell(_field_paths(change))} | {_cell(remarks)} |"
    )


def _field_paths(change: Change) -> list[str]:
    """What an update or replace touches, key by key (`arguments.x-max-length`)."""
    if change.action not in (Action.UPDATE, Action.REPLACE):
        return []
    paths: list[str] = []
    for f in change.fields:
        for path, _, _ in flatten(f.field, f.before, f.after):
            paths.append(path)
    return paths


# Rows of the "Routing changes" table; the JSON plan carries every one.
MAX_ROUTING_ROWS = 50
LABEL_MAX = 120  # an SNS body can be long; the JSON plan has it whole


def routing_section(routing: tuple[RoutingChange, ...], shown: int) -> list[str]:
    """Messages the plan re-routes, `before → after`; nothing at all when there are none."""
    if not routing:
        return []
    from topoctl.render.route import UNROUTABLE, short
    from topoctl.render.routing import group_title

    def side(addresses: tuple[str, ...]) -> str:
        if not addresses:
            return f"_{UNROUTABLE}_"
        listed = ", ".join(_code(short(a)) for a in addresses[:5])
        return listed + (f" and {len(addresses) - 5} more" if len(addresses) > 5 else "")

    lines = ["#### Routing changes", ""]
    if shown:
        lines += ["| From | Message | Before | After |", "|---|---|---|---|"]
        for r in routing[:shown]:
            label = r.label if len(r.label) <= LABEL_MAX else r.label[: LABEL_MAX - 1] + "…"
            lines.append(f"| {_code(group_title(r))} | {_code(label)} | {side(r.before)} | {side(r.after)} |")
        lines.append("")
    if shown < len(routing):
        more = len(routing) - shown
        lines += [f"{more} more re-routed message(s) are in the JSON plan (`topoctl show PLANFILE --format json`).", ""]
    return lines


def _details(plan: Plan, shown: int, pieces: _Pieces | None = None) -> list[str]:
    total = len(plan.changes)
    if shown == 0:
        return []
    pieces = pieces if pieces is not None else _Pieces(plan)
    if shown == total:
        return _fold("Full plan", pieces.full())
    head = ["topoctl will perform the following actions:", ""]
    blocks, ticks = pieces.blocks(shown)
    tail = [f"# ... {total - shown} more change(s) left out to fit a comment", "", summary_line(plan.summary)]
    body = [_diff_line(line) for line in head] + blocks + [_diff_line(line) for line in tail]
    fence = "`" * max(3, max(ticks, _ticks(head), _ticks(tail)) + 1)
    return _fold(f"Full plan (first {shown} of {total} changes)", body, fence)


def _fold(title: str, body: list[str], fence: str | None = None) -> list[str]:
    fence = fence or _fence(body)
    return [f"<details><summary>{title}</summary>", "", f"{fence}diff", *body, fence, "", "</details>", ""]


def _diff_line(line: str) -> str:
    """Move the plan symbol to column 0, where GitHub's diff highlighting looks for it.

    `+` and `-` stay (green, red); `~` becomes `!`, the symbol GitHub colours as "changed"; reason
    lines (`!`) already are. Indentation after the symbol is kept so the columns still line up.
    `-/+` already starts the line.
    """
    m = _SYMBOL_LINE.match(line)
    if m is None:
        return line
    symbol = "!" if m.group(2) == "~" else m.group(2)
    return f"{symbol}{m.group(1)}{m.group(3) or ''}"


def _fence(body: list[str]) -> str:
    # A value holding ``` must not end the code block early: fence with more backticks than any run.
    return "`" * max(3, _ticks(body) + 1)


def _ticks(lines: Sequence[str]) -> int:
    """The longest run of backticks in `lines`."""
    return max((len(run) for line in lines if "`" in line for run in _BACKTICKS.findall(line)), default=0)


def _code(text: str) -> str:
    """An inline code span that survives backticks and pipes in the text (addresses may hold both)."""
    text = text.replace("|", "\\|").replace("\n", " ")
    longest = max((len(run) for run in _BACKTICKS.findall(text)), default=0) if "`" in text else 0
    ticks = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{ticks}{pad}{text}{pad}{ticks}"


def _cell(text: str) -> str:
    """One line of plain text for a table cell or the alert: escaped, bounded."""
    text = " ".join(text.split())
    if len(text) > CELL_MAX:
        text = text[: CELL_MAX - 1] + "…"
    return _MD_SPECIAL.sub(r"\\\1", text)


def _fields_cell(paths: list[str]) -> str:
    paths = list(dict.fromkeys(paths))
    shown: list[str] = []
    size = 0
    for path in paths:
        size += len(path) + 4
        if size > CELL_MAX and shown:
            return ", ".join(shown) + f" and {len(paths) - len(shown)} more"
        shown.append(_code(path))
    return ", ".join(shown)
