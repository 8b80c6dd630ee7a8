"""`on_replace: move_messages` against the real RabbitMQ: a queue replaced (an argument changed)
keeps its messages, also those published while the swap runs (counted: none lost), and a swap that
fails midway leaves its messages parked, says where, and the next apply finishes it."""

from __future__ import annotations

import threading
import uuid
from pathlib import Path
from typing import Any

import pika
import pytest

from tests.cli import Result, planned, topoctl, write_manifest
from tests.integration.rabbitmq_support import AUTH, BROKER, api, document, seg, wait_for

pytestmark = pytest.mark.integration
PARKING = "topoctl.move.jobs"


def _manifest(tmp_path: Path, vhost: str, queue: dict[str, Any]) -> Path:
    body = {
        "exchanges": {"in": {"type": "direct"}},
        "queues": {"jobs": {"on_replace": "move_messages", **queue}},
        "bindings": [{"source": "in", "destination": "jobs", "routing_key": "job"}],
    }
    return write_manifest(tmp_path / f"m{uuid.uuid4().hex[:6]}.yaml", document({vhost: body}))


def _amqp(vhost: str) -> pika.BlockingConnection:
    return pika.BlockingConnection(pika.ConnectionParameters("127.0.0.1", 5672, vhost, pika.PlainCredentials(*AUTH)))


def _publish(vhost: str, ids: range, exchange: str = "in", key: str = "job") -> None:
    with _amqp(vhost) as connection:
        channel = connection.channel()
        channel.confirm_delivery()
        for i in ids:
            props = pika.BasicProperties(message_id=str(i), delivery_mode=2)
            channel.basic_publish(exchange, key, str(i).encode(), props, mandatory=True)


def _drain(vhost: str, queue: str) -> list[str]:
    out: list[str] = []
    with _amqp(vhost) as connection:
        channel = connection.channel()
        while True:
            method, props, _ = channel.basic_get(queue, auto_ack=True)
            if method is None:
                return out
            out.append(props.message_id)


class Publisher(threading.Thread):
    """Publishes through the exchange (as applications do) until stopped; keeps the ids the broker
    confirmed. Unroutable messages would come back (mandatory), and would fail the test."""

    def __init__(self, vhost: str, start_id: int) -> None:
        super().__init__(daemon=True)
        self.vhost = vhost
        self.next_id = start_id
        self.confirmed: list[str] = []
        self.stop = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            with _amqp(self.vhost) as connection:
                channel = connection.channel()
                channel.confirm_delivery()
                while not self.stop.is_set():
                    props = pika.BasicProperties(message_id=str(self.next_id), delivery_mode=2)
                    channel.basic_publish("in", "job", b"x", props, mandatory=True)  # raises if unroutable
                    self.confirmed.append(str(self.next_id))
                    self.next_id += 1
        except BaseException as exc:  # reported by the test
            self.error = exc


def _stats(vhost: str) -> object:
    with api() as client:
        return client.get(f"/api/queues/{seg(vhost)}/jobs").json().get("messages")


def _apply(path: Path, *flags: str) -> Result:
    return topoctl("apply", "-f", path, "--auto-approve", *flags)


