"""The RabbitMQ provider end to end, through the CLI, against the real broker."""

from __future__ import annotations

import copy
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pika
import pytest
import yaml

from tests.cli import apply_ok as apply
from tests.cli import assert_empty as assert_no_changes
from tests.cli import planned, topoctl, write_manifest
from tests.integration.rabbitmq_support import (
    BROKER,
    bindings,
    delete_vhost,
    manifest_file,
    publish,
    queue,
    seg,
    unique_vhost,
    wait_for,
)

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def odd_vhost(client: httpx.Client) -> Iterator[str]:
    name = unique_vhost(odd=True)
    yield name
    delete_vhost(client, name)


def plan_json(path: Path) -> dict[str, Any]:
    result = topoctl("plan", "-f", path, "--format", "json", "--detailed-exitcode")
    assert result.code in (0, 2), str(result)
    data: dict[str, Any] = result.json
    return data


def addr(kind: str, *name: str) -> str:
    from topoctl.model import Address

    return str(Address(BROKER, kind, name))


def test_example_applies_and_plans_empty(tmp_path: Path, client: httpx.Client, vhost: str) -> None:
    doc = yaml.safe_load((REPO / "examples" / "rabbitmq.yaml").read_text())
    (broker,) = doc["brokers"].values()
    broker["vhosts"] = {vhost: broker["vhosts"]["shop"]}
    broker["connection"] = {"url": "http://127.0.0.1:15672", "username": "guest", "password": "guest"}
    path = write_manifest(tmp_path / "example.yaml", doc)
    apply(path)
    assert_no_changes(path)
    billing = queue(client, vhost, "shop.billing")
    assert billing is not None
    assert billing["arguments"]["x-delivery-limit"] == 5
    assert billing["arguments"]["x-dead-letter-exchange"] == "shop.billing.dlx"
    assert queue(client, vhost, "shop.billing.dlq") is not None
    assert queue(client, vhost, "shop.audit")["type"] == "stream"  # type: ignore[index]


def test_internal_exchange_round_trip(tmp_path: Path, client: httpx.Client, vhost: str) -> None:
    path = manifest_file(
        tmp_path,
        {
            vhost: {
                "exchanges": {"inner": {"type": "topic", "internal": True}, "front": {"type": "topic"}},
                "bindings": [{"source": "front", "destination": "inner", "destination_type": "exchange"}],
            }
        },
    )
    apply(path)
    assert_no_changes(path)
    live = client.get(f"/api/exchanges/{seg(vhost)}/inner").json()
    assert live["internal"] is True and live["type"] == "topic"
    # Flipping `internal` is a replace (the broker cannot change it), and shown as destructive.
    doc = yaml.safe_load(path.read_text())
    doc["brokers"][BROKER]["vhosts"][vhost]["exchanges"]["inner"]["internal"] = False
    write_manifest(path, doc)
    plan = plan_json(path)
    changes = {c["address"]: c for c in plan["changes"]}
    assert changes[addr("exchange", vhost, "inner")]["action"] == "replace"
    assert changes[addr("binding", vhost, "front", "exchange", "inner", "", "")]["action"] == "replace"
    apply(path, "--allow-destructive")
    assert_no_changes(path)
    assert client.get(f"/api/exchanges/{seg(vhost)}/inner").json()["internal"] is False


