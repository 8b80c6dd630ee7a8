"""Bounded retries of transient failures, shared by every driver.

A driver decides *what* may be retried (its `transient` predicate: connection resets, timeouts,
HTTP 5xx/429, the client's retriable errors) and only sends through here requests that are safe
to repeat: reads, and writes the broker treats as idempotent (a PUT of the same queue, a create
of a stream with the same config, a delete whose "not found" the driver counts as done). This
module decides *how*: exponential backoff with full jitter, at most `attempts` tries, and no new
try once `max_seconds` have passed since the first one started, so an operation gives up within
`max_seconds` plus one request timeout.

Once an operation gave up on a transient failure, the broker is taken as gone for the rest of the
run (`Retrier.gave_up`): the driver starts no new change, and calls already under way try once
more without backoff, so a dead broker costs one budget, not one per change.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")

DEFAULT_ATTEMPTS = 3
DEFAULT_MAX_SECONDS = 10.0
# The first retry waits up to BASE_DELAY_S, each next one up to twice as long, never above MAX_DELAY_S.
BASE_DELAY_S = 0.25
MAX_DELAY_S = 2.0
_STOP_POLL_S = 0.05
_NOTE = "_topoctl_retry_note"

Transient = Callable[[BaseException], bool]


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = DEFAULT_ATTEMPTS
    max_seconds: float = DEFAULT_MAX_SECONDS
    base_delay: float = BASE_DELAY_S
    max_delay: float = MAX_DELAY_S

    @classmethod
    def from_connection(cls, connection: Mapping[str, Any]) -> RetryPolicy:
        """`connection.retries: {attempts, max_seconds}`; ValueError for a value the schema lets
        through but that cannot work."""
        section = connection.get("retries")
        if section is None:
            return cls()
        if not isinstance(section, Mapping):
            raise ValueError("connection.retries must be a mapping: {attempts: 3, max_seconds: 10}")
        attempts = section.get("attempts", DEFAULT_ATTEMPTS)
        if isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 1:
            raise ValueError("connection.retries.attempts must be an integer of at least 1")
        seconds = section.get("max_seconds", DEFAULT_MAX_SECONDS)
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds < 0:
            raise ValueError("connection.retries.max_seconds must be a number of seconds, 0 or more")
        return cls(attempts=attempts, max_seconds=float(seconds))

    def backoff(self, retry: int, draw: Callable[[], float] = random.random) -> float:
        """The wait before retry number `retry` (1 for the first): full jitter, so that many
        clients that failed together do not come back together."""
        return float(draw() * min(self.max_delay, self.base_delay * 2 ** (retry - 1)))


def note(exc: BaseException) -> str:
    """How many tries an error that `Retrier` gave up on took (` (3 attempts in 1.2s)`), or ''."""
    return str(getattr(exc, _NOTE, ""))


class Retrier:
    """The retry policy of one driver, and whether its broker stopped answering. Thread-safe; the
    async form runs on any event loop."""

    def __init__(
        self,
        policy: RetryPolicy,
        stopping: Callable[[], bool] = lambda: False,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        draw: Callable[[], float] = random.random,
    ) -> None:
        self.policy = policy
        self._stopping = stopping
        self._clock = clock
        self._sleep = sleep
        self._draw = draw
        self._lock = threading.Lock()
        self._gave_up: BaseException | None = None
        self.retries = 0  # how many retries were made (for tests and measurements)

    @property
    def gave_up(self) -> BaseException | None:
        """The failure an operation gave up on: the broker is taken as gone, start nothing new."""
        with self._lock:
            return self._gave_up

    def call(self, fn: Callable[[], T], transient: Transient) -> T:
        start = self._clock()
        attempt = 0
        while True:
            attempt += 1
            try:
                return fn()
            except Exception as exc:
                delay = self._next(exc, transient, attempt, start)
                if delay is None or not self._wait(delay):
                    raise
            self._count()

    async def acall(self, fn: Callable[[], Awaitable[T]], transient: Transient) -> T:
        start = self._clock()
        attempt = 0
        while True:
            attempt += 1
            try:
                return await fn()
            except Exception as exc:
                delay = self._next(exc, transient, attempt, start)
                if delay is None:
                    raise
                import asyncio  # only the async drivers get here: not every command pays its import

                await asyncio.sleep(delay)
                if self._stopping():
                    raise
            self._count()

    def _count(self) -> None:
        with self._lock:
            self.retries += 1

    def _next(self, exc: BaseException, transient: Transient, attempt: int, start: float) -> float | None:
        """The wait before the next try, or None to give up (then `exc` carries a note)."""
        if not transient(exc):
            return None
        elapsed = self._clock() - start
        delay = self.policy.backoff(attempt, self._draw)
        if self._stopping():  # Ctrl-C, SIGTERM: the call in flight ends now, with its failure
            return None
        with self._lock:
            down = self._gave_up is not None
        if down or attempt >= self.policy.attempts or elapsed + delay > self.policy.max_seconds:
            with self._lock:
                if self._gave_up is None:
                    self._gave_up = exc
            if attempt > 1:
                setattr(exc, _NOTE, f" (gave up after {attempt} attempts in {elapsed:.1f}s)")
            return None
        return delay

    def _wait(self, delay: float) -> bool:
        """Sleep `delay`, waking early when the apply is asked to stop (then False)."""
        end = self._clock() + delay
        while True:
            left = end - self._clock()
            if left <= 0:
                return True
            if self._stopping():
                return False
            self._sleep(min(left, _STOP_POLL_S))
