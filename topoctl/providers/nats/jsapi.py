"""Raw JetStream API requests (`$JS.API.*` JSON) over one nats-py connection.

Raw JSON rather than nats-py's config dataclasses: those drop fields they do not know, and an
update must send back the server's config exactly, with only the declared fields changed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar

T = TypeVar("T")

# Many requests in flight on one connection; bounded so a huge account does not flood the server.
MAX_IN_FLIGHT = 512
NOT_FOUND_CODES = frozenset({10059, 10014})  # stream not found, consumer not found
# The server's answer when nobody subscribes to a request's subject: a status header, no data.
STATUS_HEADER = "Status"
NO_RESPONDERS = "503"
NO_JETSTREAM = "no JetStream responds on {prefix}.> (is JetStream enabled?)"


class ApiError(Exception):
    """The server answered a JetStream API request with an error."""

    def __init__(self, code: int, err_code: int, description: str) -> None:
        self.code = code
        self.err_code = err_code
        self.description = description
        super().__init__(f"{description} (code {code}, err_code {err_code})")

    @property
    def not_found(self) -> bool:
        return self.err_code in NOT_FOUND_CODES or self.code == 404


class NoJetStream(Exception):
    """Nobody answers on the API subject: JetStream is off, or the domain/prefix is wrong."""


class ConnectionLost(ConnectionError):
    """The connection closed while a request waited for its answer."""


class JetStreamApi:
    def __init__(
        self, nc: Any, prefix: str = "$JS.API", timeout: float = 10.0, lost: asyncio.Event | None = None
    ) -> None:
        self.nc = nc
        self.prefix = prefix
        self.timeout = timeout
        # Set when the connection is gone: nats-py leaves a request waiting for its whole timeout
        # after the server died, so each request also waits on this to fail at once.
        self.lost = lost
        self._slots = asyncio.Semaphore(MAX_IN_FLIGHT)

    async def request(self, subject: str, body: Mapping[str, Any] | None = None) -> dict[str, Any]:
        from nats.errors import NoRespondersError

        payload = encoded(body) if body is not None else b""
        async with self._slots:
            try:
                msg = await self._answer(self.nc.request(f"{self.prefix}.{subject}", payload, timeout=self.timeout))
            except NoRespondersError:
                raise NoJetStream(NO_JETSTREAM.format(prefix=self.prefix)) from None
        answer = self._decoded(msg)
        if isinstance(answer, ApiError):
            raise answer
        return answer

    async def _answer(self, request: Awaitable[Any]) -> Any:
        lost = self.lost
        if lost is None:
            return await request
        if lost.is_set():
            raise ConnectionLost("the connection to the server was lost")
        answer = asyncio.ensure_future(request)
        gone = asyncio.ensure_future(lost.wait())
        try:
            await asyncio.wait({answer, gone}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            gone.cancel()
        if not answer.done():
            answer.cancel()
            raise ConnectionLost("the connection to the server was lost")
        return answer.result()

    async def many(
        self, requests: Sequence[tuple[str, bytes]], then: Callable[[dict[str, Any]], object] | None = None
    ) -> list[dict[str, Any] | ApiError]:
        """The answers to many requests (subject, JSON payload), in their order: each answer, or
        the ApiError the server gave instead. `then` is called with each answer as it comes, while
        the server works on the others.

        One reply subscription serves them all, where `request` costs a future, a timer and two
        tasks each (a plan lists the consumers of thousands of streams: that was most of its CPU).
        At most MAX_IN_FLIGHT wait for their answer; each answer sends the next request. Fails
        when no answer came for `timeout` seconds (TimeoutError, as a request would), at once
        when the connection is lost, and with NoJetStream when nobody answers on the API subject.
        """
        return await self._pipeline(requests, then, MAX_IN_FLIGHT, None, None)

    async def send_all(
        self,
        requests: Sequence[tuple[str, bytes]],
        each: Callable[[int, ApiError | None], object],
        limit: int,
        proceed: Callable[[], bool],
    ) -> None:
        """`many` for writes whose answer only matters when it is a refusal: `each` is called with
        the index of every request as it is answered, and the ApiError of a refusal (else None);
        at most `limit` wait for their answer, and a request is sent only while `proceed()` says
        so (the others are never sent). Fails as `many` does."""
        await self._pipeline(requests, None, limit, each, proceed)

    async def _pipeline(
        self,
        requests: Sequence[tuple[str, bytes]],
        then: Callable[[dict[str, Any]], object] | None,
        limit: int,
        each: Callable[[int, ApiError | None], object] | None,
        proceed: Callable[[], bool] | None,
    ) -> list[Any]:
        if not requests:
            return []
        limit = max(1, min(limit, MAX_IN_FLIGHT))
        from nats.errors import TimeoutError as NatsTimeout

        loop = asyncio.get_running_loop()
        inbox = self.nc.new_inbox()
        cut = len(inbox) + 1
        answers: list[Any] = [None] * len(requests)
        finished: asyncio.Future[None] = loop.create_future()
        heard_from: set[int] = set()
        sent = waiting = 0
        heard = loop.time()  # when the last answer came

        async def send() -> None:
            nonlocal sent, waiting
            index, sent, waiting = sent, sent + 1, waiting + 1
            subject, payload = requests[index]
            await self.nc.publish(f"{self.prefix}.{subject}", payload, reply=f"{inbox}.{index}")

        async def answered(msg: Any) -> None:
            nonlocal waiting, heard
            index = int(msg.subject[cut:])
            if index in heard_from or finished.done():
                return
            heard_from.add(index)
            heard = loop.time()
            waiting -= 1
            try:  # decoded while the server works on the next ones
                if each is None:
                    answer = answers[index] = self._decoded(msg)
                    if then is not None and not isinstance(answer, ApiError):
                        then(answer)
                else:
                    answers[index] = refusal = self._refusal(msg)
                    each(index, refusal)
                if sent < len(requests) and (proceed is None or proceed()):
                    await send()
            except Exception as exc:  # raised by the batch, not handed to nats-py's error callback
                finished.set_exception(exc)
                return
            if not waiting:
                finished.set_result(None)

        # No byte limit on the answers waiting for the callback: at most MAX_IN_FLIGHT can.
        sub = await self.nc.subscribe(f"{inbox}.*", cb=answered, pending_bytes_limit=0)
        gone: asyncio.Future[Any] | None = None
        if self.lost is not None:
            gone = asyncio.ensure_future(self.lost.wait())
        try:
            while sent < min(limit, len(requests)) and (proceed is None or proceed()):
                await send()
            if not waiting and not finished.done():
                finished.set_result(None)  # nothing was sent (or all answered already)
            while not finished.done():
                if gone is not None and gone.done():
                    raise ConnectionLost("the connection to the server was lost")
                left = heard + self.timeout - loop.time()
                if left <= 0:
                    raise NatsTimeout
                waits: list[asyncio.Future[Any]] = [finished] if gone is None else [finished, gone]
                await asyncio.wait(waits, timeout=left, return_when=asyncio.FIRST_COMPLETED)
            finished.result()
        finally:
            if gone is not None:
                gone.cancel()
            if finished.done() and not finished.cancelled():
                finished.exception()  # retrieved: the batch raised already (asyncio would log it)
            with contextlib.suppress(Exception):  # the connection may be gone
                await sub.unsubscribe()
        return answers

    def _refusal(self, msg: Any) -> ApiError | None:
        """The ApiError an answer carries, or None. An answer that cannot hold one (no `"error"`
        anywhere in it: the server writes keys as they are) is not decoded, which was a tenth of
        an apply's CPU at thousands of creates."""
        data = msg.data
        if data[:1] == b"{" and b'"error"' not in data and not getattr(msg, "headers", None):
            return None
        answer = self._decoded(msg)
        return answer if isinstance(answer, ApiError) else None

    def _decoded(self, msg: Any) -> dict[str, Any] | ApiError:
        """An answer's JSON, or the ApiError it carries."""
        headers = getattr(msg, "headers", None)
        if headers and headers.get(STATUS_HEADER) == NO_RESPONDERS:
            raise NoJetStream(NO_JETSTREAM.format(prefix=self.prefix))
        data: dict[str, Any] = json.loads(msg.data)
        error = data.get("error")
        if error:
            return ApiError(int(error.get("code", 0)), int(error.get("err_code", 0)), str(error.get("description")))
        return data

    async def paged(self, subject: str, key: str) -> list[dict[str, Any]]:
        """Every item of a paged list (`STREAM.LIST`); raises the ApiError of the server."""
        [items] = await self.paged_many([subject], key, _same)
        if isinstance(items, ApiError):
            raise items
        return items

    async def paged_many(
        self, subjects: Sequence[str], key: str, each: Callable[[dict[str, Any]], T]
    ) -> list[list[T] | ApiError]:
        """`each` item of each paged list (`CONSUMER.LIST.<stream>` of many streams), or the
        ApiError the server gave for it. The items of a page are passed to `each` as soon as it
        comes, while the server works on the other pages.

        The first pages tell the totals and page size; the other pages are then requested at
        once. If a total moved meanwhile (objects created or deleted), that list is walked again
        one page after the other so nothing is missed.
        """

        def converted(page: dict[str, Any]) -> None:
            page[key] = [each(item) for item in page.get(key) or []]

        firsts = await self.many([(subject, _offset(0)) for subject in subjects], converted)
        out: list[list[T] | ApiError] = []
        totals: list[int] = []
        later: list[tuple[int, int]] = []  # (list, offset) of the pages after the first
        for index, first in enumerate(firsts):
            if isinstance(first, ApiError):
                out.append(first)
                totals.append(0)
                continue
            items = list(first.get(key) or [])
            total = int(first.get("total") or 0)
            limit = int(first.get("limit") or 0) or len(items)
            out.append(items)
            totals.append(total)
            if len(items) < total and limit:
                later += [(index, offset) for offset in range(limit, total, limit)]
        if not later:
            return out
        pages = await self.many([(subjects[index], _offset(offset)) for index, offset in later], converted)
        moved: set[int] = set()
        for (index, _), page in zip(later, pages, strict=True):
            so_far = out[index]
            if isinstance(so_far, ApiError):
                continue
            if isinstance(page, ApiError):
                out[index] = page  # a stream deleted meanwhile: the caller decides
            elif int(page.get("total") or 0) != totals[index]:
                moved.add(index)
            else:
                so_far.extend(page.get(key) or [])
        for index in dict.fromkeys(index for index, _ in later):
            so_far = out[index]
            if index in moved or (not isinstance(so_far, ApiError) and len(so_far) != totals[index]):
                try:
                    out[index] = [each(item) for item in await self._walk(subjects[index], key)]
                except ApiError as exc:
                    out[index] = exc
        return out

    async def _walk(self, subject: str, key: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        while True:
            page = await self.request(subject, {"offset": len(items)})
            batch = page.get(key) or []
            items.extend(batch)
            if not batch or len(items) >= int(page.get("total") or 0):
                return items


def encoded(body: Mapping[str, Any]) -> bytes:
    """A request's JSON payload, as compact as the server sends its own."""
    return json.dumps(body, separators=(",", ":")).encode()


def _offset(offset: int) -> bytes:
    return b'{"offset":%d}' % offset


def _same(item: dict[str, Any]) -> dict[str, Any]:
    return item