def test_bindings_with_arguments_empty_keys_and_exchange_destinations(
    tmp_path: Path, client: httpx.Client, vhost: str
) -> None:
    declared: list[dict[str, Any]] = [
        {"source": "h", "destination": "q", "arguments": {"x-match": "all", "kind": "pdf"}},
        {"source": "h", "destination": "q", "arguments": {"x-match": "any", "kind": "pdf"}},
        {"source": "t", "destination": "q"},
        {"source": "t", "destination": "q", "routing_key": "a.#"},
        {"source": "t", "destination": "h", "destination_type": "exchange", "routing_key": ""},
        {"source": "amq.topic", "destination": "q", "routing_key": "from.builtin"},
    ]
    vhosts: dict[str, Any] = {
        vhost: {
            "exchanges": {"h": {"type": "headers"}, "t": {"type": "topic"}},
            "queues": {"q": {}},
            "bindings": declared,
        }
    }
    path = manifest_file(tmp_path, vhosts)
    apply(path)
    assert_no_changes(path)
    live = {
        (b["source"], b["destination"], b["routing_key"], tuple(sorted(b["arguments"].items())))
        for b in bindings(client, vhost)
    }
    assert ("h", "q", "", (("kind", "pdf"), ("x-match", "all"))) in live
    assert ("h", "q", "", (("kind", "pdf"), ("x-match", "any"))) in live
    assert ("t", "q", "", ()) in live and ("t", "h", "", ()) in live and ("amq.topic", "q", "from.builtin", ()) in live

    # Deleting bindings that share source, destination and key, told apart by their arguments.
    removed = copy.deepcopy(vhosts)
    removed[vhost]["bindings"][1]["state"] = "absent"
    removed[vhost]["bindings"][2]["state"] = "absent"
    path = manifest_file(tmp_path, removed)
    changes = planned(topoctl("plan", "-f", path, "--format", "json"))
    assert set(changes.values()) == {"delete"} and len(changes) == 2, changes
    apply(path, "--allow-destructive")
    assert_no_changes(path)
    live = {
        (b["source"], b["destination"], b["routing_key"], tuple(sorted(b["arguments"].items())))
        for b in bindings(client, vhost)
    }
    assert ("h", "q", "", (("kind", "pdf"), ("x-match", "any"))) not in live
    assert ("h", "q", "", (("kind", "pdf"), ("x-match", "all"))) in live
    assert ("t", "q", "", ()) not in live and ("t", "q", "a.#", ()) in live


def test_odd_names_everywhere(tmp_path: Path, client: httpx.Client, odd_vhost: str) -> None:
    x, q, key = "ex %/#~ 1", "q %/#~ 1", "key/ %#~"
    vhosts: dict[str, Any] = {
        odd_vhost: {
            "exchanges": {x: {"type": "direct"}},
            "queues": {q: {"dead_letter": {}}},
            "bindings": [{"source": x, "destination": q, "routing_key": key}],
            "policies": {"pol %/#~": {"pattern": "^q", "apply_to": "queues", "definition": {"max-length": 10}}},
        }
    }
    path = manifest_file(tmp_path, vhosts)
    apply(path)
    assert_no_changes(path)
    live = queue(client, odd_vhost, q)
    assert live is not None and live["name"] == q
    assert any(b["routing_key"] == key and b["destination"] == q for b in bindings(client, odd_vhost))
    assert queue(client, odd_vhost, f"{q}.dlq") is not None

    vhosts[odd_vhost]["bindings"][0]["state"] = "absent"
    vhosts[odd_vhost]["policies"]["pol %/#~"] = {"state": "absent"}
    path = manifest_file(tmp_path, vhosts)
    apply(path, "--allow-destructive")
    assert_no_changes(path)
    assert not any(b["routing_key"] == key for b in bindings(client, odd_vhost))
    assert client.get(f"/api/policies/{seg(odd_vhost)}").json() == []


