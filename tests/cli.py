"""Running the topoctl CLI in-process, the way a user would from a shell."""

from __future__ import annotations

import json
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
