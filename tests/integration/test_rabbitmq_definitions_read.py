"""A plan reads a vhost from its definitions (one request, a third of the broker's time of four
listings) when topoctl connects as an administrator, and from the listings otherwise (only
administrators may export definitions). Against the real broker: both reads observe the same
objects, a client's exclusive queue and its binding stay out of both, and a binding with
arguments read without its `properties_key` is still deleted."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pika
import pytest

from tests.cli import apply_ok, assert_empty
from tests.integration.rabbitmq_support import AUTH, URL, manifest_file, seg
from topoctl.model import Resource
from topoctl.providers.rabbitmq import driver as rabbitmq_driver
from topoctl.providers.rabbitmq.driver import RabbitMQDriver
from topoctl.providers.rabbitmq.observe import PROPERTIES_KEY, observe

pytestmark = pytest.mark.integration


def _topology() -> dict[str, Any]:
    return {
        "exchanges": {
            "events": {"type": "topic"},
            "headers": {"type": "headers"},
            "inner": {"type": "fanout", "internal": True, "arguments": {"alternate-exchange": "events"}},
        },
        "queues": {
            "classic": {"arguments": {"x-max-length": 10}},
            "quorum": {"type": "quorum"},
            "dead": {"dead_letter": True},
        },
        "bindings": [
            {"source": "events", "destination": "classic", "routing_key": "a.#"},
            {"source": "events", "destination": "classic"},
            {"source": "headers", "destination": "quorum", "arguments": {"x-match": "all", "k": "v"}},
            {"source": "events", "destination": "inner", "destination_type": "exchange", "routing_key": "x"},
        ],
        "policies": {"cap": {"pattern": "^classic$", "apply_to": "queues", "definition": {"message-ttl": 60000}}},
    }


@pytest.fixture
def manager(client: httpx.Client, vhost: str) -> Iterator[tuple[str, str]]:
    """A user with the management tag (not an administrator), with every permission on `vhost`."""
    name, password = f"it-mgmt-{uuid.uuid4().hex[:6]}", "mgmt-password"
    assert client.put(f"/api/users/{name}", json={"password": password, "tags": "management"}).status_code < 300
    yield name, password
    client.delete(f"/api/users/{name}")


def _observed(user: str, password: str, vhost: str, monkeypatch: pytest.MonkeyPatch) -> tuple[list[Any], list[str]]:
    sent: list[str] = []
    fetch = rabbitmq_driver._fetch

    def counted(api: Any, request: tuple[str, str, bool]) -> Any:
        sent.append(request[0])
        return fetch(api, request)

    monkeypatch.setattr(rabbitmq_driver, "_fetch", counted)
    driver = RabbitMQDriver("it-rabbit", {"url": URL, "username": user, "password": password})
    try:
        live = driver.live_state(vhosts={vhost})
    finally:
        driver.close()
        monkeypatch.setattr(rabbitmq_driver, "_fetch", fetch)
    # A manager sees only its own vhosts in the vhosts listing: compare what is in this one.
    inside = [r for r in observe("it-rabbit", live) if r.address.name[0] == vhost]
    return sorted((_comparable(r) for r in inside), key=str), sent


def _comparable(r: Resource) -> tuple[Any, ...]:
    info = {k: v for k, v in r.info.items() if k != PROPERTIES_KEY}
    return (str(r.address), r.attrs, r.depends_on, info)


def test_definitions_and_listings_observe_the_same_vhost(
    tmp_path: Path,
    vhost: str,
    client: httpx.Client,
    manager: tuple[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    apply_ok(manifest_file(tmp_path, {vhost: _topology()}))
    assert (
        client.put(
            f"/api/permissions/{seg(vhost)}/{manager[0]}", json=dict.fromkeys(("configure", "write", "read"), ".*")
        ).status_code
        < 300
    )
    # A client's exclusive queue, bound to a declared exchange: neither read is to report it.
    connection = pika.BlockingConnection(pika.URLParameters(f"amqp://{AUTH[0]}:{AUTH[1]}@127.0.0.1:5672/{seg(vhost)}"))
    try:
        channel = connection.channel()
        channel.queue_declare("client-own", exclusive=True)
        channel.queue_bind("client-own", "events", routing_key="mine")
        as_admin, sent_admin = _observed(*AUTH, vhost, monkeypatch)
        as_manager, sent_manager = _observed(*manager, vhost, monkeypatch)
    finally:
        connection.close()

    assert as_admin == as_manager
    names = [r[0] for r in as_admin]
    assert not [n for n in names if "client-own" in n]
    assert len([n for n in names if "/binding/" in n]) == 5  # four declared, one to the dead-letter queue
    assert f"/api/definitions/{seg(vhost)}" in sent_admin
    assert not [p for p in sent_admin if p.startswith(("/api/queues", "/api/bindings", "/api/policies"))]
    assert f"/api/definitions/{seg(vhost)}" in sent_manager  # refused, then the listings, each once
    listed = sorted(p.split("?")[0] for p in sent_manager if not p.startswith(("/api/definitions", "/api/vhosts")))
    assert listed == [f"/api/{k}/{seg(vhost)}" for k in ("bindings", "consumers", "exchanges", "policies", "queues")]


def test_a_binding_with_arguments_read_from_definitions_is_deleted(
    tmp_path: Path, vhost: str, client: httpx.Client
) -> None:
    topology = _topology()
    apply_ok(manifest_file(tmp_path, {vhost: topology}))
    topology["bindings"][2]["state"] = "absent"  # the headers binding: its key has an arguments hash
    path = manifest_file(tmp_path, {vhost: topology})
    apply_ok(path, "--allow-destructive")
    left = client.get(f"/api/bindings/{seg(vhost)}/e/headers/q/quorum").json()
    assert left == []
    assert_empty(path)
