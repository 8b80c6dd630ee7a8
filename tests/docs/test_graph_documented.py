"""docs/graph.md says what `topoctl graph` draws for every broker type that has flows: one row of
its table each, named as the broker's own page names it (`# Redis (`type: redis`)`)."""

from __future__ import annotations

import re

from tests.docs.blocks import ROOT
from topoctl.providers import BROKER_TYPES, flows_of

GRAPH_DOC = ROOT / "docs" / "graph.md"
_TITLE = re.compile(r"^# (?P<name>.+?) \(`type: (?P<type>\w+)`\)$", re.MULTILINE)


def _names() -> dict[str, str]:
    """broker type -> the name its page in docs/ gives it."""
    found = (_TITLE.search(path.read_text(encoding="utf-8")) for path in sorted((ROOT / "docs").glob("*.md")))
    return {m["type"]: m["name"] for m in found if m}


def _rows(text: str) -> list[str]:
    """The first cell of each row of the table whose header starts `| broker |`."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| broker |"))
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append(line.split("|")[1].strip())
    return rows


def test_every_broker_type_the_graph_draws_has_a_row() -> None:
    names = _names()
    drawn = [t for t in BROKER_TYPES if flows_of(t) is not None]
    assert drawn and set(drawn) <= names.keys(), f"no page docs/*.md titled `# Name (`type: T`)` for {drawn}"
    rows = _rows(GRAPH_DOC.read_text(encoding="utf-8"))
    missing = [f"{names[t]} ({t})" for t in drawn if names[t] not in rows]
    assert not missing, f"docs/graph.md has no row for {missing} (rows: {rows})"


def test_the_check_would_see_a_missing_row() -> None:
    table = "| broker | nodes | edges |\n|---|---|---|\n| Kafka | topics | dead letters |\n\nKafka and Redis.\n"
    assert _rows(table) == ["Kafka"]
