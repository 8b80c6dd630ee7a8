"""A plan starts reading RabbitMQ while its manifest is compiled (engine.ahead): against the real
broker, the plan is the one read without it, each listing is sent once (what was read ahead is
used, not read again), a guess that misses a listing only adds that listing, and a manifest that
fails validation gets its own error, whatever happens to the broker read started early."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.cli import apply_ok, topoctl
from tests.integration.rabbitmq_support import manifest_file
from topoctl.engine.ahead import ReadAhead
from topoctl.engine.planner import Session
from topoctl.manifest.loader import load_manifest
from topoctl.providers.rabbitmq import driver as rabbitmq_driver

pytestmark = pytest.mark.integration


def _vhost_body() -> dict[str, Any]:
    return {
        "exchanges": {"orders": {"type": "topic"}},
        "queues": {f"q{i}": {"arguments": {"x-max-length": 100 + i}} for i in range(5)},
        "bindings": [{"source": "orders", "destination": "q0", "routing_key": "o.#"}],
    }


def _plan(path: Path, ahead: bool, monkeypatch: pytest.MonkeyPatch) -> tuple[dict[str, Any], list[str]]:
    """The plan as JSON, and the paths of the listings it sent (in any order), those sent while
    reading ahead marked `early:`."""
    sent: list[str] = []
    fetch = rabbitmq_driver._fetch

    def counted(api: Any, request: tuple[str, str, bool]) -> Any:
        early = threading.current_thread().name == "read-ahead"
        sent.append(("early:" if early else "") + request[0])
        return fetch(api, request)

    monkeypatch.setattr(rabbitmq_driver, "_fetch", counted)
    with ReadAhead(most_brokers=1) as early:
        manifest = load_manifest([str(path)], parsed=early if ahead else None)
        with Session(manifest, ahead=early if ahead else None) as session:
            plan = session.plan()
    monkeypatch.setattr(rabbitmq_driver, "_fetch", fetch)
    return json.loads(json.dumps(plan.to_json(), default=str)), sent


def test_a_plan_read_ahead_is_the_plan_read_after_compiling(
    tmp_path: Path, vhost: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = _vhost_body()
    path = manifest_file(tmp_path, {vhost: body})
    apply_ok(path)
    body["queues"]["q1"]["arguments"]["x-max-length"] = 7  # a replace
    body["queues"]["new"] = {}  # a create
    del body["queues"]["q2"]  # kept: not pruned
    path = manifest_file(tmp_path, {vhost: body})

    early, sent_early = _plan(path, True, monkeypatch)
    late, sent_late = _plan(path, False, monkeypatch)

    assert early == late
    actions = sorted((c["address"].rsplit("/", 1)[-1], c["action"]) for c in early["changes"])
    assert actions == [("new", "create"), ("q1", "replace")]
    # Four requests (the vhost's definitions, exchanges and consumers; the vhosts), each sent once:
    # those read ahead were used, not sent again. The counts of q1 (to be replaced) are asked for by
    # a request that is not one of them.
    assert len(sent_early) == len(set(sent_early)) == 4
    assert sorted(sent_early) == sorted(f"early:{p}" for p in sent_late)


def test_a_guess_that_misses_a_listing_only_adds_it(
    tmp_path: Path, vhost: str, monkeypatch: pytest.MonkeyPatch, client: httpx.Client
) -> None:
    # Vhost limits need a listing the guess from the parsed manifest does not make.
    path = manifest_file(tmp_path, {vhost: {**_vhost_body(), "limits": {"max-queues": 50}}})
    early, sent = _plan(path, True, monkeypatch)
    late, _ = _plan(path, False, monkeypatch)
    assert early == late and early["changes"]
    assert len(sent) == len(set(sent)) == 5
    assert [p for p in sent if not p.startswith("early:")] == ["/api/vhost-limits"]


def test_an_invalid_manifest_gets_its_own_error(tmp_path: Path, vhost: str) -> None:
    # Read ahead from the parsed text, then refused by the schema: the user sees the schema's
    # error, once, with its line, and nothing else.
    path = manifest_file(tmp_path, {vhost: {"queues": {"q": {"durable": "maybe"}}}})
    result = topoctl("plan", "-f", path)
    assert result.code == 1
    assert "durable" in result.stderr and f"{path}:" in result.stderr
    assert "Traceback" not in result.stderr and "cannot connect" not in result.stderr


def test_an_unreachable_broker_is_named_once_with_a_manifest_that_loads(tmp_path: Path, vhost: str) -> None:
    document = {
        "version": 1,
        "brokers": {
            "r": {
                "type": "rabbitmq",
                "connection": {"url": "http://127.0.0.1:1", "retries": {"attempts": 1}},
                "vhosts": {vhost: {"queues": {"q": {}}}},
            }
        },
    }
    path = tmp_path / "m.yaml"
    path.write_text(json.dumps(document), encoding="utf-8")
    result = topoctl("plan", "-f", path)
    assert result.code == 1
    assert result.stderr.count("broker 'r' (http://127.0.0.1:1)") == 1, result.stderr
    assert "Traceback" not in result.stderr
