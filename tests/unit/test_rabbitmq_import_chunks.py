"""Big RabbitMQ imports (issue 10), with an in-memory broker: each is awaited for as long as its
size needs, the biggest go in even chunks; how a refused chunk, Ctrl-C between chunks and the
chunk sizes behave."""

from __future__ import annotations

import json
from typing import Any

from tests.unit.http_seam import reply
from topoctl.model import Action, Address, Change
from topoctl.providers.jsonhttp import Request, Response
from topoctl.providers.rabbitmq.client import ManagementApi
from topoctl.providers.rabbitmq.driver import (
    IMPORT_EXCHANGE,
    IMPORT_HEAVY_QUEUE,
    IMPORT_MAX_COST,
    IMPORT_TIMEOUT_FACTOR,
    IMPORT_UNIT_SECONDS,
    RabbitMQDriver,
    import_chunk_end,
)

B = "r"
# The most classic queues one import takes.
FIRST = int(IMPORT_MAX_COST)


class Broker:
    """Just enough of the management API for an import: definitions in, the queues listed out."""

    def __init__(self, refuse_import: int | None = None) -> None:
        self.queues: dict[str, dict[str, Any]] = {}
        self.imports: list[int] = []  # objects per POST /api/definitions
        self.waits: list[float | None] = []  # how long each import's answer was awaited
        self.puts: list[str] = []
        self.checks: list[str] = []  # the listings read to check an import
        self.refuse_import = refuse_import  # the index of the import to refuse

    def __call__(self, request: Request) -> Response:
        path = request.raw_path
        if request.method == "POST" and path == "/api/definitions/v":
            self.waits.append(request.read_timeout)
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


def creates(count: int, queue_type: str = "classic", prefix: str = "q") -> list[Change]:
    attrs = {"type": queue_type, "durable": True, "auto_delete": False, "arguments": {}}
    return [Change(Address(B, "queue", ("v", f"{prefix}{i}")), Action.CREATE, None, attrs) for i in range(count)]


def test_an_import_is_awaited_for_as_long_as_its_size_needs() -> None:
    broker = Broker()
    done: list[Change] = []
    driver = driver_for(broker)  # the default timeout: 10 s
    driver.apply(creates(4_000), 4, done.append)
    # One import (4,000 units fit in one), awaited three times what 4,000 units take at the
    # default rate: 48 s, not the 10 s sized for one small call.
    assert broker.imports == [4_000] and broker.waits == [IMPORT_TIMEOUT_FACTOR * 4_000 * IMPORT_UNIT_SECONDS]
    assert len(done) == 4_000 and not broker.puts
    # Checked once, with the queue listing alone (the cheapest read that shows them), no statistics,
    # and only the columns compared (messages and consumers cost the broker more to list).
    assert len(broker.checks) == 1 and "disable_stats=true" in broker.checks[0]
    assert broker.checks[0].endswith("columns=name,type,durable,auto_delete,arguments")
    # A small import waits the connection's own timeout, never less.
    broker.imports.clear(), broker.waits.clear()
    driver.apply(creates(100, prefix="small"), 4, done.append)
    assert broker.imports == [100] and broker.waits == [10.0]


def test_a_broker_found_slow_gets_longer_and_one_found_fast_no_less() -> None:
    broker = Broker()
    driver = driver_for(broker)
    driver._import_unit = 0.02  # the last import took 20 ms a unit: a loaded broker
    driver.apply(creates(1_000), 4, lambda change: None)
    assert broker.waits == [IMPORT_TIMEOUT_FACTOR * 1_000 * 0.02]
    # This in-memory broker answered at once: its rate never brings the wait under the default's.
    assert driver._import_unit == IMPORT_UNIT_SECONDS


def test_the_biggest_imports_go_in_even_chunks_and_every_object_is_reported() -> None:
    broker = Broker()
    done: list[Change] = []
    driver_for(broker).apply(creates(int(IMPORT_MAX_COST * 2.4)), 4, done.append)
    assert broker.imports == [int(IMPORT_MAX_COST * 0.8)] * 3  # three even chunks, not 5,000 + 5,000 + 2,000
    assert len(done) == int(IMPORT_MAX_COST * 2.4) and not broker.puts
    assert len(broker.checks) == 1


def test_a_refused_chunk_keeps_what_went_before_and_redoes_the_rest_one_by_one() -> None:
    broker = Broker(refuse_import=1)
    done: list[Change] = []
    driver_for(broker).apply(creates(2 * FIRST), 4, done.append)
    assert broker.imports == [FIRST, 0]
    assert len(broker.puts) == FIRST  # from where the last chunk ended
    assert "q0" not in broker.puts and f"q{FIRST}" in broker.puts
    assert len(done) == 2 * FIRST


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
    driver.apply(creates(2 * FIRST), 4, done.append)
    assert broker.imports == [FIRST]
    assert len(done) == FIRST  # what was imported is checked and reported


def test_chunk_sizes_follow_the_cost_units() -> None:
    queues = creates(12_000)
    assert import_chunk_end(queues, 0) == 4_000  # three even chunks
    assert import_chunk_end(queues, 4_000) == 8_000
    assert import_chunk_end(queues, 10_000) == 12_000  # the rest, when it fits
    assert import_chunk_end(queues[:5_000], 0) == 5_000  # as big as IMPORT_MAX_COST allows
    assert import_chunk_end(queues[:5_001], 0) == 2_500  # then 2,501
    # A quorum or stream queue weighs more: fewer of them in a chunk.
    assert import_chunk_end(creates(2_000, "quorum"), 0) == int(IMPORT_MAX_COST / IMPORT_HEAVY_QUEUE)
    mixed = [*creates(100), *creates(2_000, "stream", prefix="s")]  # 10,100 units: 3 chunks of 3,366
    assert import_chunk_end(mixed, 0) == 100 + int((10_100 / 3 - 100) / IMPORT_HEAVY_QUEUE)
    # An exchange weighs less: a chunk that starts with 8,000 of them holds more objects.
    exchanges = [Change(Address(B, "exchange", ("v", f"x{i}")), Action.CREATE, None, {}) for i in range(8_000)]
    # 8,000 exchanges and 2,000 queues are 6,000 units: two chunks of 3,000.
    assert import_chunk_end([*exchanges, *queues[:2_000]], 0) == int(3_000 / IMPORT_EXCHANGE)
    # An object heavier than a chunk still goes, alone.
    assert import_chunk_end(creates(1, "stream"), 0) == 1
    # Every object goes in some chunk, none twice, whatever the split.
    for count in (1, 4_999, 5_000, 5_001, 12_345):
        ends, at = [], 0
        while at < count:
            at = import_chunk_end(queues[:count] if count <= 12_000 else creates(count), at)
            ends.append(at)
        assert ends[-1] == count and all(b > a for a, b in zip([0, *ends], ends, strict=False))
