"""The NATS driver with a fake connection: what a real server will not readily show (paging races,
refusals, timeouts, JetStream disabled)."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from topoctl.errors import BrokerError, PlanError
from topoctl.model import Action, Address, Change, Resource
from topoctl.providers.nats.driver import NatsDriver
from topoctl.providers.nats.jsapi import JetStreamApi


@dataclass
class Msg:
    data: bytes
    subject: str = ""
    headers: dict[str, str] | None = None


class FakeNc:
    """Answers `$JS.API.*` requests from a handler; records what was asked. A request is answered
    to its caller (`request`) or, like the server does, on its reply subject (`publish`)."""

    is_connected = True
    connected_server_version = "2.15.1"

    def __init__(self, handler: Callable[[str, dict[str, Any]], dict[str, Any]]) -> None:
        self.handler = handler
        self.requests: list[tuple[str, dict[str, Any]]] = []
        self.subscriptions: dict[str, Callable[[Msg], Any]] = {}
        self.responders = True
        self.answering: set[asyncio.Future[None]] = set()  # kept until done (the loop holds tasks weakly)
        self.delay = 0.0  # how long each answer takes
        self.lose = 0  # how many of the next answers on a reply subject never come
        self.published = 0  # requests answered on a reply subject (not to their caller)
        self.in_flight = self.most_in_flight = 0

    async def request(self, subject: str, payload: bytes, timeout: float) -> Msg:
        from nats.errors import NoRespondersError

        if not self.responders:
            raise NoRespondersError
        self._sent()
        try:
            body = json.loads(payload) if payload else {}
            self.requests.append((subject, body))
            await asyncio.sleep(self.delay)
            return Msg(json.dumps(self.handler(subject, body)).encode())
        finally:
            self.in_flight -= 1

    def _sent(self) -> None:
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)

    def new_inbox(self) -> str:
        return f"_INBOX.fake{len(self.subscriptions)}"

    async def subscribe(self, subject: str, cb: Callable[[Msg], Any], **_: Any) -> Any:
        inbox = subject.removesuffix(".*")
        self.subscriptions[inbox] = cb
        subscriptions = self.subscriptions

        class Sub:
            async def unsubscribe(self) -> None:
                subscriptions.pop(inbox, None)

        return Sub()

    async def publish(self, subject: str, payload: bytes, reply: str) -> None:
        self._sent()
        self.published += 1
        lost, self.lose = self.lose > 0, max(0, self.lose - 1)

        async def answer() -> None:
            await asyncio.sleep(self.delay)
            self.in_flight -= 1
            cb = self.subscriptions.get(reply.rsplit(".", 1)[0])
            if cb is None or lost:
                return
            if not self.responders:
                await cb(Msg(b"", reply, {"Status": "503"}))
                return
            body = json.loads(payload) if payload else {}
            self.requests.append((subject, body))
            await cb(Msg(json.dumps(self.handler(subject, body)).encode(), reply))

        task = asyncio.ensure_future(answer())
        self.answering.add(task)
        task.add_done_callback(self.answering.discard)

    async def close(self) -> None:
        pass


def stream(name: str, consumers: int = 0, messages: int = 0) -> dict[str, Any]:
    return {
        "config": {"name": name, "subjects": [name.lower()], "storage": "file", "metadata": {"_nats.ver": "2.15.1"}},
        "state": {"messages": messages, "consumer_count": consumers},
    }


def driver_with(handler: Callable[[str, dict[str, Any]], dict[str, Any]]) -> tuple[NatsDriver, FakeNc]:
    driver = NatsDriver("n", {"servers": ["nats://u:hunter2@127.0.0.1:4222"], "password": "hunter2"})
    nc = FakeNc(handler)

    async def connection() -> JetStreamApi:
        driver._api = driver._api or JetStreamApi(nc, lost=asyncio.Event())
        return driver._api

    driver._connection = connection  # type: ignore[method-assign]
    from topoctl.providers.nats.connection import settings

    driver._settings = settings(driver.connection)
    return driver, nc


def paged_lists(streams: list[dict[str, Any]], consumers: dict[str, list[dict[str, Any]]], page: int = 256) -> Any:
    def handler(subject: str, body: dict[str, Any]) -> dict[str, Any]:
        offset = body.get("offset", 0)
        if subject == "$JS.API.STREAM.LIST":
            return {"total": len(streams), "offset": offset, "limit": page, "streams": streams[offset : offset + page]}
        if subject.startswith("$JS.API.CONSUMER.LIST."):
            items = consumers[subject.rsplit(".", 1)[1]]
            return {"total": len(items), "offset": offset, "limit": page, "consumers": items[offset : offset + page]}
        raise AssertionError(subject)

    return handler


def test_read_walks_every_page_and_lists_consumers_only_where_there_are_some() -> None:
    streams = [stream(f"S{i:03d}", consumers=1 if i % 100 == 0 else 0, messages=i) for i in range(600)]
    streams += [stream("KV_sessions"), stream("OBJ_files")]
    consumers = {
        s["config"]["name"]: [
            {"stream_name": s["config"]["name"], "name": "c", "config": {"durable_name": "c", "ack_wait": 5}},
            {"stream_name": s["config"]["name"], "name": "eph", "config": {"ack_wait": 5}},
        ]
        for s in streams
        if s["state"]["consumer_count"]
    }
    driver, nc = driver_with(paged_lists(streams, consumers))
    observed = {str(r.address): r for r in driver.read([], [])}
    driver.close()

    assert sum(1 for a in observed if "/stream/" in a) == 600
    assert "n/kv_bucket/sessions" in observed and "n/object_store/files" in observed
    assert "n/stream/KV_sessions" not in observed
    assert [a for a in observed if "/consumer/" in a] == [f"n/consumer/S{i:03d}/c" for i in range(0, 600, 100)]
    assert observed["n/stream/S599"].info["messages"] == 599
    assert "metadata" not in observed["n/stream/S000"].attrs  # only `_nats.` keys: no user metadata
    assert observed["n/consumer/S100/c"].depends_on == (Address("n", "stream", ("S100",)),)
    offsets = sorted(b["offset"] for s, b in nc.requests if s == "$JS.API.STREAM.LIST")
    assert offsets == [0, 256, 512]
    assert sum(1 for s, _ in nc.requests if s.startswith("$JS.API.CONSUMER.LIST.")) == 6


def test_a_list_that_changes_while_paging_is_walked_again() -> None:
    streams = [stream(f"S{i:03d}") for i in range(300)]
    calls = {"n": 0}

    def handler(subject: str, body: dict[str, Any]) -> dict[str, Any]:
        calls["n"] += 1
        offset = body["offset"]
        live = streams if calls["n"] > 1 else [*streams, stream("NEW")]  # one vanished after page 1
        return {"total": len(live), "offset": offset, "limit": 256, "streams": live[offset : offset + 256]}

    driver, _ = driver_with(handler)
    observed = driver.read([], [])
    driver.close()
    assert len(observed) == 300


def refusing(err_code: int, description: str) -> Callable[[str, dict[str, Any]], dict[str, Any]]:
    def handler(subject: str, body: dict[str, Any]) -> dict[str, Any]:
        return {"error": {"code": 500, "err_code": err_code, "description": description}}

    return handler


def test_a_refused_change_is_a_broker_error_naming_the_object_without_secrets() -> None:
    driver, _ = driver_with(refusing(10065, "subjects overlap with an existing stream"))
    change = Change(Address("n", "stream", ("ORDERS",)), Action.CREATE, None, {"subjects": ["a"]})
    with pytest.raises(BrokerError) as err:
        driver.apply_one(change)
    driver.close()
    text = str(err.value)
    assert "cannot create stream ORDERS: subjects overlap" in text and "10065" in text
    assert "hunter2" not in text and "nats://127.0.0.1:4222" in text


def test_deleting_what_is_already_gone_is_fine() -> None:
    driver, nc = driver_with(refusing(10014, "consumer not found"))
    driver.apply_one(Change(Address("n", "consumer", ("S", "c")), Action.DELETE, {}, None))
    driver.close()
    assert nc.requests == [("$JS.API.CONSUMER.DELETE.S.c", {})]


def test_update_sends_the_full_server_config_with_the_declared_fields_overlaid() -> None:
    server = {
        "durable_name": "c",
        "ack_policy": "explicit",
        "ack_wait": 1,
        "max_ack_pending": 42,
        "metadata": {"_nats.ver": "2.15.1"},
    }

    def handler(subject: str, body: dict[str, Any]) -> dict[str, Any]:
        if subject == "$JS.API.CONSUMER.INFO.S.c":
            return {"config": server}
        return {"config": body.get("config")}

    driver, nc = driver_with(handler)
    change = Change(Address("n", "consumer", ("S", "c")), Action.UPDATE, {}, {"ack_wait": 2, "metadata": {"k": "v"}})
    driver.apply_one(change)
    driver.close()
    subject, body = nc.requests[-1]
    assert subject == "$JS.API.CONSUMER.CREATE.S.c" and body["action"] == "update"
    assert body["config"] == {
        "durable_name": "c",
        "ack_policy": "explicit",
        "ack_wait": 2,
        "max_ack_pending": 42,
        "metadata": {"_nats.ver": "2.15.1", "k": "v"},
    }


def test_a_new_consumer_acks_explicitly_unless_told_otherwise() -> None:
    driver, nc = driver_with(lambda s, b: {"config": b.get("config")})
    driver.apply_one(Change(Address("n", "consumer", ("S", "a")), Action.CREATE, None, {"max_deliver": 3}))
    driver.apply_one(Change(Address("n", "consumer", ("S", "b")), Action.CREATE, None, {"ack_policy": "none"}))
    driver.close()
    assert nc.requests[0][1]["config"] == {"durable_name": "a", "ack_policy": "explicit", "max_deliver": 3}
    assert nc.requests[1][1]["config"]["ack_policy"] == "none"


def test_shrinking_max_age_shrinks_an_undeclared_duplicate_window() -> None:
    def handler(subject: str, body: dict[str, Any]) -> dict[str, Any]:
        if "INFO" in subject:
            return {"config": {"name": "S", "max_age": 0, "duplicate_window": 120 * 10**9}}
        return {"config": body}

    driver, nc = driver_with(handler)
    driver.apply_one(Change(Address("n", "stream", ("S",)), Action.UPDATE, {}, {"max_age": 30 * 10**9}))
    driver.close()
    assert nc.requests[-1][1]["duplicate_window"] == 30 * 10**9


def test_a_sealed_stream_is_created_then_sealed() -> None:
    def handler(subject: str, body: dict[str, Any]) -> dict[str, Any]:
        if "INFO" in subject:
            return {"config": {"name": "S", "subjects": ["s"], "sealed": False}}
        return {"config": body}

    driver, nc = driver_with(handler)
    driver.apply_one(Change(Address("n", "stream", ("S",)), Action.CREATE, None, {"subjects": ["s"], "sealed": True}))
    driver.close()
    assert [s for s, _ in nc.requests] == [
        "$JS.API.STREAM.CREATE.S",
        "$JS.API.STREAM.INFO.S",
        "$JS.API.STREAM.UPDATE.S",
    ]
    assert "sealed" not in nc.requests[0][1] and nc.requests[2][1]["sealed"] is True


def test_parallel_apply_runs_on_the_one_connection_and_reports_each_change() -> None:
    driver, nc = driver_with(lambda s, b: {"config": b})
    changes = [
        Change(Address("n", "stream", (f"S{i}",)), Action.CREATE, None, {"subjects": [f"s{i}"]}) for i in range(20)
    ]
    done: list[Change] = []
    driver.apply(changes, 8, done.append)
    driver.close()
    assert sorted(str(c.address) for c in done) == sorted(str(c.address) for c in changes)
    assert len(nc.requests) == 20


def test_unreachable_server_fails_with_the_broker_name_and_no_secrets() -> None:
    driver = NatsDriver(
        "edge", {"servers": ["nats://u:hunter2@127.0.0.1:1"], "token": "tok3n", "connect_timeout": "500ms"}
    )
    with pytest.raises(BrokerError) as err:
        driver.read([], [])
    driver.close()
    text = str(err.value)
    assert text.startswith("broker 'edge' (nats://127.0.0.1:1): cannot connect")
    assert "hunter2" not in text and "tok3n" not in text


def test_jetstream_disabled_is_said_plainly() -> None:
    driver, nc = driver_with(lambda s, b: {})
    nc.responders = False
    with pytest.raises(BrokerError, match="is JetStream enabled"):
        driver.read([], [])
    driver.close()


def test_a_stream_deleted_while_reading_does_not_fail_the_plan() -> None:
    streams = [stream("GONE", consumers=1), stream("KEPT", consumers=1)]
    consumer = {"stream_name": "KEPT", "name": "c", "config": {"durable_name": "c"}}
    listing = paged_lists(streams, {"KEPT": [consumer]})

    def handler(subject: str, body: dict[str, Any]) -> dict[str, Any]:
        if subject == "$JS.API.CONSUMER.LIST.GONE":  # another client deleted it meanwhile
            return {"error": {"code": 404, "err_code": 10059, "description": "stream not found"}}
        return dict(listing(subject, body))

    driver, _ = driver_with(handler)
    observed = {str(r.address) for r in driver.read([], [])}
    driver.close()
    assert "n/consumer/KEPT/c" in observed and not [a for a in observed if "consumer/GONE" in a]


# -- a replace must be known to succeed before its delete runs ------------------------------


def _replacing(dry_run: dict[str, Any]) -> tuple[NatsDriver, FakeNc]:
    """A driver whose read found stream S (file storage, 2 messages, a consumer) that the manifest
    wants in memory; `dry_run` is the server's answer to the create of S sent as a check."""
    live = stream("S", consumers=1, messages=2)
    listing = paged_lists([live], {"S": [{"stream_name": "S", "name": "c", "config": {"durable_name": "c"}}]})

    def handler(subject: str, body: dict[str, Any]) -> dict[str, Any]:
        if subject == "$JS.API.STREAM.CREATE.S":
            return dry_run
        if subject == "$JS.API.STREAM.NAMES":
            return {"streams": ["S"]}
        if "DELETE" in subject:
            return {"success": True}
        return dict(listing(subject, body))

    return driver_with(handler)


