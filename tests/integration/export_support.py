"""Shared by the export round-trip tests (no tests here)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any
from unittest import mock

from tests.cli import Result, topoctl, write_manifest
from topoctl.manifest.loader import load_manifest
from topoctl.model import Address


def assert_targets_cover(
    exported: Path, targets: list[str], mine: Callable[[Address], bool], env: dict[str, str] | None = None
) -> None:
    """The `--target` options of a round-trip plan select every object the test built (and the
    export declares): an empty plan over targets that match nothing would prove nothing."""
    with mock.patch.dict(os.environ, env or {}):
        manifest = load_manifest([str(exported)])
    addresses = [r.address for r in manifest.resources if mine(r.address)]
    assert addresses, "the export declares none of the objects the test built"
    wanted = targets[1::2]  # ["--target", A, "--target", B, ...]
    missed = [str(a) for a in addresses if not any(a.matches(t) for t in wanted)]
    assert not missed, f"not covered by the plan's --target: {missed}"


def export_to_file(
    tmp_path: Path, name: str, broker: dict[str, Any], env: dict[str, str] | None = None
) -> tuple[Result, Path]:
    """`topoctl export --broker <name>` of a manifest holding only that broker's type and connection
    (connection.yaml): the successful result, and its output written to exported.yaml."""
    connection = write_manifest(tmp_path / "connection.yaml", {"version": 1, "brokers": {name: broker}})
    result = topoctl("export", "--broker", name, "-f", connection, env=env)
    assert result.code == 0, str(result)
    exported = tmp_path / "exported.yaml"
    exported.write_text(result.stdout, encoding="utf-8")
    return result, exported
