"""The RabbitMQ driver directly against the real broker: request counts, bulk import, errors."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.integration.rabbitmq_support import AUTH, URL, delete_vhost, queue, seg, unique_vhost
from topoctl.errors import BrokerError
from topoctl.model import Action, Address, Change, Resource
from topoctl.providers.jsonhttp import Request, Response
from topoctl.providers.rabbitmq.driver import BULK_MIN, RabbitMQDriver
from topoctl.providers.rabbitmq.kinds import binding_address

pytestmark = pytest.mark.integration
B = "drv"


@pytest.fixture
def vhost(client: httpx.Client) -> Iterator[str]:
    name = unique_vhost(odd=True)
    client.put(f"/api/vhosts/{seg(name)}", json={})
    yield name
    delete_vhost(client, name)


@pytest.fixture
def driver() -> Iterator[RabbitMQDriver]:
    d = RabbitMQDriver(B, {"url": URL, "username": AUTH[0], "password": AUTH[1]})
    yield d
    d.close()


def counted(driver: RabbitMQDriver) -> list[str]:
    """The method of every request the driver sends from now on (to the real broker, as before)."""
    seen: list[str] = []
    http = driver.api._http
    send = http._send

    def counting(request: Request) -> Response:
        seen.append(request.method)
        return send(request)

    http._send = counting
    return seen


def create(address: Address, attrs: dict[str, Any]) -> Change:
    return Change(address, Action.CREATE, None, attrs)


def queue_attrs(**arguments: Any) -> dict[str, Any]:
    return {"type": "classic", "durable": True, "auto_delete": False, "arguments": arguments}


def test_read_costs_a_constant_number_of_requests(client: httpx.Client, vhost: str, driver: RabbitMQDriver) -> None:
    calls = counted(driver)
    driver.read([], [])
    small = len(calls)
    queues = [{"name": f"q{i}", "durable": True, "auto_delete": False, "arguments": {}} for i in range(300)]
    exchanges = [
        {"name": f"x{i}", "type": "fanout", "durable": True, "auto_delete": False, "internal": False, "arguments": {}}
        for i in range(30)
    ]
    binds = [
        {
            "source": f"x{i % 30}",
            "destination": f"q{i}",
            "destination_type": "queue",
            "routing_key": "",
            "arguments": {},
        }
        for i in range(300)
    ]
    r = client.post(
        f"/api/definitions/{seg(vhost)}", json={"queues": queues, "exchanges": exchanges, "bindings": binds}
    )
    assert r.status_code in (200, 201, 204), r.text
    observed = driver.read([], [])
    big = len(calls) - small
    mine = [o for o in observed if o.address.name[0] == vhost]
    assert len([o for o in mine if o.kind == "queue"]) == 300
    assert len([o for o in mine if o.kind == "binding"]) == 300
    # An export (nothing desired) reads every kind: the six listings (exchanges, queues, bindings,
    # policies, consumers, vhosts), one per estate kind (operator policies, users, user and vhost
    # limits, permissions, topic permissions, shovels, upstreams) and who topoctl connects as. A
    # plan of exchanges and queues reads its own vhost's definitions, exchanges and consumers, and
    # the vhosts.
    assert small == big == 15
    before = len(calls)
    driver.read([o for o in mine if o.kind == "queue"], [])
    assert len(calls) - before == 4


def test_bulk_create_uses_one_import_and_names_a_conflicting_object(
    client: httpx.Client, vhost: str, driver: RabbitMQDriver
) -> None:
    changes = [
        create(Address(B, "queue", (vhost, f"bulk {i}/%")), queue_attrs(**{"x-max-length": i + 1}))
        for i in range(BULK_MIN)
    ]
    calls = counted(driver)
    done: list[Change] = []
    driver.apply(changes, 8, done.append)
    assert calls.count("POST") == 1 and "PUT" not in calls
    assert len(done) == BULK_MIN
    assert queue(client, vhost, "bulk 3/%")["arguments"]["x-max-length"] == 4  # type: ignore[index]

    # Someone creates one of them with other properties between plan and apply: the import would
    # skip it silently; the check after it does not.
    client.put(f"/api/queues/{seg(vhost)}/taken", json={"durable": True, "arguments": {"x-max-length": 1}})
    changes = [create(Address(B, "queue", (vhost, f"more{i}")), queue_attrs()) for i in range(BULK_MIN)]
    changes.append(create(Address(B, "queue", (vhost, "taken")), queue_attrs(**{"x-max-length": 2})))
    with pytest.raises(BrokerError, match=r"queue 'taken' .* already exists with other properties"):
        driver.apply(changes, 8, lambda c: None)


def test_an_imported_binding_the_broker_skipped_is_named(
    client: httpx.Client, vhost: str, driver: RabbitMQDriver
) -> None:
    """A definitions import answers 204 and skips a binding whose queue is missing (someone deleted
    it after the plan): the check after the import names it; the others are reported done."""
    client.put(f"/api/exchanges/{seg(vhost)}/x", json={"type": "topic", "durable": True})
    for i in range(BULK_MIN):
        client.put(f"/api/queues/{seg(vhost)}/q{i}", json={"durable": True})

    def bind(queue: str) -> Change:
        attrs = {"source": "x", "destination": queue, "destination_type": "queue", "routing_key": "k", "arguments": {}}
        return create(binding_address(B, vhost, "x", "queue", queue, "k", {}), attrs)

    changes = [bind(f"q{i}") for i in range(BULK_MIN)] + [bind("deleted-since-the-plan")]
    calls = counted(driver)
    done: list[Change] = []
    with pytest.raises(BrokerError, match=r"binding .*deleted-since-the-plan.*: the import did not create it"):
        driver.apply(changes, 8, done.append)
    assert calls.count("POST") == 1
    assert len(done) == BULK_MIN
    assert len(client.get(f"/api/bindings/{seg(vhost)}?columns=destination").json()) == BULK_MIN + BULK_MIN  # + default


def test_failed_import_falls_back_to_single_writes_that_name_the_culprit(
    client: httpx.Client, vhost: str, driver: RabbitMQDriver
) -> None:
    changes = [create(Address(B, "queue", (vhost, f"ok{i}")), queue_attrs()) for i in range(BULK_MIN)]
    bad = {"type": "quorum", "durable": True, "auto_delete": False, "arguments": {"x-max-priority": "high"}}
    changes.append(create(Address(B, "queue", (vhost, "bad one")), bad))
    with pytest.raises(BrokerError) as err:
        driver.apply(changes, 4, lambda c: None)
    assert "queue 'bad one'" in str(err.value)


def test_binding_delete_uses_the_live_properties_key(client: httpx.Client, vhost: str, driver: RabbitMQDriver) -> None:
    client.put(f"/api/exchanges/{seg(vhost)}/x%2F1", json={"type": "headers", "durable": True})
    client.put(f"/api/queues/{seg(vhost)}/q%20%25", json={"durable": True})
    key, args = "k %/#~", {"x-match": "any", "n": 1}
    attrs = {"source": "x/1", "destination": "q %", "destination_type": "queue", "routing_key": key, "arguments": args}
    address = binding_address(B, vhost, "x/1", "queue", "q %", key, args)
    driver.apply_one(create(address, attrs))
    observed = {o.address: o for o in driver.read([], [])}
    assert observed[address].attrs == attrs
    assert set(observed[address].depends_on) >= {
        Address(B, "exchange", (vhost, "x/1")),
        Address(B, "queue", (vhost, "q %")),
    }
    assert observed[address].info["properties_key"]  # the broker's, kept so a delete needs no lookup
    calls = counted(driver)
    driver.apply_one(Change(address, Action.DELETE, attrs, None))
    assert calls == ["DELETE"]
    assert address not in {o.address for o in driver.read([], [])}
    driver.apply_one(Change(address, Action.DELETE, attrs, None))  # already gone: fine


def test_update_of_an_immutable_kind_is_refused(vhost: str, driver: RabbitMQDriver) -> None:
    address = Address(B, "queue", (vhost, "q"))
    with pytest.raises(BrokerError, match="must be replaced"):
        driver.apply_one(Change(address, Action.UPDATE, queue_attrs(), queue_attrs(**{"x-max-length": 1})))


def test_messages_and_consumers_are_counted_without_queue_statistics(
    client: httpx.Client, vhost: str, driver: RabbitMQDriver
) -> None:
    """The plan lists queues with `disable_stats` (their statistics cost seconds on a big broker),
    counts consumers from the consumers listing, and asks for message counts only of the queues it
    may delete: the counts a delete warns about must still be the broker's own, for classic and
    quorum queues; a queue that stays as it is costs no count; another vhost is not read at all."""
    import pika

    for name, kind in (("classic", "classic"), ("quorum", "quorum"), ("kept", "classic")):
        body = {"durable": True, "arguments": {"x-queue-type": kind}}
        assert client.put(f"/api/queues/{seg(vhost)}/{name}", json=body).status_code in (201, 204)
    params = pika.URLParameters(f"amqp://{AUTH[0]}:{AUTH[1]}@127.0.0.1:5672/{seg(vhost)}")
    connection = pika.BlockingConnection(params)
    try:
        channel = connection.channel()
        for queue_name, count in (("classic", 3), ("quorum", 2), ("kept", 4)):
            for i in range(count):
                channel.basic_publish("", queue_name, f"m{i}".encode())
        for _ in range(2):
            channel.basic_consume("quorum", lambda *args: None)
        channel.basic_consume("classic", lambda *args: None, auto_ack=False)
        connection.process_data_events(time_limit=1)
        want = {"classic": (3, 1), "quorum": (2, 2), "kept": (4, 0)}
        expected: dict[str, tuple[int, int]] = {}
        for _ in range(30):  # the broker's own counters settle within its 5 s emission interval
            rows = client.get(f"/api/queues/{seg(vhost)}?columns=name,messages,consumers").json()
            expected = {r["name"]: (r.get("messages"), r.get("consumers")) for r in rows}
            if expected == want:
                break
            connection.process_data_events(time_limit=0.5)
        assert expected == want
        kept = client.get(f"/api/queues/{seg(vhost)}/kept").json()
        declared = [Resource(Address(B, "queue", (vhost, n)), {}, absent=True) for n in ("classic", "quorum")]
        declared.append(
            Resource(Address(B, "queue", (vhost, "kept")), {k: kept[k] for k in ("durable", "auto_delete")})
        )
        observed = {r.address.name: r for r in driver.read(declared, [])}
        got = {
            n[1]: (r.info.get("messages"), r.info.get("consumers")) for n, r in observed.items() if r.kind == "queue"
        }
        assert got == {"classic": (3, 1), "quorum": (2, 2), "kept": (None, 0)}
        assert {n[0] for n, r in observed.items() if r.kind != "vhost"} == {vhost}
    finally:
        connection.close()
