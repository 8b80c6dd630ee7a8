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
    IMPORT_EXCHANGE,
    IMPORT_HEAVY_QUEUE,
    IMPORT_MAX_CHUNK,
    IMPORT_MIN_CHUNK,
    IMPORT_TIMEOUT_SHARE,
    IMPORT_UNIT_SECONDS,
    RabbitMQDriver,
    import_chunk_end,
)

B = "r"
# The first chunk before any import was timed, with the default 10 s timeout: 625 classic queues
# (of 1,250, two even chunks).
FIRST = int(IMPORT_TIMEOUT_SHARE * 10.0 / IMPORT_UNIT_SECONDS)


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


def creates(count: int, queue_type: str = "classic", prefix: str = "q") -> list[Change]:
    attrs = {"type": queue_type, "durable": True, "auto_delete": False, "arguments": {}}
    return [Change(Address(B, "queue", ("v", f"{prefix}{i}")), Action.CREATE, None, attrs) for i in range(count)]


def test_a_big_import_goes_in_chunks_and_every_object_is_reported() -> None:
    broker = Broker()
    done: list[Change] = []
    driver_for(broker).apply(creates(3_000), 4, done.append)
    assert len(broker.imports) > 1 and sum(broker.imports) == 3_000
    assert broker.imports[0] == 3_000 // 5  # five even chunks of what the first fits
    assert max(broker.imports) <= IMPORT_MAX_CHUNK
    assert len(done) == 3_000 and not broker.puts
    # Checked once, with the queue listing alone (the cheapest read that shows them), no statistics,
    # and only the columns compared (messages and consumers cost the broker more to list).
    assert len(broker.checks) == 1 and "disable_stats=true" in broker.checks[0]
    assert broker.checks[0].endswith("columns=name,type,durable,auto_delete,arguments")


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


def test_chunk_sizes_follow_the_time_per_cost_unit() -> None:
    # 1.5 ms per unit and a 10 s timeout: a quarter of it holds 1,666 classic queues, so 4,000 go
    # in three even chunks, not 1,666 + 1,666 + 668 (whose time would be mostly an import's own).
    queues = creates(4_000)
    assert import_chunk_end(queues, 0, 0.0015, 10.0) == 1_333
    assert import_chunk_end(queues, 1_333, 0.0015, 10.0) == 2_666
    assert import_chunk_end(queues, 3_000, 0.0015, 10.0) == 4_000  # the rest, when it fits
    assert import_chunk_end(queues, 0, 1e-6, 10.0) == IMPORT_MAX_CHUNK  # a fast broker: the cap
    assert import_chunk_end(queues, 0, 0.1, 4.0) == IMPORT_MIN_CHUNK  # a very slow one: the floor
    assert import_chunk_end(queues, 3_990, 0.1, 4.0) == 4_000  # the last few
    # A quorum or stream queue weighs more: fewer of them in a chunk.
    heavy = int(1_666 / IMPORT_HEAVY_QUEUE)
    assert import_chunk_end(creates(heavy * 2, "quorum"), 0, 0.0015, 10.0) == heavy
    mixed = [*creates(100), *creates(1_000, "stream", prefix="s")]  # 5,100 units: 4 chunks of 1,275
    assert import_chunk_end(mixed, 0, 0.0015, 10.0) == 100 + int((5_100 / 4 - 100) / IMPORT_HEAVY_QUEUE)
    # An exchange weighs less: a chunk that starts with 1,000 of them holds more objects.
    exchanges = [Change(Address(B, "exchange", ("v", f"x{i}")), Action.CREATE, None, {}) for i in range(1_000)]
    # 3 ms a unit: 833 units a chunk; 1,000 exchanges and 1,000 queues are 1,500 units, two chunks.
    assert import_chunk_end([*exchanges, *queues[:1_000]], 0, 0.003, 10.0) == 1_000 + int(750 - 1_000 * IMPORT_EXCHANGE)
    # Every object goes in some chunk, none twice, whatever the split.
    for count, unit in ((1, 0.004), (625, 0.004), (626, 0.004), (2_520, 0.002), (9_999, 1e-6)):
        ends, at = [], 0
        while at < count:
            at = import_chunk_end(creates(count), at, unit, 10.0)
            ends.append(at)
        assert ends[-1] == count and all(b > a for a, b in zip([0, *ends], ends, strict=False))


def test_the_first_chunk_fits_the_timeout_before_any_import_was_timed() -> None:
    broker = Broker()
    driver = driver_for(broker)
    driver.apply(creates(1_000, "quorum"), 4, lambda change: None)
    assert broker.imports[0] == int(FIRST / IMPORT_HEAVY_QUEUE)


def test_the_next_import_is_sized_from_the_last_chunk_timed() -> None:
    # The next wave (or vhost) starts from what the broker showed, not from the cautious guess:
    # every import costs a broker a fixed time, so a needless small chunk costs that again.
    broker = Broker()
    driver = driver_for(broker)
    driver.apply(creates(2 * FIRST), 4, lambda change: None)
    assert broker.imports == [FIRST, FIRST]
    driver.apply(creates(4 * FIRST, prefix="later"), 4, lambda change: None)
    assert broker.imports[2:] == [2 * FIRST, 2 * FIRST]  # the in-memory broker is fast: the cap
