"""ANSI colours for the text plan on a terminal (never in files, pipes or CI)."""

from __future__ import annotations

_GREEN, _YELLOW, _RED, _BOLD, _RESET = "\033[32m", "\033[33m", "\033[31m", "\033[1m", "\033[0m"


def _colour_of(line: str) -> str | None:
    stripped = line.lstrip()
    if stripped.startswith("-/+") or stripped.startswith("! ") or line.startswith("Warning"):
        return _RED
    if stripped.startswith("+ ") or stripped.startswith("+\t"):
        return _GREEN
    if stripped.startswith("~ "):
        return _YELLOW
    if stripped.startswith("- "):
        return _RED
    if line.startswith("Plan:") or line.startswith("No changes."):
        return _BOLD
    return None


def colourise(text: str) -> str:
    out = []
    for line in text.split("\n"):
        colour = _colour_of(line)
        out.append(f"{colour}{line}{_RESET}" if colour and line else line)
    return "\n".join(out)
