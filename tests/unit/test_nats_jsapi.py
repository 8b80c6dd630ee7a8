"""Many JetStream API requests on one reply subscription (`JetStreamApi.many`, `paged_many`): how a
plan lists the consumers of thousands of streams. What a real server will not readily show: answers
out of order, at most MAX_IN_FLIGHT outstanding, an answer that never comes, a connection that
dies, no JetStream, lists that change while they are paged."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from nats.errors import TimeoutError as NatsTimeout

from topoctl.providers.nats import jsapi
from topoctl.providers.nats.jsapi import ApiError, ConnectionLost, JetStreamApi, NoJetStream

Handler = Callable[[str, dict[str, Any]], dict[str, Any] | None]


@dataclass
class Msg:
    subject: str
    data: bytes
    headers: dict[str, str] | None = None


class Server:
    """A fake connection: answers published requests on their reply subject from `handler`,
    later than asked and in reverse order of arrival within each turn of the loop. An answer of
    None is never sent."""

    def __init__(self, handler: Handler, responders: bool = True) -> None:
        self.handler = handler
        self.responders = responders
        self.asked: list[tuple[str, dict[str, Any]]] = []
        self.waiting = 0
        self.most_waiting = 0
        self.subs: dict[str, Callable[[Msg], Awaitable[None]]] = {}
        self.unsubscribed = 0

    def new_inbox(self) -> str:
        return f"_INBOX.t{len(self.subs) + self.unsubscribed}"

    async def subscribe(self, subject: str, cb: Callable[[Msg], Awaitable[None]], **_: Any) -> Any:
        inbox = subject.removesuffix(".*")
        self.subs[inbox] = cb
        server = self

        class Sub:
            async def unsubscribe(self) -> None:
                server.subs.pop(inbox, None)
                server.unsubscribed += 1

        return Sub()

    async def publish(self, subject: str, payload: bytes, reply: str) -> None:
        body = json.loads(payload) if payload else {}
        self.asked.append((subject, body))
        self.waiting += 1
        self.most_waiting = max(self.most_waiting, self.waiting)
        answer = self.handler(subject, body) if self.responders else {}
        if answer is None:
            return
        loop = asyncio.get_running_loop()
        delay = 0.001 * (len(self.asked) % 3)  # answers overtake one another
        loop.call_later(delay, lambda: asyncio.ensure_future(self._answer(reply, answer)))

    async def request(self, subject: str, payload: bytes, timeout: float) -> Msg:
        """One request on its own (a list walked again page by page)."""
        body = json.loads(payload) if payload else {}
        self.asked.append((subject, body))
        await asyncio.sleep(0)
        return Msg("", json.dumps(self.handler(subject, body)).encode())

    async def _answer(self, reply: str, answer: dict[str, Any]) -> None:
        cb = self.subs.get(reply.rsplit(".", 1)[0])
        if cb is None:
            return
        self.waiting -= 1
        if not self.responders:
            await cb(Msg(reply, b"", {"Status": "503"}))
            return
        await cb(Msg(reply, json.dumps(answer).encode()))


def run(server: Server, work: Callable[[JetStreamApi], Awaitable[Any]], timeout: float = 5.0) -> Any:
    async def main() -> Any:
        return await work(JetStreamApi(server, "$JS.API", timeout, asyncio.Event()))

    return asyncio.run(main())


def echo(subject: str, body: dict[str, Any]) -> dict[str, Any]:
    if subject.endswith(".BAD"):
        return {"error": {"code": 404, "err_code": 10059, "description": "stream not found"}}
    return {"subject": subject, "offset": body.get("offset")}


def test_answers_come_back_in_the_order_asked_with_each_refusal_in_its_place() -> None:
    server = Server(echo)
    requests = [(f"CONSUMER.LIST.S{i}", b'{"offset":0}') for i in range(50)] + [("CONSUMER.LIST.BAD", b"")]
    start = time.monotonic()
    answers = run(server, lambda api: api.many(requests), timeout=5)
    assert time.monotonic() - start < 2  # done when the last answer is in, not at the timeout
    assert [a["subject"] for a in answers[:50]] == [f"$JS.API.CONSUMER.LIST.S{i}" for i in range(50)]
    assert isinstance(answers[50], ApiError) and answers[50].not_found
    assert server.subs == {} and server.unsubscribed == 1  # the reply subscription is gone after


def test_at_most_max_in_flight_requests_wait_for_their_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jsapi, "MAX_IN_FLIGHT", 8)
    server = Server(echo)
    answers = run(server, lambda api: api.many([(f"X.{i}", b"") for i in range(100)]))
    assert len(answers) == 100 and len(server.asked) == 100
    assert server.most_waiting == 8


def test_an_answer_that_never_comes_times_out_once_nothing_is_heard_for_the_timeout() -> None:
    server = Server(lambda s, b: None if s.endswith(".7") else echo(s, b))
    start = time.monotonic()
    with pytest.raises(NatsTimeout):
        run(server, lambda api: api.many([(f"X.{i}", b"") for i in range(20)]), timeout=0.3)
    assert 0.25 < time.monotonic() - start < 3
    assert server.subs == {}


def test_a_lost_connection_fails_the_batch_at_once() -> None:
    server = Server(lambda s, b: None)  # nothing ever answers

    async def work(api: JetStreamApi) -> Any:
        assert api.lost is not None
        asyncio.get_running_loop().call_later(0.05, api.lost.set)
        return await api.many([("X.1", b"")])

    start = time.monotonic()
    with pytest.raises(ConnectionLost):
        run(server, work, timeout=30)
    assert time.monotonic() - start < 5


def test_nobody_answering_on_the_api_subject_is_no_jetstream() -> None:
    server = Server(echo, responders=False)
    with pytest.raises(NoJetStream, match=r"no JetStream responds on \$JS\.API\.> \(is JetStream enabled\?\)"):
        run(server, lambda api: api.many([("STREAM.LIST", b"")]))


def pages(lists: dict[str, list[int]], page: int = 3, moving: set[str] | None = None) -> Handler:
    """CONSUMER.LIST.<name> of `lists`, `page` items a page; a list in `moving` loses its last item
    once its first page was given."""
    given: set[str] = set()

    def handler(subject: str, body: dict[str, Any]) -> dict[str, Any]:
        name = subject.rsplit(".", 1)[1]
        if name == "GONE":
            return {"error": {"code": 404, "err_code": 10059, "description": "stream not found"}}
        items = lists[name]
        if moving and name in moving and name in given:
            items = items[:-1]
        given.add(name)
        offset = body["offset"]
        return {"total": len(items), "offset": offset, "limit": page, "consumers": items[offset : offset + page]}

    return handler


def test_every_page_of_every_list_is_read_and_a_list_that_moved_is_walked_again() -> None:
    lists = {"A": list(range(7)), "B": [], "C": list(range(3)), "D": list(range(10))}
    server = Server(pages(lists, moving={"D"}))
    subjects = [f"CONSUMER.LIST.{n}" for n in ("A", "B", "GONE", "C", "D")]
    found = run(server, lambda api: api.paged_many(subjects, "consumers", lambda item: ("seen", item)))
    assert found[0] == [("seen", i) for i in range(7)] and found[1] == []
    assert found[3] == [("seen", i) for i in range(3)]
    assert isinstance(found[2], ApiError) and found[2].not_found
    assert found[4] == [("seen", i) for i in range(9)]  # D lost an item while it was paged: read again, whole
    offsets = sorted(b["offset"] for s, b in server.asked if s.endswith(".A"))
    assert offsets == [0, 3, 6]


def test_writes_sent_at_once_tell_each_refusal_and_nothing_more_at_most_limit_waiting() -> None:
    def handler(subject: str, body: dict[str, Any]) -> dict[str, Any]:
        if subject.endswith(".4"):
            return {
                "error": {"code": 400, "err_code": 10065, "description": "subjects overlap with an existing stream"}
            }
        if subject.endswith(".5"):  # "error" in an accepted config: decoded, still accepted
            return {"config": {"description": 'the "error" stream', "metadata": {"error": "none"}}}
        return {"config": {"name": subject}}

    server = Server(handler)
    told: dict[int, ApiError | None] = {}
    requests = [(f"STREAM.CREATE.{i}", b'{"name":"x"}') for i in range(30)]
    run(server, lambda api: api.send_all(requests, told.__setitem__, 4, lambda: True))
    assert sorted(told) == list(range(30)) and server.most_waiting == 4
    refused = told.pop(4)
    assert isinstance(refused, ApiError) and refused.err_code == 10065
    assert set(told.values()) == {None}
    assert server.subs == {}


def test_writes_stop_being_sent_once_told_to() -> None:
    server = Server(echo)
    told: list[int] = []
    run(
        server,
        lambda api: api.send_all(
            [(f"X.{i}", b"") for i in range(50)], lambda i, _: told.append(i), 5, lambda: len(told) < 7
        ),
    )
    assert 7 <= len(server.asked) <= 7 + 5 and sorted(told) == list(range(len(server.asked)))


def test_writes_to_no_jetstream_are_no_jetstream() -> None:
    server = Server(echo, responders=False)
    with pytest.raises(NoJetStream):
        run(server, lambda api: api.send_all([("STREAM.CREATE.X", b"")], lambda i, _: None, 8, lambda: True))
