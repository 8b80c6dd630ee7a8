"""Shared by the export round-trip tests (no tests here)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from unittest import mock

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
