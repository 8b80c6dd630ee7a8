"""topoctl in CI: no colours unless asked, never a prompt, documents alone on stdout, and the CI
integration files (pre-commit hook, GitHub Actions example) match what the CLI does."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest
import yaml

from tests.cli import topoctl
from topoctl import cli
from topoctl.engine import planner

from .fakes import FakeBroker, ex, fake_manifest, q

ROOT = Path(__file__).resolve().parents[2]
ANSI = "\033["


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def broker(monkeypatch: pytest.MonkeyPatch) -> FakeBroker:
    fake = FakeBroker()
    fake.put(q("billing", type="classic"))
    fake.put(q("legacy", type="classic"))
    manifest, info = fake_manifest(fake, [ex("orders", type="topic"), q("billing", type="quorum")])
    monkeypatch.setattr(planner, "provider", lambda _type: info)
    monkeypatch.setattr(cli, "_load", lambda files, parsed=None: manifest)
    return fake


@pytest.mark.parametrize(
    ("env", "tty", "colour"),
    [
        ({}, True, True),
        ({}, False, False),
        ({"CI": "true"}, True, False),
        ({"CI": "1"}, True, False),
        ({"NO_COLOR": "1"}, True, False),
        ({"CI": "true", "FORCE_COLOR": "1"}, False, True),  # asked for explicitly
    ],
)
def test_colour_only_on_a_terminal_outside_ci(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], tty: bool, colour: bool
) -> None:
    for name in ("CI", "NO_COLOR", "FORCE_COLOR"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(cli.sys, "stdout", _Tty() if tty else io.StringIO())
    assert cli._colour() is colour


def test_ci_plan_has_no_colours_and_force_color_brings_them(broker: FakeBroker) -> None:
    plain = topoctl("plan", "-f", "m.yaml", env={"CI": "true", "FORCE_COLOR": ""})
    assert plain.code == 0 and "-/+ queue" in plain.stdout and ANSI not in plain.stdout + plain.stderr
    forced = topoctl("plan", "-f", "m.yaml", env={"CI": "true", "FORCE_COLOR": "1"})
    assert ANSI in forced.stdout


def test_ci_apply_never_prompts(broker: FakeBroker) -> None:
    # Even with "yes" waiting on stdin: a pipe is not a person.
    result = topoctl("apply", "-f", "m.yaml", "--allow-destructive", input="yes\n", env={"CI": "true"})
    assert result.code == 1
    assert "use --auto-approve" in result.stderr
    assert "Enter a value" not in result.stderr
    assert broker.calls == []


def test_ci_destructive_apply_is_refused_without_the_flag(broker: FakeBroker) -> None:
    result = topoctl("apply", "-f", "m.yaml", "--auto-approve", env={"CI": "true"})
    assert result.code == 1 and "--allow-destructive" in result.stderr
    assert broker.calls == []


@pytest.mark.parametrize("fmt", ["json", "markdown"])
def test_documents_alone_on_stdout(broker: FakeBroker, tmp_path: Path, fmt: str) -> None:
    saved = tmp_path / "plan.json"
    result = topoctl("plan", "-f", "m.yaml", "--format", fmt, "-o", saved, "--detailed-exitcode", env={"CI": "true"})
    assert result.code == 2, str(result)
    assert f"Saved the plan to {saved}" in result.stderr  # diagnostics on stderr
    if fmt == "json":
        assert json.loads(result.stdout) == json.loads(saved.read_text(encoding="utf-8"))
    else:
        assert result.stdout.startswith("<!-- topoctl-plan -->\n") and "[!CAUTION]" in result.stdout
    shown = topoctl("show", saved, "--format", fmt)
    assert shown.stdout == result.stdout  # the comment or JSON from the saved plan is the same


def test_comment_key_from_the_environment(broker: FakeBroker) -> None:
    result = topoctl("plan", "-f", "m.yaml", "--format", "markdown", env={"TOPOCTL_COMMENT_KEY": "prod"})
    assert result.stdout.startswith("<!-- topoctl-plan:prod -->\n")


def test_pre_commit_hook_runs_validate_on_the_files_it_is_given(tmp_path: Path) -> None:
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    hook = next(h for h in hooks if h["id"] == "topoctl-validate")
    assert hook["entry"] == "topoctl validate" and hook["language"] == "python" and hook["pass_filenames"] is True
    files = re.compile(hook["files"])
    assert files.search("topology/shop.yaml") and files.search("infra/topology/prod.yml")
    assert not files.search(".github/workflows/ci.yml")
    # What pre-commit runs: the entry, then the file names.
    examples = sorted(str(p) for p in (ROOT / "examples").glob("*.yaml"))
    result = topoctl(*hook["entry"].split()[1:], *examples)
    assert result.code == 0, str(result)
    assert "The manifest is valid" in result.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 2\n", encoding="utf-8")
    failed = topoctl("validate", examples[0], bad)
    assert failed.code == 1 and str(bad) in failed.stderr


def test_github_actions_example_uses_the_action() -> None:
    # The example runs topoctl through action.yml (tests/unit/test_action.py and
    # tests/integration/test_action.py test what the action does).
    text = (ROOT / "examples" / "ci" / "github-actions.yml").read_text(encoding="utf-8")
    workflow = yaml.safe_load(text)
    assert set(workflow["jobs"]) == {"plan", "apply"}
    steps = {name: job["steps"] for name, job in workflow["jobs"].items()}
    assert {"uses": "./", "with": {**steps["plan"][1]["with"], "command": "plan"}} == steps["plan"][1]
    assert steps["apply"][1]["with"]["command"] == "apply"
    assert "allow-destructive" in text