def test_replaced_queue_gets_its_bindings_back_and_messages_are_shown_at_risk(
    tmp_path: Path, client: httpx.Client, vhost: str
) -> None:
    vhosts: dict[str, Any] = {
        vhost: {
            "exchanges": {"orders": {"type": "topic"}, "audit": {"type": "fanout"}},
            "queues": {"work": {"arguments": {"x-max-length": 100}}, "other": {}},
            "bindings": [
                {"source": "orders", "destination": "work", "routing_key": "order.*"},
                {"source": "orders", "destination": "work", "routing_key": "", "arguments": {"a": 1}},
                {"source": "orders", "destination": "other", "routing_key": "#"},
                {"source": "orders", "destination": "audit", "destination_type": "exchange"},
            ],
        }
    }
    path = manifest_file(tmp_path, vhosts)
    apply(path)
    publish(client, vhost, "work", 3)
    wait_for(lambda: (queue(client, vhost, "work") or {}).get("messages") == 3, "3 messages in work")

    vhosts[vhost]["queues"]["work"]["arguments"]["x-max-length"] = 200
    path = manifest_file(tmp_path, vhosts)
    plan = plan_json(path)
    changes = {c["address"]: c for c in plan["changes"]}
    work = changes[addr("queue", vhost, "work")]
    assert work["action"] == "replace" and work["destructive"]
    assert any("3 messages will be lost" in r for r in work["reasons"]), work["reasons"]
    assert changes[addr("binding", vhost, "orders", "queue", "work", "order.*", "")]["action"] == "replace"
    assert addr("binding", vhost, "orders", "queue", "other", "#", "") not in changes
    text = topoctl("plan", "-f", path)
    assert "3 messages will be lost" in text.stdout, str(text)

    refused = topoctl("apply", "-f", path, "--auto-approve")
    assert refused.code == 1 and "--allow-destructive" in refused.stderr, str(refused)
    assert queue(client, vhost, "work")["messages"] == 3  # type: ignore[index]
    assert queue(client, vhost, "work")["arguments"]["x-max-length"] == 100  # type: ignore[index]

    apply(path, "--allow-destructive")
    assert queue(client, vhost, "work")["arguments"]["x-max-length"] == 200  # type: ignore[index]
    to_work = {
        (b["routing_key"], tuple(b["arguments"].items())) for b in bindings(client, vhost) if b["destination"] == "work"
    }
    assert to_work == {("order.*", ()), ("", (("a", 1),))}
    assert_no_changes(path)


def test_policy_updates_in_place(tmp_path: Path, client: httpx.Client, vhost: str) -> None:
    vhosts: dict[str, Any] = {
        vhost: {
            "queues": {"audit.q": {}},
            "policies": {"ttl": {"pattern": "^audit\\.", "apply_to": "queues", "definition": {"message-ttl": "1h"}}},
        }
    }
    path = manifest_file(tmp_path, vhosts)
    apply(path)
    assert_no_changes(path)
    vhosts[vhost]["policies"]["ttl"]["definition"] = {"message-ttl": "2h", "max-length": 5}
    vhosts[vhost]["policies"]["ttl"]["priority"] = 3
    path = manifest_file(tmp_path, vhosts)
    changes = planned(topoctl("plan", "-f", path, "--format", "json"))
    assert changes == {addr("policy", vhost, "ttl"): "update"}
    apply(path)  # not destructive: no flag needed
    assert_no_changes(path)
    live = client.get(f"/api/policies/{seg(vhost)}/ttl").json()
    assert live["definition"] == {"message-ttl": 7_200_000, "max-length": 5}
    assert live["priority"] == 3
    wait_for(lambda: (queue(client, vhost, "audit.q") or {}).get("policy") == "ttl", "policy applied to audit.q")


def test_vhost_metadata_updates_and_absent_deletes(tmp_path: Path, client: httpx.Client, vhost: str) -> None:
    path = manifest_file(tmp_path, {vhost: {"description": "one", "tags": ["a"], "queues": {"q": {}}}})
    apply(path)
    assert_no_changes(path)
    path = manifest_file(tmp_path, {vhost: {"description": "two", "queues": {"q": {}}}})
    changes = planned(topoctl("plan", "-f", path, "--format", "json"))
    assert changes == {addr("vhost", vhost): "update"}
    apply(path)
    live = client.get(f"/api/vhosts/{seg(vhost)}").json()
    assert live["description"] == "two" and live["tags"] == ["a"]  # undeclared tags are kept

    publish(client, vhost, "q", 2)
    wait_for(lambda: (queue(client, vhost, "q") or {}).get("messages") == 2, "2 messages in q")
    path = manifest_file(tmp_path, {vhost: {"state": "absent"}})
    plan = plan_json(path)
    (change,) = [c for c in plan["changes"] if c["kind"] == "vhost"]
    assert change["action"] == "delete"
    assert any("1 queue holding 2 messages" in r for r in change["reasons"]), change["reasons"]
    refused = topoctl("apply", "-f", path, "--auto-approve")
    assert refused.code == 1
    apply(path, "--allow-destructive")
    assert client.get(f"/api/vhosts/{seg(vhost)}").status_code == 404
    assert_no_changes(path)


