"""The RabbitMQ driver given a wave that holds bindings and the exchanges and queues they need
(KindSpec.created_together): the import carries them in order, and whatever is written one
request at a time writes the bindings after the rest."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.unit.http_seam import reply
from topoctl.errors import BrokerError
from topoctl.model import Action, Address, Change
from topoctl.providers.jsonhttp import Request, Response
from topoctl.providers.rabbitmq import swap
from topoctl.providers.rabbitmq.client import ManagementApi
from topoctl.providers.rabbitmq.driver import BULK_MIN, RabbitMQDriver
from topoctl.providers.rabbitmq.kinds import binding_address

B = "r"


class Broker:
    """Imports and single writes, remembered so that the check after an import finds them."""

    def __init__(self, refuse: str = "") -> None:
        self.calls: list[tuple[str, str]] = []
        self.imported: dict[str, list[dict[str, Any]]] = {"exchanges": [], "queues": [], "bindings": []}
        self.refuse = refuse

    def __call__(self, request: Request) -> Response:
        self.calls.append((request.method, request.path))
        if self.refuse and request.path.endswith(f"/{self.refuse}") and request.method == "PUT":
            return reply(400, json={"reason": "invalid arg"})
        if request.method == "POST" and request.path.startswith("/api/definitions/"):
            body = json.loads(request.body or b"{}")
            if self.refuse and any(q["name"] == self.refuse for q in body["queues"]):
                return reply(400, json={"reason": "import failed"})
            for section, rows in body.items():
                self.imported[section] += rows
            return reply(204)
        if request.method == "GET" and request.path.count("/") == 3:  # a vhost's listing: the check
            section = request.path.split("/")[2]
            return reply(200, json=[{"arguments": {}, **row} for row in self.imported[section]])
        if request.method == "GET":
            return reply(404)
        return reply(201)


def driver(broker: Broker) -> RabbitMQDriver:
    d = RabbitMQDriver(B, {"url": "http://rabbit.example:15672"})
    d._api = ManagementApi(B, d.settings, transport=broker)
    return d


def queue(name: str, **extra: Any) -> Change:
    attrs = {"type": "classic", "durable": True, "auto_delete": False, "arguments": {}, **extra}
    return Change(Address(B, "queue", ("v", name)), Action.CREATE, None, attrs)


def exchange(name: str) -> Change:
    attrs = {"type": "topic", "durable": True, "auto_delete": False, "internal": False, "arguments": {}}
    return Change(Address(B, "exchange", ("v", name)), Action.CREATE, None, attrs)


def binding(source: str, destination: str) -> Change:
    attrs: dict[str, Any] = {
        "source": source,
        "destination": destination,
        "destination_type": "queue",
        "routing_key": "",
        "arguments": {},
    }
    address = binding_address(B, "v", source, "queue", destination, "", {})
    deps = (Address(B, "exchange", ("v", source)), Address(B, "queue", ("v", destination)))
    return Change(address, Action.CREATE, None, attrs, depends_on=deps)


def wave(queues: int) -> list[Change]:
    """Bindings first: the driver must not rely on the order of the wave."""
    names = [f"q{i}" for i in range(queues)]
    return [*(binding("x", n) for n in names), *(queue(n) for n in names), exchange("x")]


def test_one_import_holds_exchanges_then_queues_then_bindings() -> None:
    broker = Broker()
    done: list[Change] = []
    driver(broker).apply(wave(BULK_MIN), 8, done.append)
    assert [c for c in broker.calls if c[0] in ("POST", "PUT")] == [("POST", "/api/definitions/v")]
    assert len(done) == 2 * BULK_MIN + 1
    assert [len(broker.imported[s]) for s in ("exchanges", "queues", "bindings")] == [1, BULK_MIN, BULK_MIN]


@pytest.mark.parametrize("parallelism", [1, 8])
def test_single_writes_put_the_bindings_last(parallelism: int) -> None:
    broker = Broker()
    done: list[Change] = []
    driver(broker).apply(wave(3), parallelism, done.append)
    writes = [c for c in broker.calls if c[0] in ("POST", "PUT")]
    assert [m for m, _ in writes] == ["PUT"] * 4 + ["POST"] * 3
    assert len(done) == 7


@pytest.mark.parametrize("queues", [3, BULK_MIN], ids=["single", "imported"])
def test_a_refused_queue_stops_the_bindings(queues: int) -> None:
    """As when bindings waited for a wave of their own: no binding is attempted once a queue
    failed, none is counted as failed, and the culprit is named."""
    broker = Broker(refuse="q1")
    done: list[Change] = []
    d = driver(broker)
    with pytest.raises(BrokerError, match=r"creating queue 'q1' in vhost 'v': HTTP 400"):
        d.apply(wave(queues), 4, done.append)
    assert not [c for c in broker.calls if c[1].startswith("/api/bindings/")]
    assert {c.kind for c in done} == {"exchange", "queue"} and len(done) == queues
    assert {a.kind for a, _ in d.failed} == {"queue"}


def test_a_binding_to_a_queue_finishing_a_move_is_written_after_it() -> None:
    """A queue with a move to finish is created alone (see driver._create): a binding that needs it
    cannot go in the import, which runs before the single writes."""
    broker = Broker()
    moving = queue("moved", **{swap.ON_REPLACE: swap.MOVE_MESSAGES})
    changes = [binding("x", "moved"), *wave(BULK_MIN), moving]
    driver(broker).apply(changes, 8, lambda c: None)
    assert "moved" not in {b["destination"] for b in broker.imported["bindings"]}
    writes = [c for c in broker.calls if c[0] in ("POST", "PUT")]
    assert writes[0] == ("POST", "/api/definitions/v")
    assert writes[1:] == [("PUT", "/api/queues/v/moved"), ("POST", "/api/bindings/v/e/x/q/moved")]
