"""CLI behaviour that needs no broker: errors, exit codes, saved plans, no tracebacks."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli import topoctl
from topoctl.engine.diff import diff
from topoctl.model import Plan

from .fakes import KINDS, q


def test_malformed_manifest_is_one_line_with_file_and_line_and_exit_1(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nbrokers:\n  r:\n    type: kafka\n  r:\n    type: nats\n", encoding="utf-8")
    for command in ("validate", "plan", "apply"):
        result = topoctl(command, "-f", bad, *(["--auto-approve"] if command == "apply" else []))
        assert result.code == 1, str(result)
        assert result.stderr.strip() == f"Error: {bad}:5: duplicate key 'r'"
        assert "Traceback" not in result.stderr + result.stdout
        assert result.stdout == ""


def test_no_manifest_given_is_an_error() -> None:
    result = topoctl("plan")
    assert result.code == 1
    assert "no manifest given" in result.stderr


def test_unknown_format_is_refused(tmp_path: Path) -> None:
    result = topoctl("show", tmp_path / "x.json", "--format", "yaml")
    assert result.code == 1
    assert "--format yaml" in result.stderr


def test_show_renders_a_saved_plan_in_every_format(tmp_path: Path) -> None:
    plan = diff([q("a", type="quorum")], [q("a", type="classic")], lambda a: KINDS[a.kind])
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(plan.to_json()), encoding="utf-8")
    text = topoctl("show", path)
    assert text.code == 0 and "-/+ queue" in text.stdout and "Plan: 1 to add, 0 to change, 1 to destroy." in text.stdout
    as_json = topoctl("show", path, "--format", "json")
    assert as_json.json == Plan.from_json(plan.to_json()).to_json()
    markdown = topoctl("show", path, "--format", "markdown")
    assert "<details>" in markdown.stdout


def test_not_a_plan_file(tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    path.write_text('{"format_version": "9"}', encoding="utf-8")
    result = topoctl("show", path)
    assert result.code == 1
    assert "not a topoctl plan file" in result.stderr
    assert "Traceback" not in result.stderr


def test_version_and_help() -> None:
    assert topoctl("--version").stdout.startswith("topoctl ")
    assert "plan" in topoctl("--help").stdout
