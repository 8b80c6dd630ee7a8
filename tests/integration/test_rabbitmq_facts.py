"""The RabbitMQ 3.10 behaviour topoctl relies on, checked on the real broker: what the policy
warnings say about precedence, what the compiler refuses, what is frozen, what the reads see."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pika
import pytest

from tests.cli import apply_ok, assert_empty, topoctl
from tests.integration.rabbitmq_support import (
    api,
    manifest_file,
    publish,
    seg,
    wait_for,
)
from topoctl.providers.rabbitmq.driver import BULK_MIN

pytestmark = pytest.mark.integration


def depth(vhost: str, queue: str) -> int:
    """Messages in a queue now (a passive declare; the management stats lag by seconds)."""
    connection = pika.BlockingConnection(pika.ConnectionParameters("127.0.0.1", virtual_host=vhost))
    try:
        return int(connection.channel().queue_declare(queue, passive=True).method.message_count)
    finally:
        connection.close()


def test_policy_precedence_is_what_the_warnings_say(tmp_path: Path, client: httpx.Client, vhost: str) -> None:
    """One policy applies (the highest priority); the queue's DLX argument beats the policy's; the
    smaller of argument and policy max-length applies."""
    path = manifest_file(
        tmp_path,
        {
            vhost: {
                "exchanges": {"arg-dlx": {"type": "fanout"}, "policy-dlx": {"type": "fanout"}},
                "queues": {
                    "small": {"arguments": {"x-max-length": 1, "x-dead-letter-exchange": "arg-dlx"}},
                    "big": {"arguments": {"x-max-length": 5}},
                    "by-argument": {},
                    "by-policy": {},
                },
                "bindings": [
                    {"source": "arg-dlx", "destination": "by-argument"},
                    {"source": "policy-dlx", "destination": "by-policy"},
                ],
                "policies": {
                    "cap": {
                        "pattern": "^(small|big)$",
                        "apply_to": "queues",
                        "priority": 1,
                        "definition": {"max-length": 3, "dead-letter-exchange": "policy-dlx"},
                    },
                    "loose": {"pattern": "^(small|big)$", "priority": 0, "definition": {"max-length": 100}},
                },
            }
        },
    )
    result = apply_ok(path)
    warned = result.stderr
    assert "policy 'loose' (priority 0)" in warned and "does not apply to queue 'big', queue 'small'" in warned
    assert "queue 'small'" in warned and "sets x-dead-letter-exchange ('arg-dlx')" in warned
    assert "the queue's argument wins" in warned
    assert "queue 'small', queue 'big' in vhost" in warned and "the smaller of the two values applies" in warned
    assert_empty(path)

    publish(client, vhost, "small", 3)  # max-length 1 (argument < policy): 2 dead-lettered by arg-dlx
    publish(client, vhost, "big", 7)  # max-length 3 (policy < argument): 4 dead-lettered by policy-dlx
    wait_for(lambda: depth(vhost, "by-argument") == 2 and depth(vhost, "by-policy") == 4, "the dead letters")
    # 3 in big: `cap` (priority 1) applies, not `loose` (max-length 100), and not the argument (5).
    assert (depth(vhost, "small"), depth(vhost, "big")) == (1, 3)


def test_what_the_compiler_refuses_the_broker_refuses_too(client: httpx.Client, vhost: str) -> None:
    client.put(f"/api/vhosts/{seg(vhost)}", json={})
    refused = {
        "stream with a DLX": {"x-queue-type": "stream", "x-dead-letter-exchange": "x"},
        "classic with a delivery limit": {"x-queue-type": "classic", "x-delivery-limit": 3},
    }
    for what, arguments in refused.items():
        r = client.put(f"/api/queues/{seg(vhost)}/q", json={"durable": True, "arguments": arguments})
        assert r.status_code == 400 and "invalid arg" in r.text, what
    r = client.put(f"/api/queues/{seg(vhost)}/q", json={"durable": False, "arguments": {"x-queue-type": "quorum"}})
    assert r.status_code == 400, "a non-durable quorum queue"
    r = client.put(
        f"/api/policies/{seg(vhost)}/p", json={"pattern": ".", "apply-to": "classic_queues", "definition": {"a": 1}}
    )
    assert r.status_code == 400 and "'queues', 'exchanges' or 'all'" in r.text


def test_frozen_properties_and_drift_that_redeclaring_would_hide(client: httpx.Client, vhost: str) -> None:
    """Why topoctl reads to find drift and replaces to change: a redeclare refuses some changes and
    silently ignores others."""
    client.put(f"/api/vhosts/{seg(vhost)}", json={})
    q = f"/api/queues/{seg(vhost)}/q"
    assert client.put(q, json={"durable": True, "arguments": {"x-message-ttl": 1000}}).status_code in (201, 204)
    assert client.put(q, json={"durable": True, "arguments": {"x-message-ttl": 2000}}).status_code == 400
    ignored = client.put(q, json={"durable": True, "arguments": {"x-message-ttl": 1000, "x-custom": 1}})
    assert ignored.status_code in (201, 204)
    assert client.get(q).json()["arguments"] == {"x-message-ttl": 1000}
    x = f"/api/exchanges/{seg(vhost)}/x"
    client.put(x, json={"type": "fanout", "durable": True, "internal": True})
    assert client.put(x, json={"type": "fanout", "durable": True, "internal": False}).status_code == 400
    assert client.put(x, json={"type": "direct", "durable": True, "internal": True}).status_code == 400


def test_reads_see_internal_exchanges_and_binding_keys(tmp_path: Path, client: httpx.Client, vhost: str) -> None:
    """The exchanges listing carries `internal`; the bindings listing carries `properties_key`,
    which the definitions export does not (so a delete can use the broker's own key)."""
    path = manifest_file(
        tmp_path,
        {
            vhost: {
                "exchanges": {"inner": {"type": "headers", "internal": True}, "front": {"type": "fanout"}},
                "bindings": [
                    {
                        "source": "front",
                        "destination": "inner",
                        "destination_type": "exchange",
                        "arguments": {"x-match": "any", "k": "v"},
                    }
                ],
            }
        },
    )
    apply_ok(path)
    rows = client.get(f"/api/exchanges/{seg(vhost)}?columns=name,internal").json()
    assert {r["name"]: r["internal"] for r in rows}["inner"] is True
    (listed,) = [b for b in client.get(f"/api/bindings/{seg(vhost)}").json() if b["source"] == "front"]
    assert listed["properties_key"]
    (exported,) = [b for b in client.get(f"/api/definitions/{seg(vhost)}").json()["bindings"]]
    assert "properties_key" not in exported
    # Removing it: one DELETE by that key, found with the plan's read.
    absent = manifest_file(
        tmp_path,
        {
            vhost: {
                "bindings": [
                    {
                        "source": "front",
                        "destination": "inner",
                        "destination_type": "exchange",
                        "arguments": {"x-match": "any", "k": "v"},
                        "state": "absent",
                    }
                ],
            }
        },
        name="absent.yaml",
    )
    result = topoctl("apply", "-f", absent, "--auto-approve", "--allow-destructive")
    assert result.code == 0, str(result)
    assert [b for b in client.get(f"/api/bindings/{seg(vhost)}").json() if b["source"] == "front"] == []


def test_a_policy_applies_to_the_queues_created_in_the_same_apply(
    tmp_path: Path, client: httpx.Client, vhost: str
) -> None:
    """RabbitMQ 3.10 races when a policy and a queue it matches are created at the same time: the
    policy may never apply to that queue. Apply creates the policy first."""
    names = [f"capped.{i}" for i in range(BULK_MIN - 1)]  # created one by one, side by side
    path = manifest_file(
        tmp_path,
        {
            vhost: {
                "queues": {name: {} for name in names},
                "policies": {"cap": {"pattern": "^capped\\.", "apply_to": "queues", "definition": {"max-length": 1}}},
            }
        },
    )
    apply_ok(path, "--parallelism", "16")
    for name in names:
        publish(client, vhost, name, 2)
    wait_for(lambda: all(depth(vhost, name) for name in names), "the messages")
    # The policy's max-length 1 holds each queue to one message (without it they keep both).
    assert {name: depth(vhost, name) for name in names} == dict.fromkeys(names, 1)


# A valid value for every argument the compiler knows a queue type refuses.
_VALUES = {
    "x-message-ttl": 1000,
    "x-expires": 10000,
    "x-max-length": 5,
    "x-overflow": "drop-head",
    "x-dead-letter-exchange": "d",
    "x-max-priority": 5,
    "x-queue-mode": "lazy",
    "x-queue-master-locator": "min-masters",
    "x-single-active-consumer": True,
    "x-delivery-limit": 3,
    "x-dead-letter-strategy": "at-least-once",
    "x-quorum-initial-group-size": 1,
    "x-max-in-memory-length": 5,
    "x-max-in-memory-bytes": 100,
    "x-max-age": "1D",
    "x-stream-max-segment-size-bytes": 1_000_000,
    "x-initial-cluster-size": 1,
    "x-queue-version": 2,
    "x-max-length-bytes": 1000,
}


def test_the_arguments_the_compiler_refuses_per_queue_type_are_the_brokers(client: httpx.Client, vhost: str) -> None:
    from topoctl.providers.rabbitmq.compile import REFUSED_ARGUMENTS

    client.put(f"/api/vhosts/{seg(vhost)}", json={})
    known = set().union(*REFUSED_ARGUMENTS.values()) - {"x-dead-letter-routing-key"}
    assert known <= set(_VALUES)
    refused: dict[str, set[str]] = {}
    for queue_type in REFUSED_ARGUMENTS:
        refused[queue_type] = set()
        for key in sorted(_VALUES):
            body = {"durable": True, "arguments": {"x-queue-type": queue_type, key: _VALUES[key]}}
            r = client.put(f"/api/queues/{seg(vhost)}/probe", json=body)
            if r.status_code >= 300:
                assert "invalid arg" in r.text, r.text
                refused[queue_type].add(key)
            client.delete(f"/api/queues/{seg(vhost)}/probe")
    assert refused == {t: set(keys) - {"x-dead-letter-routing-key"} for t, keys in REFUSED_ARGUMENTS.items()}
    # A routing key without an exchange is refused on every type that dead-letters.
    for queue_type in ("classic", "quorum"):
        body = {"durable": True, "arguments": {"x-queue-type": queue_type, "x-dead-letter-routing-key": "k"}}
        assert client.put(f"/api/queues/{seg(vhost)}/probe", json=body).status_code == 400


def test_dot_names_cannot_be_addressed_through_the_management_api(client: httpx.Client, vhost: str) -> None:
    """Why the compiler refuses `.` and `..` as names and warns about them as routing keys."""
    client.put(f"/api/vhosts/{seg(vhost)}", json={})

    def refused(method: str, path: str, body: Any = None) -> bool:
        # A new connection each: the broker may close one after refusing such a path.
        with api() as c:
            return c.request(method, path, json=body).status_code >= 400

    for name in (".", "..", "%2E", "%2E%2E"):
        assert refused("PUT", f"/api/queues/{seg(vhost)}/{name}", {"durable": True}), name
    client.put(f"/api/exchanges/{seg(vhost)}/x", json={"type": "direct", "durable": True})
    client.put(f"/api/queues/{seg(vhost)}/q", json={"durable": True})
    assert client.post(f"/api/bindings/{seg(vhost)}/e/x/q/q", json={"routing_key": "."}).status_code == 201
    (row,) = client.get(f"/api/bindings/{seg(vhost)}/e/x/q/q").json()
    assert row["properties_key"] == "."
    for key in (".", "%2E"):
        assert refused("DELETE", f"/api/bindings/{seg(vhost)}/e/x/q/q/{key}")
    assert len(client.get(f"/api/bindings/{seg(vhost)}/e/x/q/q").json()) == 1