def test_every_field_non_default_in_other_spellings_plans_empty_after_apply(tmp_path: Path, odd_vhost: str) -> None:
    vhost = odd_vhost
    path = manifest_file(
        tmp_path,
        {
            vhost: {
                "description": "every field",
                "tags": ["b", "a", "b"],
                "exchanges": {
                    "ex 1/#": {
                        "type": "headers",
                        "durable": False,
                        "auto_delete": True,
                        "arguments": {"alternate-exchange": "alt"},
                    },
                    "alt": {"type": "fanout", "internal": True},
                    "odd args": {"type": "topic", "arguments": {"x-list": [1, 2], "x-map": {"a": 1}, "x-flag": True}},
                },
                "queues": {
                    "q one": {
                        "type": "classic",
                        "durable": False,
                        "arguments": {
                            "x-message-ttl": "1m30s",
                            "x-expires": "1d",
                            "x-max-length": 10,
                            "x-max-length-bytes": "1MiB",
                            "x-overflow": "reject-publish-dlx",
                            "x-max-priority": 5,
                            "x-single-active-consumer": True,
                            "x-queue-mode": "lazy",
                        },
                        "dead_letter": {"exchange": "shared.dlx", "queue": "shared.dlq", "routing_key": "q1 key"},
                    },
                    "qq": {
                        "type": "quorum",
                        "arguments": {
                            "x-max-in-memory-bytes": "2KiB",
                            "x-dead-letter-strategy": "at-least-once",
                            "x-overflow": "reject-publish",
                            "x-quorum-initial-group-size": 1,
                        },
                        "dead_letter": {
                            "max_deliveries": 3,
                            "exchange": "shared.dlx",
                            "queue": "shared.dlq",
                            "queue_type": "classic",
                        },
                    },
                    "st": {
                        "type": "stream",
                        "arguments": {
                            "x-max-age": "168h",
                            "x-stream-max-segment-size-bytes": "50MiB",
                            "x-max-length-bytes": "1GiB",
                        },
                    },
                    "cl2": {"arguments": {"x-queue-type": "classic", "x-message-ttl": "1.5s"}},
                },
                "bindings": [
                    {"source": "ex 1/#", "destination": "q one", "arguments": {"x-match": "any", "n": 5, "f": True}},
                    {"source": "alt", "destination": "qq", "routing_key": ""},
                    {
                        "source": "odd args",
                        "destination": "ex 1/#",
                        "destination_type": "exchange",
                        "routing_key": "a.#",
                    },
                    {"source": "amq.topic", "destination": "st", "routing_key": "x.#"},
                    {"source": "odd args", "destination": "amq.fanout", "destination_type": "exchange"},
                ],
                "policies": {
                    "p1": {
                        "pattern": "^q",
                        "apply_to": "queues",
                        "priority": 3,
                        "definition": {
                            "message-ttl": "1m",
                            "max-length-bytes": "10KiB",
                            "expires": "1d",
                            "overflow": "drop-head",
                            "max-age": "7d",
                            "delivery-limit": 4,
                            "ha-mode": "exactly",
                            "ha-params": 2,
                        },
                    },
                    "p2": {
                        "pattern": "^st$",
                        "apply_to": "exchanges",
                        "priority": -1,
                        "definition": {"alternate-exchange": "alt"},
                    },
                },
            }
        },
    )
    apply(path)
    assert_no_changes(path)