WANT = [Resource(Address("n", "stream", ("S",)), {"subjects": ["s"], "storage": "memory"}, source="m.yaml:3")]
NAME_IN_USE = {"error": {"code": 400, "err_code": 10058, "description": "stream name already in use"}}


def test_the_create_of_a_replace_is_dry_run_by_creating_the_name_that_exists() -> None:
    driver, nc = _replacing(NAME_IN_USE)
    driver.read(WANT, [])
    driver.close()
    [(subject, body)] = [r for r in nc.requests if "CREATE" in r[0]]
    assert subject == "$JS.API.STREAM.CREATE.S" and body == {"name": "S", "subjects": ["s"], "storage": "memory"}


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (
            {"error": {"code": 500, "err_code": 10074, "description": "replicas > 1 not supported"}},
            "stream 'S' (declared at m.yaml:3): cannot replace it: the server would refuse to create it again "
            "(replicas > 1 not supported",
        ),
        ({"did_create": True, "config": {"name": "S"}}, "the stream was deleted while the plan was made"),
    ],
)
def test_a_replace_whose_create_the_server_would_refuse_is_a_plan_error(answer: dict[str, Any], message: str) -> None:
    driver, _ = _replacing(answer)
    with pytest.raises(PlanError) as err:
        driver.read(WANT, [])
    driver.close()
    assert str(err.value).startswith("NATS broker 'n' (nats://127.0.0.1:4222) would refuse this plan:")
    assert message in str(err.value)


