"""`topoctl apply` through the CLI against the in-memory broker: prompts, refusals, Ctrl-C."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli import topoctl
from topoctl import cli
from topoctl.engine import planner
from topoctl.model import Change

from .fakes import FakeBroker, FakeDriver, ex, fake_manifest, q


@pytest.fixture
def broker(monkeypatch: pytest.MonkeyPatch) -> FakeBroker:
    fake = FakeBroker()
    fake.put(q("billing", type="classic"))
    manifest, info = fake_manifest(fake, [ex("orders", type="topic"), q("billing", type="classic", limit=3)])
    monkeypatch.setattr(planner, "provider", lambda _type: info)
    monkeypatch.setattr(cli, "_load", lambda files, parsed=None: manifest)
    return fake


def test_non_interactive_apply_without_auto_approve_changes_nothing(broker: FakeBroker) -> None:
    result = topoctl("apply", "-f", "ignored.yaml")
    assert result.code == 1
    assert "use --auto-approve" in result.stderr
    assert broker.calls == []


def test_apply_prints_the_plan_progress_and_the_end_line(broker: FakeBroker) -> None:
    result = topoctl("apply", "-f", "ignored.yaml", "--auto-approve")
    assert result.code == 0, str(result)
    assert "Plan: 1 to add, 1 to change, 0 to destroy." in result.stdout
    assert "b/exchange/v/orders: created" in result.stderr
    assert result.stderr.rstrip().endswith("Apply complete! Resources: 1 added, 1 changed, 0 destroyed.")
    again = topoctl("plan", "-f", "ignored.yaml", "--detailed-exitcode")
    assert again.code == 0 and "No changes." in again.stdout


def test_saved_plan_applies_exactly_and_refuses_when_stale(broker: FakeBroker, tmp_path: Path) -> None:
    saved = tmp_path / "plan.json"
    made = topoctl("plan", "-f", "ignored.yaml", "-o", saved, "--detailed-exitcode")
    assert made.code == 2 and saved.exists()
    assert "password" not in saved.read_text()
    broker.put(q("billing", type="classic", limit=9))  # someone else changed it meanwhile
    stale = topoctl("apply", saved)
    assert stale.code == 1 and "saved plan is stale: b/queue/v/billing" in stale.stderr
    assert broker.calls == []
    fresh = tmp_path / "fresh.json"
    topoctl("plan", "-f", "ignored.yaml", "-o", fresh)
    assert json.loads(fresh.read_text())["summary"]["update"] == 1
    result = topoctl("apply", fresh)
    assert result.code == 0, str(result)
    assert sorted(broker.calls) == [("create", "b/exchange/v/orders"), ("update", "b/queue/v/billing")]


def test_ctrl_c_exits_130(broker: FakeBroker, monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(self: FakeDriver, change: Change) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(FakeDriver, "apply_one", interrupted)
    result = topoctl("apply", "-f", "ignored.yaml", "--auto-approve")
    assert result.code == 130
    assert "Interrupted." in result.stderr
    assert "Traceback" not in result.stderr


def test_unexpected_errors_show_no_traceback_unless_debug(broker: FakeBroker, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(self: FakeDriver, change: Change) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(FakeDriver, "apply_one", broken)
    result = topoctl("apply", "-f", "ignored.yaml", "--auto-approve")
    assert result.code == 1
    assert "RuntimeError: boom" in result.stderr and "Traceback" not in result.stderr
    debug = topoctl("--debug", "apply", "-f", "ignored.yaml", "--auto-approve")
    assert debug.code == 1 and "Traceback" in debug.stderr


def test_compile_warnings_go_to_stderr(monkeypatch: pytest.MonkeyPatch) -> None:
    from dataclasses import replace

    from topoctl.manifest import loader

    manifest, _ = fake_manifest(FakeBroker(), [])
    spec = manifest.brokers["b"]
    compiled = replace(spec.compiled, warnings=["m.yaml:3: odd"])
    warned = replace(manifest, brokers={"b": replace(spec, compiled=compiled)})
    monkeypatch.setattr(loader, "load_manifest", lambda files, parsed=None: warned)
    result = topoctl("validate", "-f", "m.yaml")
    assert result.code == 0
    assert "Warning: m.yaml:3: odd" in result.stderr
    assert result.stdout == ""
