"""Raw JetStream API requests (`$JS.API.*` JSON) over one nats-py connection.

Raw JSON rather than nats-py's config dataclasses: those drop fields they do not know, and an
update must send back the server's config exactly, with only the declared fields changed.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Mapping
from typing import Any

# Many requests in flight on one connection; bounded so a huge account does not flood the server.
MAX_IN_FLIGHT = 512
NOT_FOUND_CODES = frozenset({10059, 10014})  # stream not found, consumer not found


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

        payload = json.dumps(body, separators=(",", ":")).encode() if body is not None else b""
        async with self._slots:
            try:
                msg = await self._answer(self.nc.request(f"{self.prefix}.{subject}", payload, timeout=self.timeout))
            except NoRespondersError:
                raise NoJetStream(f"no JetStream responds on {self.prefix}.> (is JetStream enabled?)") from None
        data: dict[str, Any] = json.loads(msg.data)
        error = data.get("error")
        if error:
            raise ApiError(int(error.get("code", 0)), int(error.get("err_code", 0)), str(error.get("description")))
        return data

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

    async def paged(self, subject: str, key: str) -> list[dict[str, Any]]:
        """Every item of a paged list (`STREAM.LIST`, `CONSUMER.LIST.<stream>`).

        The first page tells the total and page size; the other pages are then requested at once.
        If the total moved meanwhile (objects created or deleted), the list is walked again one
        page after the other so nothing is missed.
        """
        first = await self.request(subject, {"offset": 0})
        items: list[dict[str, Any]] = list(first.get(key) or [])
        total = int(first.get("total") or 0)
        limit = int(first.get("limit") or 0) or len(items)
        if len(items) >= total or not limit:
            return items
        pages = await asyncio.gather(
            *(self.request(subject, {"offset": offset}) for offset in range(limit, total, limit))
        )
        if all(int(p.get("total") or 0) == total for p in pages):
            for page in pages:
                items.extend(page.get(key) or [])
            if len(items) == total:
                return items
        return await self._walk(subject, key)

    async def _walk(self, subject: str, key: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        while True:
            page = await self.request(subject, {"offset": len(items)})
            batch = page.get(key) or []
            items.extend(batch)
            if not batch or len(items) >= int(page.get("total") or 0):
                return items
