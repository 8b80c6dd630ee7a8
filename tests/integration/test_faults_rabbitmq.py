"""RabbitMQ under faults (issue 9, points 2, 3 and 5), against the real broker behind Toxiproxy.

The dev node is shared by every test run, so it is never stopped: its death is simulated by
cutting the Toxiproxy proxy in front of its management API (disabled: connections closed, new
ones refused, as after `rabbitmqctl stop_app`; or a `timeout` toxic that swallows every byte, as
a node that hangs or a network that drops packets).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.integration.faults_support import (
    Proxy,
    apply_counting_retries,
    apply_with_fault,
    assert_gave_up,
    flapping,
    plan_is_empty,
    proxy,
    run_topoctl,
    two_applies_at_once,
)
from tests.integration.rabbitmq_support import BROKER, URL, bindings, manifest_file, publish, seg

pytestmark = pytest.mark.integration
QUEUES = 10
POLICIES = 20
KEPT = 20  # messages in the declared, unchanged queue
OTHER = 7  # messages in an undeclared queue of the same vhost


def topology(vhost: str, policies: int = POLICIES) -> dict[str, Any]:
    """One exchange, QUEUES queues each bound to it, `policies` policies, and `keep`, which the
    plan does not change. Fewer than 16 creations per kind and wave: single requests, no import."""
    return {
        vhost: {
            "exchanges": {"ex": {"type": "topic"}},
            "queues": {"keep": {}, **{f"q{i:02d}": {} for i in range(QUEUES)}},
            "bindings": [{"source": "ex", "destination": f"q{i:02d}", "routing_key": f"k.{i}"} for i in range(QUEUES)],
            "policies": {
                f"p{i:02d}": {"pattern": f"^p{i:02d}$", "apply_to": "queues", "definition": {"max-length": 10 + i}}
                for i in range(policies)
            },
        }
    }


def changes_of(policies: int = POLICIES) -> int:
    return 1 + QUEUES * 2 + policies


def through(tmp_path: Path, vhost: str, proxy: Proxy, name: str = "faulty.yaml", **connection: Any) -> Path:
    path = manifest_file(tmp_path, topology(vhost), name=name)
    text = path.read_text().replace(URL, f"http://{proxy.address}")
    if connection:
        document = yaml.safe_load(text)
        document["brokers"][BROKER]["connection"].update(connection)
        text = yaml.safe_dump(document, sort_keys=False)
    path.write_text(text)
    return path


def messages_in(client: httpx.Client, vhost: str, queue: str) -> int:
    """Counted by fetching them (requeued): the management stats lag by seconds."""
    body = {"count": 1000, "ackmode": "ack_requeue_true", "encoding": "auto"}
    response = client.post(f"/api/queues/{seg(vhost)}/{seg(queue)}/get", json=body)
    assert response.status_code == 200, response.text
    return len(response.json())


@pytest.fixture
def prepared(client: httpx.Client, vhost: str) -> str:
    """The vhost with `keep` (declared) and `other` (not declared) holding messages."""
    assert client.put(f"/api/vhosts/{seg(vhost)}").status_code in (201, 204)
    for queue, count in (("keep", KEPT), ("other", OTHER)):
        assert client.put(f"/api/queues/{seg(vhost)}/{queue}", json={"durable": True}).status_code in (201, 204)
        publish(client, vhost, queue, count)
    return vhost


def assert_exactly_declared(client: httpx.Client, vhost: str, policies: int = POLICIES) -> None:
    live = [(b["source"], b["destination"], b["routing_key"]) for b in bindings(client, vhost)]
    assert sorted(live) == sorted(("ex", f"q{i:02d}", f"k.{i}") for i in range(QUEUES)), live  # no duplicates
    names = {p["name"] for p in client.get(f"/api/policies/{seg(vhost)}").json()}
    assert names == {f"p{i:02d}" for i in range(policies)}
    queues = {q["name"] for q in client.get(f"/api/queues/{seg(vhost)}").json()}
    assert queues == {"keep", "other", *(f"q{i:02d}" for i in range(QUEUES))}
    assert messages_in(client, vhost, "keep") == KEPT
    assert messages_in(client, vhost, "other") == OTHER


def test_resets_latency_and_timeouts_are_retried_and_the_apply_converges(
    tmp_path: Path, client: httpx.Client, prepared: str
) -> None:
    vhost = prepared
    with proxy("127.0.0.1:15672") as p:
        # Answers lost on the way back (the request was carried out: the retry finds it done). Of
        # the connections, half are reset at once, and a third of the others go silent and close.
        p.toxic("reset_peer", toxicity=0.5, timeout=0)
        p.toxic("timeout", toxicity=0.3, timeout=300)
        p.toxic("latency", latency=100, jitter=100)
        path = through(tmp_path, vhost, p, timeout="2s", retries={"attempts": 10, "max_seconds": 30})
        with flapping(p, every=0.5):  # and every live connection is reset every 0.5 s
            applied, retries = apply_counting_retries([path])
        assert applied == changes_of()
        assert retries[BROKER] > 0, "no fault was met: the test proves nothing"
        # Deletes whose answer is lost: the retry's 404 counts as done.
        smaller = topology(vhost, policies=POLICIES // 2)
        document = yaml.safe_load(path.read_text())
        document["brokers"][BROKER]["vhosts"] = smaller
        for i in range(POLICIES // 2, POLICIES):
            document["brokers"][BROKER]["vhosts"][vhost]["policies"][f"p{i:02d}"] = {"state": "absent"}
        path.write_text(yaml.safe_dump(document, sort_keys=False))
        applied, more = apply_counting_retries([path])
        assert applied == POLICIES - POLICIES // 2
        print(f"\nRabbitMQ: {retries[BROKER] + more[BROKER]} faults retried, {len(p.injected)} toxics")
    direct = manifest_file(tmp_path, topology(vhost, POLICIES // 2), name="direct.yaml")
    assert plan_is_empty(direct).code == 0
    assert_exactly_declared(client, vhost, POLICIES // 2)


@pytest.mark.parametrize("death", ["refused", "blackhole"])
def test_a_broker_that_dies_mid_apply_fails_in_bounded_time_and_a_rerun_converges(
    tmp_path: Path, client: httpx.Client, prepared: str, death: str
) -> None:
    vhost = prepared
    with proxy("127.0.0.1:15672") as p:
        p.toxic("latency", latency=80)  # slow enough to be caught mid-apply
        path = through(tmp_path, vhost, p, timeout="3s")
        faults: dict[str, Callable[[], object]] = {
            "refused": lambda: p.enabled(False),
            "blackhole": lambda: (p.toxic("timeout", timeout=0), p.toxic("timeout", stream="upstream", timeout=0)),
        }
        run, done = apply_with_fault(path, faults[death], 6, "--parallelism", "2")
        total = changes_of()
        # refused: three quick tries; blackhole: one 3 s request timeout, a retry if the budget allows.
        assert_gave_up(run, f"broker '{BROKER}' (http://{p.address})", total, 5 if death == "refused" else 15)
        print(f"\nRabbitMQ {death}: gave up {run.seconds:.1f}s after the fault ({done} of {total} done)")

        p.clear()
        p.enabled(True)
        rerun = run_topoctl("apply", "-f", path, "--auto-approve")
        assert rerun.code == 0, str(rerun)
        assert plan_is_empty(path).code == 0
    assert_exactly_declared(client, vhost)


def test_two_applies_at_once_end_exactly_as_declared(tmp_path: Path, client: httpx.Client, prepared: str) -> None:
    vhost = prepared
    path = manifest_file(tmp_path, topology(vhost))
    two_applies_at_once(path)
    started = time.monotonic()
    assert plan_is_empty(path).code == 0
    assert time.monotonic() - started < 30
    assert_exactly_declared(client, vhost)
