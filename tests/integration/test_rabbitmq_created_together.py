"""A vhost's new exchanges, queues and bindings are created in one wave (KindSpec.created_together):
one definitions import and one check for all of them, bindings after what they need whichever way
the driver writes them, and a failed queue leaves its bindings not attempted."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.cli import apply_ok, assert_empty, topoctl, write_manifest
from tests.integration.rabbitmq_support import BROKER, bindings, document, queue, seg
from topoctl.engine.order import waves
from topoctl.model import Plan
from topoctl.providers.rabbitmq import client as rabbit_client
from topoctl.providers.rabbitmq.driver import BULK_MIN

pytestmark = pytest.mark.integration


@pytest.fixture
def requests(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, str]]]:
    """(method, path) of every request the RabbitMQ driver sends from now on (still to the broker)."""
    seen: list[tuple[str, str]] = []
    send = rabbit_client.ManagementApi.request

    def spy(self: rabbit_client.ManagementApi, method: str, path: str, *args: Any, **kwargs: Any) -> Any:
        seen.append((method, path))
        return send(self, method, path, *args, **kwargs)

    monkeypatch.setattr(rabbit_client.ManagementApi, "request", spy)
    yield seen


def topology(queues: int, exchanges: int = 2, bad: dict[str, Any] | None = None) -> dict[str, Any]:
    """`queues` queues (every fourth a quorum one), each bound to one of `exchanges` exchanges, and
    an exchange-to-exchange binding; `bad` adds queues the broker refuses, each with a binding."""
    body: dict[str, Any] = {
        "exchanges": {f"x{i}": {"type": "topic"} for i in range(exchanges)},
        "queues": {f"q{i:03d}": {"type": "quorum"} if i % 4 == 0 else {} for i in range(queues)},
        "bindings": [
            {"source": f"x{i % exchanges}", "destination": f"q{i:03d}", "routing_key": f"k.{i}"} for i in range(queues)
        ],
    }
    body["bindings"].append({"source": "x0", "destination": f"x{exchanges - 1}", "destination_type": "exchange"})
    for name, arguments in (bad or {}).items():
        body["queues"][name] = {"arguments": arguments}
        body["bindings"].append({"source": "x0", "destination": name, "routing_key": name})
    return body


def imports(seen: list[tuple[str, str]], vhost: str) -> int:
    return seen.count(("POST", f"/api/definitions/{seg(vhost)}"))


def test_a_new_vhost_is_imported_at_once_and_checked_once(
    tmp_path: Path, client: httpx.Client, vhost: str, requests: list[tuple[str, str]]
) -> None:
    path = write_manifest(tmp_path / "m.yaml", document({vhost: topology(40)}))
    result = apply_ok(path)
    total = 1 + 2 + 40 + 41  # vhost, exchanges, queues, bindings
    assert f"Resources: {total} added" in result.stderr
    assert imports(requests, vhost) == 1
    assert not [r for r in requests if r[0] == "POST" and r[1].startswith("/api/bindings/")]
    # One check after the import: the listings of its kinds, once each.
    for checked in (f"/api/exchanges/{seg(vhost)}?columns=name,type,", f"/api/bindings/{seg(vhost)}?columns=source,d"):
        assert len([r for r in requests if r[0] == "GET" and r[1].startswith(checked)]) == 1, requests
    assert len(bindings(client, vhost)) == 41
    assert queue(client, vhost, "q000")["type"] == "quorum"  # type: ignore[index]
    assert_empty(path)


def test_the_plan_has_two_waves_and_a_saved_plan_applies_the_same(
    tmp_path: Path, client: httpx.Client, vhost: str, requests: list[tuple[str, str]]
) -> None:
    path = write_manifest(tmp_path / "m.yaml", document({vhost: topology(BULK_MIN + 4)}))
    saved = tmp_path / "plan.json"
    assert topoctl("plan", "-f", path, "-o", saved).code == 0
    plan = Plan.from_json(json.loads(saved.read_text()))
    assert [sorted({s.kind for s in wave}) for wave in waves(plan)] == [["vhost"], ["binding", "exchange", "queue"]]
    result = topoctl("apply", saved, "--auto-approve")
    assert result.code == 0, str(result)
    assert imports(requests, vhost) == 1
    assert_empty(path)


def test_a_small_vhost_is_created_one_request_at_a_time_bindings_last(
    tmp_path: Path, client: httpx.Client, vhost: str, requests: list[tuple[str, str]]
) -> None:
    """Fewer than BULK_MIN objects: single requests in parallel, the bindings after their queues
    and exchanges (a binding to a missing queue is a 404), with one change in flight too."""
    body = topology(3)
    assert sum(len(v) for v in body.values()) < BULK_MIN
    for parallelism in ("8", "1"):
        requests.clear()
        path = write_manifest(tmp_path / "m.yaml", document({vhost: body}))
        apply_ok(path, "--parallelism", parallelism)
        assert imports(requests, vhost) == 0
        assert len(bindings(client, vhost)) == 4
        writes = [r for r in requests if r[0] in ("PUT", "POST")]
        made = [i for i, r in enumerate(writes) if r[0] == "PUT" and not r[1].startswith("/api/vhosts/")]
        bound = [i for i, r in enumerate(writes) if r[1].startswith("/api/bindings/")]
        assert len(made) == 5 and len(bound) == 4 and max(made) < min(bound), writes
        assert_empty(path)
        client.delete(f"/api/vhosts/{seg(vhost)}")


@pytest.mark.parametrize("count", [BULK_MIN + 10, 3], ids=["imported", "single"])
def test_a_refused_queue_is_named_and_its_binding_not_attempted(
    tmp_path: Path, client: httpx.Client, vhost: str, count: int
) -> None:
    """The broker refuses a queue argument the manifest allows: the error names that queue; its
    binding (and every other binding, as when bindings waited for a wave of their own) is not
    attempted, and the summary says so."""
    body = topology(count, bad={"bad one": {"x-queue-master-locator": "bogus"}})
    path = write_manifest(tmp_path / "m.yaml", document({vhost: body}))
    result = topoctl("apply", "-f", path, "--auto-approve")
    assert result.code == 1, str(result)
    assert "queue 'bad one'" in result.stderr and "queue-master-locator" in result.stderr, result.stderr
    total = 1 + 2 + (count + 1) * 2 + 1
    applied = 1 + 2 + count  # the vhost, the exchanges, the good queues
    match = re.search(r"([\d,]+) of ([\d,]+) changes applied; (\d+) failed; ([\d,]+) not attempted", result.stderr)
    assert match, result.stderr
    assert [int(g.replace(",", "")) for g in match.groups()] == [applied, total, 1, total - applied - 1]
    assert queue(client, vhost, "bad one") is None
    assert {b["destination"] for b in bindings(client, vhost)} <= {f"q{i:03d}" for i in range(count)} | {vhost}
    # Fixed, applied again: only what is left is created.
    body["queues"]["bad one"] = {}
    path = write_manifest(tmp_path / "m.yaml", document({vhost: body}))
    apply_ok(path)
    assert_empty(path)


def test_a_replace_keeps_its_queue_and_binding_in_waves_of_their_own(
    tmp_path: Path, client: httpx.Client, vhost: str
) -> None:
    body = topology(BULK_MIN + 4)
    path = write_manifest(tmp_path / "m.yaml", document({vhost: body}))
    apply_ok(path)
    body["queues"]["q001"] = {"type": "quorum"}  # classic -> quorum: a replace, with its binding
    body["queues"]["new"] = {}
    body["bindings"].append({"source": "x1", "destination": "new"})
    path = write_manifest(tmp_path / "m.yaml", document({vhost: body}))
    saved = tmp_path / "plan.json"
    assert topoctl("plan", "-f", path, "-o", saved).code == 0
    plan = Plan.from_json(json.loads(saved.read_text()))
    steps = [
        {(s.action.value, s.kind, s.address.name[-1] if s.kind == "queue" else s.address.name[3]) for s in w}
        for w in waves(plan)
    ]
    assert steps == [
        {("delete", "binding", "q001")},
        {("delete", "queue", "q001")},
        {("create", "queue", "q001"), ("create", "queue", "new"), ("create", "binding", "new")},
        {("create", "binding", "q001")},
    ]
    result = topoctl("apply", saved, "--auto-approve", "--allow-destructive")
    assert result.code == 0, str(result)
    assert queue(client, vhost, "q001")["type"] == "quorum"  # type: ignore[index]
    assert_empty(path)


def test_target_applies_a_binding_with_what_it_needs(tmp_path: Path, client: httpx.Client, vhost: str) -> None:
    body = topology(BULK_MIN + 4)
    path = write_manifest(tmp_path / "m.yaml", document({vhost: body}))
    target = f"{BROKER}/binding/{vhost}/x1/queue/q001/k.1/"
    result = topoctl("apply", "-f", path, "--auto-approve", "--target", target)
    assert result.code == 0, str(result)
    assert [b["destination"] for b in bindings(client, vhost) if b["source"] == "x1"] == ["q001"]
    plan = topoctl("plan", "-f", path, "--format", "json").json
    assert target not in {c["address"] for c in plan["changes"]}
