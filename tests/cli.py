"""Running the topoctl CLI in-process, the way a user would from a shell."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from typer.testing import CliRunner

from topoctl.cli import app


@dataclass(frozen=True)
class Result:
    code: int
    stdout: str
    stderr: str

    @property
    def json(self) -> Any:
        return json.loads(self.stdout)

    def __str__(self) -> str:
        return f"exit {self.code}\n--- stdout\n{self.stdout}\n--- stderr\n{self.stderr}"


def topoctl(*args: str | Path, input: str | None = None, env: dict[str, str] | None = None) -> Result:
    runner = CliRunner()
    out = runner.invoke(app, [str(a) for a in args], input=input, env=env, catch_exceptions=False)
    return Result(out.exit_code, out.stdout, out.stderr)


def write_manifest(path: Path, document: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return path


def planned(result: Result) -> dict[str, str]:
    """address -> action of a `plan --format json` result."""
    assert result.code in (0, 2), str(result)
    return {c["address"]: c["action"] for c in result.json["changes"]}


def plan_json(path: Path) -> Result:
    """`topoctl plan --format json --detailed-exitcode` of one manifest file."""
    return topoctl("plan", "-f", path, "--format", "json", "--detailed-exitcode")


def apply_ok(path: Path, *flags: str) -> Result:
    """`topoctl apply --auto-approve`, asserting that it succeeded."""
    result = topoctl("apply", "-f", path, "--auto-approve", *flags)
    assert result.code == 0, str(result)
    return result


def assert_empty(path: Path) -> None:
    """The plan of `path` has no changes: the contract after every apply."""
    result = topoctl("plan", "-f", path, "--detailed-exitcode")
    assert result.code == 0, f"plan after apply is not empty:\n{result}"
    assert "No changes." in result.stdout


def change_of(result: Result, address: str) -> dict[str, Any]:
    """The change of `address` in a JSON plan result."""
    for change in result.json["changes"]:
        if change["address"] == address:
            return dict(change)
    raise AssertionError(f"{address} is not in the plan:\n{result}")


def one_error(result: Result) -> str:
    """The single error line of a failed command, without its "Error: ", after checking the
    contract around it: exit 1, nothing on stdout, no traceback."""
    assert result.code == 1, str(result)
    assert "Traceback" not in result.stdout + result.stderr
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, str(result)
    assert lines[0].startswith("Error: "), str(result)
    return lines[0].removeprefix("Error: ")


def one_line_error(result: Result, *words: str, secrets: Sequence[str] = ()) -> str:
    """The stderr of a command that failed (exit 1) with one line holding every one of `words`,
    no traceback, and none of `secrets` anywhere in its output."""
    assert result.code == 1, str(result)
    err = result.stderr.strip()
    assert len(err.splitlines()) == 1, err
    for word in words:
        assert word in err, err
    assert "Traceback" not in err
    for secret in secrets:
        assert secret not in result.stdout + result.stderr
    return err
