"""Inline suppressions: `# topoctl:ignore RULE-ID[,RULE-ID...] reason` in a manifest.

A comment at the end of a line covers that line; a comment alone on its line covers the next line
that is not a comment. A finding is covered when its own line is, or when the line of its
resource's entry is (so one comment above `billing:` covers every finding about that queue).
Each suppression must give a reason; one that covers nothing is reported, so they do not pile up.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from topoctl.lint.model import Finding, Location, Severity

_COMMENT = re.compile(r"#\s*topoctl:ignore\b[ \t]*(?P<ids>[A-Za-z0-9._,-]*)[ \t]*(?P<reason>[^\n]*)")
UNUSED = "unused-suppression"
NO_REASON = "suppression-reason"


@dataclass
class Suppression:
    ids: tuple[str, ...]
    reason: str
    at: Location  # the comment
    covers: Location  # the line it covers
    used: bool = field(default=False)


def _comment_start(line: str) -> int:
    """Where a YAML comment starts on a line: a `#` at the start or after a blank, outside quotes."""
    quote = None
    for i, ch in enumerate(line):
        if quote:
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1] in " \t"):
            return i
    return -1


def scan(file: str, text: str) -> list[Suppression]:
    out: list[Suppression] = []
    lines = text.splitlines()
    for number, line in enumerate(lines, start=1):
        start = _comment_start(line)
        if start < 0:
            continue
        match = _COMMENT.match(line, start)
        if match is None:
            continue
        covers = number
        if not line[:start].strip():  # alone on its line: the next line that is not a comment
            covers = number + 1
            while covers <= len(lines) and (
                not lines[covers - 1].strip() or lines[covers - 1].lstrip().startswith("#")
            ):
                covers += 1
        ids = tuple(i for i in match["ids"].split(",") if i)
        out.append(Suppression(ids, match["reason"].strip(), Location(file, number), Location(file, covers)))
    return out


def scan_files(files: Iterable[Path]) -> list[Suppression]:
    out: list[Suppression] = []
    for path in files:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue  # the manifest loader already said what is wrong with it
        if "topoctl:ignore" in text:
            out += scan(str(path), text)
    return out


def apply(
    findings: Sequence[Finding], entries: Sequence[Location | None], suppressions: Sequence[Suppression]
) -> list[Finding]:
    """`findings` with `suppressed` set where a comment covers them (`entries`: each finding's
    resource entry line), then one finding per suppression without a reason or without use."""
    by_line: dict[Location, list[Suppression]] = {}
    for s in suppressions:
        by_line.setdefault(s.covers, []).append(s)
    out = []
    for finding, entry in zip(findings, entries, strict=True):
        covering = [s for loc in (finding.location, entry) if loc for s in by_line.get(loc, ())]
        match = next((s for s in covering if finding.rule in s.ids), None)
        if match is not None:
            match.used = True
            finding = replace(finding, suppressed=match.reason or "(no reason given)")
        out.append(finding)
    for s in suppressions:
        if not s.ids:
            out.append(
                Finding(
                    NO_REASON,
                    Severity.WARNING,
                    "topoctl:ignore names no rule: write `# topoctl:ignore RULE-ID reason`",
                    s.at,
                )
            )
        elif not s.reason:
            out.append(
                Finding(
                    NO_REASON,
                    Severity.WARNING,
                    f"topoctl:ignore {','.join(s.ids)} gives no reason: say why after the rule id",
                    s.at,
                )
            )
        if s.ids and not s.used:
            out.append(
                Finding(
                    UNUSED,
                    Severity.WARNING,
                    f"topoctl:ignore {','.join(s.ids)} suppresses nothing here: remove it",
                    s.at,
                )
            )
    return out
