"""Every option of every `topoctl <command> --help` is written down in README.md or docs/."""

from __future__ import annotations

import re

import typer

from tests.docs.blocks import ROOT
from tests.docs.test_docs import DOCUMENTS
from topoctl.cli import app


def _options() -> dict[str, set[str]]:
    """command -> its option strings (`--out`, `-o`), the top level's as `topoctl`; help included."""
    group = typer.main.get_command(app)
    helps = set(group.context_settings.get("help_option_names", ["--help"]))
    commands = {"topoctl": group, **group.commands}  # type: ignore[attr-defined]
    return {
        name: helps | {o for p in command.params for o in (*p.opts, *p.secondary_opts) if o.startswith("-")}
        for name, command in commands.items()
    }


def _documented(option: str, text: str) -> bool:
    # The option as a word: `-o` is not found in `--out`, nor `--format` in `--formats`.
    return re.search(rf"(?<![\w-]){re.escape(option)}(?![\w-])", text) is not None


def test_every_option_of_every_command_is_documented() -> None:
    text = "\n".join(path.read_text(encoding="utf-8") for path in DOCUMENTS)
    options = _options()
    assert {"plan", "apply", "show", "export", "graph", "validate"} <= options.keys()
    assert {"--out", "-o", "--file", "-f", "--version", "-h"} <= set().union(*options.values())
    missing = sorted(f"{c} {o}" for c, opts in options.items() for o in opts if not _documented(o, text))
    assert not missing, f"options in --help but not in README.md or docs/: {missing}"


def test_the_check_would_see_a_missing_option() -> None:
    assert _documented("-o", "`-o`/`--out PLANFILE`")
    assert not _documented("-o", "--out only")
    assert not _documented("--format", "--formats")
    assert ROOT / "README.md" in DOCUMENTS
