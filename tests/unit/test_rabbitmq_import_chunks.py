"""Big RabbitMQ imports go in chunks sized to the per-request timeout (issue 10), with an
in-memory broker: how a refused chunk, Ctrl-C between chunks and the chunk sizes behave."""

from __future__ import annotations

import json
from typing import Any

from tests.unit.http_seam import reply
from topoctl.model import Action, Address, Change
from topoctl.providers.jsonhttp import Request, Response
from topoctl.providers.rabbitmq.client import ManagementApi
from topoctl.providers.rabbitmq.driver import (
    IMPORT_FIRST_CHUNK,
    IMPORT_MAX_CHUNK,
    IMPORT_MIN_CHUNK,
    RabbitMQDriver,
    import_chunk_size,
)

B = "r"


class Broker:
    """Just enough of the management API for an import: definitions in, the queues listed out."""

    def __init__(self, refuse_import: int | None = None) -> None:
        self.queues: dict[str, dict[str, Any]] = {}
        self.imports: list[int] = []  # objects per POST /api/definitions
        self.puts: list[str] = []
        self.checks: list[str] = []  # the listings read to check an import
        self.refuse_import = refuse_import  # the index of the import to refuse

    def __call__(self, request: Request) -> Response:
        path = request.raw_path
        if request.method == "POST" and path == "/api/definitions/v":
            if len(self.imports) == self.refuse_import:
                self.imports.append(0)
                return reply(400, json={"reason": "refused"})
            body = json.loads(request.body or b"")
            self.imports.append(sum(len(body[k]) for k in ("exchanges", "queues", "bindings")))
            for q in body["queues"]:
                self.queues[q["name"]] = q
            return reply(204)
        if request.method == "GET" and path.split("?")[0] == "/api/queues/v":  # the check after an import
            self.checks.append(path)
            return reply(200, json=list(self.queues.values()))
        if request.method == "PUT" and path.startswith("/api/queues/v/"):
            name = path.rsplit("/", 1)[1]
            self.puts.append(name)
            self.queues[name] = {"name": name, **json.loads(request.body or b"")}
            return reply(201)
        return reply(404, json={"error": "not found"})


def driver_for(broker: Broker) -> RabbitMQDriver:
    driver = RabbitMQDriver(B, {"url": "http://rabbit.example:15672"})
    driver._api = ManagementApi(B, driver.settings, transport=broker)
    return driver


def creates(count: int) -> list[Change]:
    attrs = {"type": "classic", "durable": True, "auto_delete": False, "arguments": {}}
    return [Change(Address(B, "queue", ("v", f"q{i}")), Action.CREATE, None, attrs) for i in range(count)]


def test_a_big_import_goes_in_chunks_and_every_object_is_reported() -> None:
    broker = Broker()
    done: list[Change] = []
    driver_for(broker).apply(creates(3_000), 4, done.append)
    assert len(broker.imports) > 1 and sum(broker.imports) == 3_000
    assert broker.imports[0] == IMPORT_FIRST_CHUNK
    assert max(broker.imports) <= IMPORT_MAX_CHUNK
    assert len(done) == 3_000 and not broker.puts
    # Checked once, with the queue listing alone (the cheapest read that shows them), no statistics.
    assert len(broker.checks) == 1 and "disable_stats=true" in broker.checks[0]


def test_a_refused_chunk_keeps_what_went_before_and_redoes_the_rest_one_by_one() -> None:
    broker = Broker(refuse_import=1)
    done: list[Change] = []
    driver_for(broker).apply(creates(1_000), 4, done.append)
    assert broker.imports == [IMPORT_FIRST_CHUNK, 0]
    assert len(broker.puts) == 1_000 - IMPORT_FIRST_CHUNK  # from where the last chunk ended
    assert "q0" not in broker.puts and f"q{IMPORT_FIRST_CHUNK}" in broker.puts
    assert len(done) == 1_000


def test_no_chunk_starts_once_the_apply_is_stopping() -> None:
    broker = Broker()
    driver = driver_for(broker)
    done: list[Change] = []

    def handler(request: Request) -> Response:
        response = broker(request)
        if request.method == "POST":
            driver.stopping.set()  # Ctrl-C while the first chunk is in flight
        return response

    driver._api = ManagementApi(B, driver.settings, transport=handler)
    driver.apply(creates(1_000), 4, done.append)
    assert broker.imports == [IMPORT_FIRST_CHUNK]
    assert len(done) == IMPORT_FIRST_CHUNK  # what was imported is checked and reported


def test_chunk_sizes_follow_the_measured_time_per_object() -> None:
    # 1.5 ms per object and a 10 s timeout: a quarter of it holds about 1,666 objects.
    assert import_chunk_size(0.375, 250, 10.0) == 1_666
    assert import_chunk_size(0.01, 250, 10.0) == IMPORT_MAX_CHUNK  # a fast broker: the cap
    assert import_chunk_size(5.0, 250, 4.0) == IMPORT_MIN_CHUNK  # a very slow one: the floor