def test_apply_checks_a_replace_again_before_its_first_delete() -> None:
    driver, nc = _replacing(NAME_IN_USE)
    driver.read(WANT, [])
    late: list[str] = []
    handler = nc.handler

    def now(subject: str, body: dict[str, Any]) -> dict[str, Any]:
        if subject == "$JS.API.STREAM.NAMES":
            return {"streams": ["S", *late]}
        return handler(subject, body)

    nc.handler = now
    consumer_delete = Change(Address("n", "consumer", ("S", "c")), Action.DELETE, {}, None)
    late.append("LATE")  # a stream capturing subject s appeared after the plan
    with pytest.raises(BrokerError) as err:
        driver.apply([consumer_delete], 4, lambda c: None)
    assert "refusing to replace, nothing of it was deleted" in str(err.value)
    assert "subject 's' is now captured by live stream 'LATE'" in str(err.value)
    assert not [s for s, _ in nc.requests if "DELETE" in s]
    assert ("$JS.API.STREAM.NAMES", {"subject": "s"}) in nc.requests
    late.clear()
    done: list[Change] = []
    driver.apply([consumer_delete], 4, done.append)  # checked again: clear now, so it runs
    driver.close()
    assert done == [consumer_delete] and nc.requests[-1][0] == "$JS.API.CONSUMER.DELETE.S.c"