@pytest.mark.parametrize("queue_type", ["classic", "quorum"])
def test_a_replace_keeps_every_message_also_those_published_during_the_swap(
    tmp_path: Path, vhost: str, queue_type: str
) -> None:
    before = _manifest(tmp_path, vhost, {"type": queue_type, "arguments": {"x-max-length": 100_000}})
    assert _apply(before).code == 0
    _publish(vhost, range(3000))
    wait_for(lambda: _stats(vhost) == 3000, "the statistics to count the messages")

    after = _manifest(tmp_path, vhost, {"type": queue_type, "arguments": {"x-max-length": 200_000}})
    plan = topoctl("plan", "-f", after, "--format", "json")
    (change,) = plan.json["changes"]
    assert change["action"] == "update" and not change["destructive"]  # no --allow-destructive needed
    assert "replaced keeping its 3,000 messages" in change["notes"][0] and "at least once" in change["notes"][0]

    publisher = Publisher(vhost, 1_000_000)
    publisher.start()
    try:
        while len(publisher.confirmed) < 200 and publisher.is_alive():
            threading.Event().wait(0.01)
        during = len(publisher.confirmed)
        result = _apply(after)
        during = len(publisher.confirmed) - during
        assert result.code == 0, str(result)
    finally:
        publisher.stop.set()
        publisher.join(30)
    assert publisher.error is None, publisher.error
    assert during > 0, "nothing was published during the swap"

    with api() as client:
        live = client.get(f"/api/queues/{seg(vhost)}/jobs").json()
        assert live["arguments"]["x-max-length"] == 200_000 and live["type"] == queue_type
        assert client.get(f"/api/queues/{seg(vhost)}/{seg(PARKING)}").status_code == 404
        bindings = [b for b in client.get(f"/api/queues/{seg(vhost)}/jobs/bindings").json() if b["source"]]
        assert [(b["source"], b["routing_key"]) for b in bindings] == [("in", "job")]
        assert client.get(f"/api/parameters/shovel/{seg(vhost)}").json() == []
    consumed = _drain(vhost, "jobs")
    expected = {str(i) for i in range(3000)} | set(publisher.confirmed)
    lost = expected - set(consumed)
    assert not lost, f"{len(lost)} messages lost, e.g. {sorted(lost)[:5]}"
    duplicates = len(consumed) - len(set(consumed))
    print(f"{queue_type}: {during} published during the swap, 0 lost, {duplicates} delivered twice")
    assert topoctl("plan", "-f", after, "--detailed-exitcode").code == 0


def test_a_swap_that_fails_midway_says_where_the_messages_are_and_a_rerun_finishes_it(
    tmp_path: Path, vhost: str
) -> None:
    assert _apply(_manifest(tmp_path, vhost, {"arguments": {"x-max-length": 1000}})).code == 0
    _publish(vhost, range(500))
    # The broker refuses this argument value only when the queue is declared again: after the
    # messages were parked and the old queue deleted.
    broken = _manifest(tmp_path, vhost, {"arguments": {"x-max-length": 1000, "x-queue-version": 7}})
    failed = _apply(broken)
    assert failed.code == 1, str(failed)
    assert "declaring the queue again failed" in failed.stderr, failed.stderr
    assert f"'{PARKING}'" in failed.stderr and "`topoctl apply` again finishes the move" in failed.stderr
    with api() as client:
        assert client.get(f"/api/queues/{seg(vhost)}/jobs").status_code == 404
        parked = client.get(f"/api/queues/{seg(vhost)}/{seg(PARKING)}/bindings").json()
        assert [(b["source"], b["routing_key"]) for b in parked if b["source"]] == [("in", "job")]
    _publish(vhost, range(500, 600))  # still routed while the queue is missing: to the parking queue

    fixed = _manifest(tmp_path, vhost, {"arguments": {"x-max-length": 2000}})
    assert planned(topoctl("plan", "-f", fixed, "--format", "json"))[f"{BROKER}/queue/{vhost}/jobs"] == "create"
    assert _apply(fixed).code == 0
    assert sorted(_drain(vhost, "jobs"), key=int) == [str(i) for i in range(600)]
    with api() as client:
        assert client.get(f"/api/queues/{seg(vhost)}/{seg(PARKING)}").status_code == 404
    assert topoctl("plan", "-f", fixed, "--detailed-exitcode").code == 0


def test_messages_left_parked_with_the_queue_already_replaced_are_moved_back(tmp_path: Path, vhost: str) -> None:
    path = _manifest(tmp_path, vhost, {"type": "quorum"})
    assert _apply(path).code == 0
    with api() as client:  # what a swap interrupted after re-declaring the queue leaves behind
        body = {"durable": True, "arguments": {"x-queue-type": "quorum"}}
        assert client.put(f"/api/queues/{seg(vhost)}/{seg(PARKING)}", json=body).status_code == 201
    _publish(vhost, range(40), exchange="", key=PARKING)
    plan = topoctl("plan", "-f", path)
    assert "move_messages (unfinished: messages are parked in 'topoctl.move.jobs')" in plan.stdout, str(plan)
    assert _apply(path).code == 0
    assert sorted(_drain(vhost, "jobs"), key=int) == [str(i) for i in range(40)]
    assert topoctl("plan", "-f", path, "--detailed-exitcode").code == 0