def test_vhost_tags_with_spaces_and_unicode_names_plan_empty_after_apply(
    tmp_path: Path, client: httpx.Client, vhost: str
) -> None:
    path = manifest_file(
        tmp_path,
        {
            vhost: {
                "description": "  multi\nline ünïcode ",
                "tags": [" spaced ", "b", "a,b"],
                "exchanges": {"café ex": {"type": "topic"}},
                "queues": {"queue ☃": {"arguments": {"x-max-length-bytes": "1.5KiB", "x-message-ttl": "0.5s"}}},
                "bindings": [{"source": "café ex", "destination": "queue ☃", "routing_key": "ключ.*"}],
                "policies": {"pol é/1": {"pattern": "^queue", "definition": {"expires": "1h30m"}}},
            }
        },
    )
    apply(path)
    assert_no_changes(path)
    assert sorted(client.get(f"/api/vhosts/{seg(vhost)}").json()["tags"]) == ["a,b", "b", "spaced"]


def test_system_and_exclusive_objects_are_never_touched_even_with_prune(
    tmp_path: Path, client: httpx.Client, vhost: str
) -> None:
    client.put(f"/api/vhosts/{seg(vhost)}", json={})
    client.put(f"/api/queues/{seg(vhost)}/stray", json={"durable": True})
    client.put(f"/api/exchanges/{seg(vhost)}/stray.x", json={"type": "topic", "durable": True})
    client.put(f"/api/policies/{seg(vhost)}/stray.p", json={"pattern": "^zz", "definition": {"max-length": 1}})
    client.post(f"/api/bindings/{seg(vhost)}/e/amq.topic/q/stray", json={"routing_key": "s"})
    connection = pika.BlockingConnection(pika.ConnectionParameters("127.0.0.1", virtual_host=vhost))
    try:
        channel = connection.channel()
        channel.queue_declare("held", exclusive=True)
        server_named = channel.queue_declare("", exclusive=True).method.queue
        channel.queue_bind(server_named, "amq.topic", "x.#")
        channel.queue_bind("held", "amq.fanout")
        wait_for(lambda: queue(client, vhost, "held") is not None, "the exclusive queue to be listed")

        path = manifest_file(tmp_path, {vhost: {"queues": {"kept": {}}}}, prune=True)
        changes = planned(topoctl("plan", "-f", path, "--format", "json"))
        assert changes == {
            addr("queue", vhost, "kept"): "create",
            addr("queue", vhost, "stray"): "delete",
            addr("exchange", vhost, "stray.x"): "delete",
            addr("policy", vhost, "stray.p"): "delete",
            addr("binding", vhost, "amq.topic", "queue", "stray", "s", ""): "delete",
        }, changes
        apply(path, "--allow-destructive")
        assert_no_changes(path)
        assert queue(client, vhost, "held") is not None
        assert queue(client, vhost, server_named) is not None
        assert queue(client, vhost, "stray") is None
        names = {e["name"] for e in client.get(f"/api/exchanges/{seg(vhost)}").json()}
        assert {"", "amq.topic", "amq.fanout", "amq.direct", "amq.headers", "amq.match"} <= names
        assert "stray.x" not in names
        live = {(b["source"], b["destination"]) for b in bindings(client, vhost)}
        assert ("amq.topic", server_named) in live and ("amq.fanout", "held") in live
    finally:
        connection.close()


def test_prune_with_prefix_only_deletes_prefixed_names(tmp_path: Path, client: httpx.Client, vhost: str) -> None:
    client.put(f"/api/vhosts/{seg(vhost)}", json={})
    for name in ("app.old", "team.other"):
        client.put(f"/api/queues/{seg(vhost)}/{name}", json={"durable": True})
    path = manifest_file(tmp_path, {vhost: {"prune": {"prefix": "app."}, "queues": {"app.new": {}}}})
    changes = planned(topoctl("plan", "-f", path, "--format", "json"))
    assert changes == {addr("queue", vhost, "app.new"): "create", addr("queue", vhost, "app.old"): "delete"}


