"""Shared helpers for the RabbitMQ integration tests: a raw management API client and unique
vhosts (their fixtures are in conftest.py).
The tests talk to the broker that `dev/brokers up rabbitmq` starts (127.0.0.1:15672, guest/guest);
when it is unreachable they fail, they never skip.
"""

from __future__ import annotations

import os
import re
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from tests.cli import write_manifest

URL = os.environ.get("RABBITMQ_URL", "http://127.0.0.1:15672")
AUTH = ("guest", "guest")
BROKER = "it-rabbit"


def seg(part: str) -> str:
    return quote(part, safe="")


def api() -> httpx.Client:
    return httpx.Client(base_url=URL, auth=AUTH, timeout=30)


def unique_vhost(odd: bool = False) -> str:
    tag = uuid.uuid4().hex[:8]
    return f"it {tag}/a#%~" if odd else f"it-{tag}"


def delete_vhost(client: httpx.Client, vhost: str) -> None:
    client.delete(f"/api/vhosts/{seg(vhost)}")


def document(vhosts: dict[str, Any], **broker: Any) -> dict[str, Any]:
    connection = {"url": URL, "username": AUTH[0], "password": AUTH[1]}
    return {
        "version": 1,
        "brokers": {BROKER: {"type": "rabbitmq", "connection": connection, **broker, "vhosts": vhosts}},
    }


def manifest_file(tmp_path: Path, vhosts: dict[str, Any], name: str = "m.yaml", **broker: Any) -> Path:
    return write_manifest(tmp_path / name, document(vhosts, **broker))


def queue(client: httpx.Client, vhost: str, name: str) -> dict[str, Any] | None:
    r = client.get(f"/api/queues/{seg(vhost)}/{seg(name)}")
    return None if r.status_code == 404 else dict(r.json())


def bindings(client: httpx.Client, vhost: str) -> list[dict[str, Any]]:
    return [b for b in client.get(f"/api/bindings/{seg(vhost)}").json() if b["source"]]


def publish(client: httpx.Client, vhost: str, routing_key: str, count: int, exchange: str = "amq.default") -> None:
    body = {"properties": {}, "routing_key": routing_key, "payload": "hello", "payload_encoding": "string"}
    for _ in range(count):
        r = client.post(f"/api/exchanges/{seg(vhost)}/{seg(exchange)}/publish", json=body)
        assert r.status_code == 200 and r.json()["routed"], r.text


def wait_for(predicate: Callable[[], bool], what: str, timeout: float = 30) -> None:
    """Polls (the management stats lag by up to the stats interval); not a timing assertion."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.25)


def placeholders(stderr: str) -> dict[str, str]:
    """An export names on stderr the `${...}` placeholders it wrote for secrets it cannot read back
    (passwords of the broker's users, of shovel and upstream URIs): values for all of them, so the
    export can be loaded. On the shared broker other tests' users come and go; plans of exports are
    narrowed with --target to what a test made, so these values are never compared."""
    return {name: "placeholder-for-other-tests" for name in re.findall(r"set (\w+) before planning the export", stderr)}
