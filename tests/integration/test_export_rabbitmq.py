"""`topoctl export` against the real RabbitMQ: a vhost built by hand (management API, not topoctl)
exports to a manifest whose plan is empty, without system objects and without secrets."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pika
import pytest
import yaml

from tests.cli import topoctl, write_manifest
from tests.integration.export_support import assert_targets_cover
from tests.integration.rabbitmq_support import AUTH, URL, api, delete_vhost, placeholders, seg, unique_vhost

pytestmark = pytest.mark.integration
BROKER = "exp-rabbit"
ENV = {"RABBITMQ_PASSWORD": AUTH[1]}


def _connection_manifest(tmp_path: Path) -> Path:
    connection = {"url": URL, "username": AUTH[0], "password": "${RABBITMQ_PASSWORD}"}
    return write_manifest(
        tmp_path / "connection.yaml",
        {"version": 1, "brokers": {BROKER: {"type": "rabbitmq", "connection": connection}}},
    )


def _ok(response: httpx.Response) -> None:
    assert response.status_code in (200, 201, 204), f"{response.request.url}: {response.status_code} {response.text}"


def _build_by_hand(client: httpx.Client, vhost: str) -> None:
    v = seg(vhost)
    _ok(client.put(f"/api/vhosts/{v}", json={"description": "built by hand", "tags": "export,test"}))
    exchanges = {
        "orders": {"type": "topic", "durable": True},
        "events": {"type": "fanout", "durable": True, "internal": True},
        "match": {
            "type": "headers",
            "durable": False,
            "auto_delete": False,
            "arguments": {"alternate-exchange": "orders"},
        },
        "billing.dlx": {"type": "direct", "durable": True},
    }
    for name, body in exchanges.items():
        _ok(client.put(f"/api/exchanges/{v}/{seg(name)}", json=body))
    queues = {
        "billing": {
            "durable": True,
            "arguments": {
                "x-queue-type": "quorum",
                "x-delivery-limit": 5,
                "x-dead-letter-exchange": "billing.dlx",
                "x-dead-letter-routing-key": "billing",
            },
        },
        "billing.dlq": {"durable": True, "arguments": {"x-queue-type": "quorum"}},
        "notify": {"durable": True, "arguments": {"x-message-ttl": 3_600_000, "x-max-length-bytes": 10 * 1024 * 1024}},
        "scratch": {"durable": False, "auto_delete": False, "arguments": {}},
        "audit": {"durable": True, "arguments": {"x-queue-type": "stream", "x-max-age": "7D"}},
    }
    for name, body in queues.items():
        _ok(client.put(f"/api/queues/{v}/{seg(name)}", json=body))
    bindings: list[tuple[str, str, str, dict[str, Any]]] = [
        ("orders", "q", "billing", {"routing_key": "order.*"}),
        ("billing.dlx", "q", "billing.dlq", {"routing_key": "billing"}),
        ("orders", "e", "events", {"routing_key": "#"}),
        ("events", "q", "audit", {}),
        ("match", "q", "notify", {"routing_key": "", "arguments": {"x-match": "any", "kind": "mail"}}),
        ("amq.topic", "q", "notify", {"routing_key": "notify.#"}),
    ]
    for source, dtype, destination, body in bindings:
        _ok(client.post(f"/api/bindings/{v}/e/{seg(source)}/{dtype}/{seg(destination)}", json=body))
    policy = {"pattern": "^notify$", "apply-to": "queues", "priority": 3, "definition": {"expires": 86_400_000}}
    _ok(client.put(f"/api/policies/{v}/ttl", json=policy))


@pytest.fixture
def vhost() -> Iterator[str]:
    name = unique_vhost()
    with api() as client:
        try:
            _build_by_hand(client, name)
            yield name
        finally:
            delete_vhost(client, name)


def _targets(vhost: str) -> list[str]:
    # The broker is shared with other tests that create and delete vhosts while this one runs;
    # the plan is narrowed to this test's vhost so their objects cannot make it flaky.
    out: list[str] = []
    for kind in ("vhost", "exchange", "queue", "binding", "policy"):
        out += ["--target", f"{BROKER}/{kind}/{seg(vhost)}"]
    return out


def test_export_of_a_hand_built_vhost_plans_empty(tmp_path: Path, vhost: str) -> None:
    connection = _connection_manifest(tmp_path)
    # An exclusive and a server-named queue exist only while this connection is open: system objects.
    params = pika.ConnectionParameters("127.0.0.1", 5672, vhost, pika.PlainCredentials(*AUTH))
    with pika.BlockingConnection(params) as amqp:
        channel = amqp.channel()
        channel.queue_declare("private", exclusive=True)
        server_named = channel.queue_declare("", exclusive=True).method.queue
        result = topoctl("export", "--broker", BROKER, "-f", connection, env=ENV)
    assert result.code == 0, str(result)
    exported = tmp_path / "exported.yaml"
    exported.write_text(result.stdout, encoding="utf-8")

    document = yaml.safe_load(result.stdout)
    body = document["brokers"][BROKER]
    assert body["type"] == "rabbitmq"
    assert body["connection"] == {"url": URL, "username": AUTH[0], "password": "${RABBITMQ_PASSWORD}"}
    mine = body["vhosts"][vhost]
    assert set(mine["exchanges"]) == {"orders", "events", "match", "billing.dlx"}
    assert set(mine["queues"]) == {"billing", "billing.dlq", "notify", "scratch", "audit"}
    assert "private" not in mine["queues"] and server_named not in mine["queues"]
    # Readable units, as a person writes them.
    assert mine["queues"]["notify"]["arguments"] == {"x-message-ttl": "1h", "x-max-length-bytes": "10MiB"}
    assert mine["queues"]["audit"]["arguments"] == {"x-max-age": "7d"}
    assert mine["policies"]["ttl"]["definition"] == {"expires": "1d"}
    assert mine["description"] == "built by hand" and mine["tags"] == ["export", "test"]
    assert {"source": "amq.topic", "destination": "notify", "routing_key": "notify.#"} in mine["bindings"]

    env = {**placeholders(result.stderr), **ENV}  # other tests' users' passwords, never compared here
    validated = topoctl("validate", "-f", exported, env=env)
    assert validated.code == 0, str(validated)
    assert_targets_cover(exported, _targets(vhost), lambda a: a.name[0] == vhost, env)
    plan = topoctl("plan", "-f", exported, "--detailed-exitcode", *_targets(vhost), env=env)
    assert plan.code == 0, f"the plan of the export is not empty:\n{plan}"
    assert "No changes." in plan.stdout


def test_export_never_prints_a_secret(tmp_path: Path) -> None:
    literal = write_manifest(
        tmp_path / "literal.yaml",
        {
            "version": 1,
            "brokers": {
                BROKER: {
                    "type": "rabbitmq",
                    "connection": {"url": URL, "username": AUTH[0], "password": AUTH[1]},
                }
            },
        },
    )
    result = topoctl("export", "--broker", BROKER, "-f", literal)
    assert result.code == 0, str(result)
    connection = yaml.safe_load(result.stdout)["brokers"][BROKER]["connection"]
    assert connection["password"] == "${EXP_RABBIT_PASSWORD}"
    assert "EXP_RABBIT_PASSWORD" in result.stderr


def test_export_of_an_unknown_broker_is_one_clear_error(tmp_path: Path) -> None:
    result = topoctl("export", "--broker", "nope", "-f", _connection_manifest(tmp_path), env=ENV)
    assert result.code == 1
    assert result.stderr.strip() == f"Error: --broker nope: no such broker in the manifest (have: {BROKER})"


def test_export_of_an_unreachable_broker_names_it(tmp_path: Path) -> None:
    down = write_manifest(
        tmp_path / "down.yaml",
        {
            "version": 1,
            "brokers": {
                BROKER: {
                    "type": "rabbitmq",
                    "connection": {"url": "http://127.0.0.1:1", "username": "u", "password": "${RABBITMQ_PASSWORD}"},
                }
            },
        },
    )
    result = topoctl("export", "--broker", BROKER, "-f", down, env={"RABBITMQ_PASSWORD": "s3cr3t-pw"})
    assert result.code == 1
    assert BROKER in result.stderr and "Traceback" not in result.stderr
    assert "s3cr3t-pw" not in result.stderr + result.stdout
    assert result.stdout == ""


def _default_vhost_untouched(client: httpx.Client) -> bool:
    """`/` as RabbitMQ creates it: its own description, no tags, nothing declared in it."""
    vhost = client.get("/api/vhosts/%2F").json()
    user_exchanges = [
        e for e in client.get("/api/exchanges/%2F").json() if e["name"] and not e["name"].startswith("amq.")
    ]
    user_bindings = [b for b in client.get("/api/bindings/%2F").json() if b["source"]]
    return (
        vhost.get("description") == "Default virtual host"
        and not vhost.get("tags")
        and not client.get("/api/queues/%2F").json()
        and not user_exchanges
        and not user_bindings
        and not client.get("/api/policies/%2F").json()
    )


def test_export_leaves_out_the_untouched_default_vhost_and_round_trips(tmp_path: Path, client: httpx.Client) -> None:
    vhost = unique_vhost()
    v = seg(vhost)
    try:
        _ok(client.put(f"/api/vhosts/{v}", json={}))
        _ok(client.put(f"/api/exchanges/{v}/match", json={"type": "headers", "durable": True}))
        _ok(client.put(f"/api/queues/{v}/mail", json={"durable": True}))
        # Header values that look like durations are values to match, not settings: kept as written.
        arguments = {"x-match": "all", "expires": "30s", "max-age": "7d"}
        _ok(client.post(f"/api/bindings/{v}/e/match/q/mail", json={"routing_key": "", "arguments": arguments}))
        untouched = _default_vhost_untouched(client)
        result = topoctl("export", "--broker", BROKER, "-f", _connection_manifest(tmp_path), env=ENV)
        assert result.code == 0, str(result)
        exported = yaml.safe_load(result.stdout)["brokers"][BROKER]["vhosts"]
        if untouched and _default_vhost_untouched(client):
            assert "/" not in exported, exported.get("/")
            assert "Default virtual host" not in result.stdout
        else:  # someone put something in `/` meanwhile: still none of RabbitMQ's own defaults
            assert exported.get("/", {}).get("description") != "Default virtual host"
        assert exported[vhost] == {
            "exchanges": {"match": {"type": "headers"}},
            "queues": {"mail": {"type": "classic"}},
            "bindings": [{"source": "match", "destination": "mail", "arguments": arguments}],
        }
        path = tmp_path / "exported.yaml"
        path.write_text(result.stdout, encoding="utf-8")
        targets = [*_targets(vhost), *_targets("/")]
        env = {**placeholders(result.stderr), **ENV}
        plan = topoctl("plan", "-f", path, "--detailed-exitcode", *targets, env=env)
        assert plan.code == 0, f"the plan of the export is not empty:\n{plan}"
    finally:
        delete_vhost(client, vhost)