def test_dead_letter_routes_rejected_messages_to_the_dlq(tmp_path: Path, client: httpx.Client, vhost: str) -> None:
    path = manifest_file(
        tmp_path,
        {vhost: {"queues": {"jobs": {"type": "quorum", "dead_letter": {"max_deliveries": 1}}}}},
    )
    apply(path)
    assert_no_changes(path)
    publish(client, vhost, "jobs", 1)
    connection = pika.BlockingConnection(pika.ConnectionParameters("127.0.0.1", virtual_host=vhost))
    try:
        channel = connection.channel()
        for _ in range(2):  # x-delivery-limit 1: the second requeue dead-letters it
            method, _, _ = channel.basic_get("jobs")
            if method is None:
                break
            channel.basic_nack(method.delivery_tag, requeue=True)
    finally:
        connection.close()
    wait_for(lambda: (queue(client, vhost, "jobs.dlq") or {}).get("messages") == 1, "the message in jobs.dlq")


def test_unreachable_broker_fails_fast_naming_it(tmp_path: Path) -> None:
    path = write_manifest(
        tmp_path / "down.yaml",
        {
            "version": 1,
            "brokers": {
                "down-rabbit": {
                    "type": "rabbitmq",
                    "connection": {"url": "http://127.0.0.1:1", "password": "s3cret-pw"},
                    "vhosts": {"v": {}},
                }
            },
        },
    )
    started = time.monotonic()
    result = topoctl("plan", "-f", path)
    assert result.code == 1, str(result)
    assert "down-rabbit" in result.stderr and "127.0.0.1:1" in result.stderr
    assert "s3cret-pw" not in result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert time.monotonic() - started < 15


def test_wrong_password_is_one_clear_error_without_the_secret(tmp_path: Path) -> None:
    path = write_manifest(
        tmp_path / "auth.yaml",
        {
            "version": 1,
            "brokers": {
                "auth-rabbit": {
                    "type": "rabbitmq",
                    "connection": {"url": "http://guest:url-secret@127.0.0.1:15672", "password": "wrong-secret"},
                    "vhosts": {"v": {}},
                }
            },
        },
    )
    result = topoctl("plan", "-f", path)
    assert result.code == 1, str(result)
    assert "auth-rabbit" in result.stderr and "401" in result.stderr
    assert "wrong-secret" not in result.stdout + result.stderr
    assert "url-secret" not in result.stdout + result.stderr


def test_saved_plan_is_refused_when_a_touched_object_changed(tmp_path: Path, client: httpx.Client, vhost: str) -> None:
    vhosts: dict[str, Any] = {
        vhost: {"policies": {"p": {"pattern": "^a", "apply_to": "queues", "definition": {"max-length": 1}}}}
    }
    apply(manifest_file(tmp_path, vhosts))
    vhosts[vhost]["policies"]["p"]["definition"] = {"max-length": 2}
    plan_file = tmp_path / "plan.json"
    saved = topoctl("plan", "-f", manifest_file(tmp_path, vhosts), "-o", plan_file)
    assert saved.code == 0, str(saved)
    # Someone else changes the policy after the plan was made.
    r = client.put(
        f"/api/policies/{seg(vhost)}/p", json={"pattern": "^a", "apply-to": "queues", "definition": {"max-length": 9}}
    )
    assert r.status_code in (201, 204)
    stale = topoctl("apply", plan_file, "--auto-approve")
    assert stale.code == 1 and "saved plan is stale" in stale.stderr, str(stale)
    assert client.get(f"/api/policies/{seg(vhost)}/p").json()["definition"] == {"max-length": 9}