def test_updates_that_give_subjects_up_run_before_the_rest_of_their_wave() -> None:
    driver, nc = driver_with(lambda s, b: {"config": {"name": s.rsplit(".", 1)[1], "subjects": ["x", "moving"]}})
    take = Change(Address("n", "stream", ("Y",)), Action.CREATE, None, {"subjects": ["moving"]})
    give = Change(Address("n", "stream", ("X",)), Action.UPDATE, {"subjects": ["x", "moving"]}, {"subjects": ["x"]})
    driver.apply([take, give], 8, lambda c: None)
    driver.close()
    subjects = [s for s, _ in nc.requests]
    assert subjects.index("$JS.API.STREAM.UPDATE.X") < subjects.index("$JS.API.STREAM.CREATE.Y")


@pytest.mark.parametrize("name", ["KV_sessions", "OBJ_files", "$MQTT_msgs"])
def test_bucket_and_server_streams_are_never_changed_as_streams(name: str) -> None:
    """Even from a hand-edited plan file: KV_/OBJ_ streams change only as their buckets."""
    driver, nc = driver_with(lambda s, b: {})
    for change in (
        Change(Address("n", "stream", (name,)), Action.DELETE, {}, None),
        Change(Address("n", "consumer", (name, "c")), Action.DELETE, {}, None),
    ):
        with pytest.raises(BrokerError, match="refusing to touch"):
            driver.apply_one(change)
    driver.close()
    assert nc.requests == []


