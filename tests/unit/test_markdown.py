"""The Markdown plan (a PR comment): goldens, GitHub's size limit, escaping."""

from __future__ import annotations

import re

import pytest

from topoctl.engine.diff import diff
from topoctl.model import Action, Address, Change, Plan, Resource
from topoctl.render import render
from topoctl.render.markdown import MARKER, marker, render_markdown

from .fakes import KINDS, q
from .test_render import check_golden, sample_plan


def _many(count: int) -> Plan:
    wanted = [q(f"queue-{i:05d}", type="classic", arguments={"x-max-length": i}) for i in range(count)]
    return diff(wanted, [], lambda a: KINDS[a.kind])


def _diff_block(text: str) -> list[str]:
    match = re.search(r"^(`{3,})diff\n(.*?)\n\1$", text, re.S | re.M)
    assert match, text
    return match.group(2).split("\n")


def test_plan_with_a_replace_matches_golden() -> None:
    text = render(sample_plan(), "markdown")
    check_golden("plan.md", text)
    # The contract: the warning on top, then the summary and table, the diff folded away.
    assert (
        text.index("[!CAUTION]") < text.index("**Plan: 3 to add") < text.index("| Address |") < text.index("<details>")
    )


def test_empty_plan_with_notes_matches_golden() -> None:
    note = Change(
        Address("b", "queue", ("v", "audit")),
        Action.UPDATE,
        {"type": "classic"},
        {"type": "classic"},
        notes=("x-queue-version = 2 on the broker, not in the manifest (kept)",),
    )
    check_golden("plan-empty.md", render_markdown(Plan(changes=(), notes=(note,))))


def test_truncated_plan_matches_golden() -> None:
    check_golden("plan-truncated.md", render_markdown(sample_plan(), limit=1_500))


def test_keyed_marker_tells_plans_apart() -> None:
    prod = render_markdown(sample_plan(), key="prod")
    assert prod.startswith("<!-- topoctl-plan:prod -->\n")
    assert MARKER not in prod  # a job looking for the unkeyed comment never updates this one
    assert "### topoctl plan · `prod`" in prod
    # A key cannot close the HTML comment early.
    assert marker("eu prod -->x") == "<!-- topoctl-plan:eu-prod-x -->"


def test_diff_symbols_are_in_column_0_for_github() -> None:
    lines = _diff_block(render_markdown(sample_plan()))
    assert not [line for line in lines if re.match(r"^\s+[-+~!] ", line)]
    assert '+   exchange "v/orders"' in lines
    assert "!       arguments.x-max-length = 10 -> 20" in lines
    assert '-/+ queue "v/billing"' in lines


@pytest.mark.parametrize("limit", [1_500, 5_000, 20_000, 60_000])
def test_stays_under_the_limit_and_says_what_was_cut(limit: int) -> None:
    text = render_markdown(_many(3000), limit=limit)
    assert len(text) <= limit
    assert text.startswith(MARKER)
    assert "**Plan: 3000 to add, 0 to change, 0 to destroy.**" in text
    assert "Parts were left out to fit GitHub's comment size limit" in text


def test_details_shrink_before_the_table() -> None:
    plan = _many(250)
    full = render_markdown(plan, limit=10**9)
    assert len(full) > 40_000
    text = render_markdown(plan, limit=40_000)
    assert text.count("| `+` |") == 250  # every row kept
    shown = int(re.search(r"the full diff shows (\d+) of 250 changes", text).group(1))  # type: ignore[union-attr]
    assert 0 < shown < 250
    assert f"Full plan (first {shown} of 250 changes)" in text
    tight = render_markdown(plan, limit=8_000)
    assert "<details>" not in tight and "the full diff was left out" in tight
    assert "the table lists" in tight


def test_destructive_warning_is_kept_longest() -> None:
    live = [Resource(Address("b", "queue", ("v", f"old-{i:04d}")), {"type": "classic"}) for i in range(500)]
    doomed = [Resource(r.address, {}, absent=True) for r in live]
    text = render_markdown(diff(doomed, live, lambda a: KINDS[a.kind]), limit=5_000)
    assert len(text) <= 5_000
    assert "**500 destructive changes**" in text
    assert "the table was left out" in text and "the warning names" in text


def test_backticks_and_pipes_cannot_break_the_markdown() -> None:
    odd = Resource(Address("b", "queue", ("v", "a|b`c")), {"type": "```"})
    text = render_markdown(diff([odd], [], lambda a: KINDS[a.kind]))
    assert "| ``b/queue/v/a\\|b`c`` |" in text
    assert "````diff" in text  # a fence longer than the value's backticks
    assert _diff_block(text)[-1].startswith("Plan: 1 to add")
