"""RabbitMQ's own objects against the real broker: a manifest that would delete the default vhost
`/`, a built-in exchange or a binding of a server-named queue is refused before anything is sent,
so nothing on the broker changes, not even the valid changes planned beside it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pika
import pytest

from tests.cli import Result, topoctl
from tests.integration.rabbitmq_support import AUTH, bindings, manifest_file, queue, seg, wait_for

pytestmark = pytest.mark.integration


def _refused(result: Result, message: str) -> None:
    assert result.code == 1, str(result)
    assert "Traceback" not in result.stderr and message in result.stderr, str(result)
    assert "Apply complete" not in result.stdout


def _default_vhost(client: httpx.Client) -> dict[str, object]:
    response = client.get("/api/vhosts/%2F")
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_deleting_system_objects_is_refused_and_nothing_changes(
    tmp_path: Path, client: httpx.Client, vhost: str
) -> None:
    assert client.put(f"/api/vhosts/{seg(vhost)}", json={}).status_code in (201, 204)
    assert client.put(f"/api/queues/{seg(vhost)}/keep", json={"durable": True}).status_code in (201, 204)
    client.post(f"/api/bindings/{seg(vhost)}/e/amq.topic/q/keep", json={"routing_key": "k"})
    before_default = _default_vhost(client)
    connection = pika.BlockingConnection(
        pika.ConnectionParameters("127.0.0.1", virtual_host=vhost, credentials=pika.PlainCredentials(*AUTH))
    )
    try:
        channel = connection.channel()
        server_named = channel.queue_declare("", exclusive=True).method.queue
        channel.queue_bind(server_named, "amq.fanout")
        wait_for(lambda: queue(client, vhost, server_named) is not None, "the server-named queue to be listed")

        cases: list[tuple[dict[str, dict[str, Any]], str]] = [
            ({"/": {"state": "absent"}}, "the default vhost '/' is RabbitMQ's own and is never deleted"),
            ({vhost: {"exchanges": {"amq.topic": {"state": "absent"}}}}, "'amq.topic' starts with 'amq.'"),
            ({vhost: {"queues": {server_named: {"state": "absent"}}}}, f"{server_named!r} starts with 'amq.'"),
            (
                {vhost: {"bindings": [{"source": "amq.fanout", "destination": server_named, "state": "absent"}]}},
                f"queue {server_named!r} is server-named",
            ),
        ]
        for extra, message in cases:
            # A valid, destructive change beside the refused one: it must not happen either.
            vhosts: dict[str, dict[str, Any]] = {vhost: {"prune": True, "queues": {"fresh": {}}}}
            for name, body in extra.items():
                vhosts[name] = {**vhosts.get(name, {}), **body}
            path = manifest_file(tmp_path, vhosts)
            _refused(topoctl("validate", "-f", path), message)
            _refused(topoctl("plan", "-f", path), message)
            _refused(topoctl("apply", "-f", path, "--auto-approve", "--allow-destructive"), message)

        assert _default_vhost(client) == before_default
        assert queue(client, vhost, "keep") is not None  # prune did not run
        assert queue(client, vhost, "fresh") is None  # nor did the create
        assert queue(client, vhost, server_named) is not None
        names = {e["name"] for e in client.get(f"/api/exchanges/{seg(vhost)}").json()}
        assert {"", "amq.topic", "amq.fanout"} <= names
        live = {(b["source"], b["destination"]) for b in bindings(client, vhost)}
        assert ("amq.topic", "keep") in live and ("amq.fanout", server_named) in live
    finally:
        connection.close()