@pytest.mark.parametrize(
    ("answer", "problem"),
    [
        ({"error": {"code": 400, "err_code": 10148, "description": "consumer already exists"}}, None),
        (
            {"error": {"code": 400, "err_code": 10084, "description": "consumer max ack pending exceeds system limit"}},
            "consumer S/c (declared at m.yaml:5): cannot replace it: the server would refuse to create it "
            "(consumer max ack pending exceeds system limit",
        ),
        ({"config": {"durable_name": "c"}}, "consumer S/c was deleted while the plan was made"),
    ],
)
def test_a_consumer_replaced_on_its_own_is_dry_run(answer: dict[str, Any], problem: str | None) -> None:
    live = {"stream_name": "S", "name": "c", "config": {"durable_name": "c", "ack_policy": "explicit"}}
    listing = paged_lists([stream("S", consumers=1)], {"S": [live]})

    def handler(subject: str, body: dict[str, Any]) -> dict[str, Any]:
        return answer if subject == "$JS.API.CONSUMER.CREATE.S.c" else dict(listing(subject, body))

    driver, nc = driver_with(handler)
    want = [
        Resource(Address("n", "stream", ("S",)), {"subjects": ["s"]}),
        Resource(Address("n", "consumer", ("S", "c")), {"ack_policy": "all"}, source="m.yaml:5"),
    ]
    if problem is None:
        driver.read(want, [])
    else:
        with pytest.raises(PlanError, match=re.escape(problem)):
            driver.read(want, [])
    driver.close()
    [(_, body)] = [r for r in nc.requests if r[0] == "$JS.API.CONSUMER.CREATE.S.c"]
    assert body == {"stream_name": "S", "config": {"durable_name": "c", "ack_policy": "all"}, "action": "create"}


def test_a_read_ahead_lists_once_for_the_next_read_only() -> None:
    streams = [stream(f"S{i}", consumers=1) for i in range(3)]
    consumers = {f"S{i}": [{"stream_name": f"S{i}", "name": "c", "config": {"durable_name": "c"}}] for i in range(3)}
    driver, nc = driver_with(paged_lists(streams, consumers))
    assert driver.read_ahead({"type": "nats", "streams": {"anything": {}}}) is True
    first = driver.read([], [])
    listings = sum(1 for s, _ in nc.requests if s == "$JS.API.STREAM.LIST")
    again = driver.read([], [])
    driver.close()
    assert listings == 1  # the read took what was read ahead
    assert sum(1 for s, _ in nc.requests if s == "$JS.API.STREAM.LIST") == 2  # the next one lists again
    assert sorted(str(r.address) for r in first) == sorted(str(r.address) for r in again)
    assert len(first) == 6


def test_a_read_ahead_that_failed_fails_the_read_as_the_read_itself_would() -> None:
    messages = []
    for ahead in (False, True):
        driver, nc = driver_with(lambda s, b: {})
        nc.responders = False
        if ahead:
            driver.read_ahead({})
        with pytest.raises(BrokerError) as err:
            driver.read([], [])
        driver.close()
        messages.append(str(err.value))
    assert messages[0] == messages[1] and "is JetStream enabled" in messages[0]


def test_a_read_ahead_nobody_takes_ends_with_the_driver() -> None:
    driver, nc = driver_with(paged_lists([stream("S")], {"S": []}))
    nc.delay = 0.2  # still listing when the manifest is refused
    driver.read_ahead({})
    driver.close()
    assert driver._loop is None and driver._ahead is None
