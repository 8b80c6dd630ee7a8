"""The shared retry helper: bounded attempts and time, backoff with jitter, giving up for good."""

from __future__ import annotations

import asyncio

import pytest

from topoctl.retry import Retrier, RetryPolicy, note


class Clock:
    """Virtual time: `sleep` moves it on."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


class Flaky:
    """Fails `failures` times with `error`, then answers."""

    def __init__(self, failures: int, error: Exception | None = None) -> None:
        self.failures = failures
        self.error = error or ConnectionResetError("reset by peer")
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error
        return "ok"


def transient(exc: BaseException) -> bool:
    return isinstance(exc, ConnectionError)


def retrier(policy: RetryPolicy, clock: Clock, stopping: list[bool] | None = None) -> Retrier:
    flag = stopping if stopping is not None else [False]
    return Retrier(policy, lambda: flag[0], clock=clock, sleep=clock.sleep, draw=lambda: 1.0)


def test_a_transient_failure_is_retried_with_growing_waits() -> None:
    clock = Clock()
    r = retrier(RetryPolicy(attempts=4, max_seconds=60), clock)
    fn = Flaky(3)
    assert r.call(fn, transient) == "ok"
    assert fn.calls == 4 and r.retries == 3 and r.gave_up is None
    assert clock.now == pytest.approx(0.25 + 0.5 + 1.0)  # base 0.25 s, doubling (jitter drew its maximum)


def test_attempts_are_bounded_and_the_failure_says_so() -> None:
    clock = Clock()
    r = retrier(RetryPolicy(attempts=3, max_seconds=60), clock)
    fn = Flaky(10)
    with pytest.raises(ConnectionResetError) as caught:
        r.call(fn, transient)
    assert fn.calls == 3
    assert note(caught.value) == " (gave up after 3 attempts in 0.8s)"
    assert r.gave_up is caught.value


def test_total_time_is_bounded() -> None:
    clock = Clock()
    r = retrier(RetryPolicy(attempts=100, max_seconds=3), clock)
    with pytest.raises(ConnectionResetError):
        r.call(Flaky(1000), transient)
    assert clock.now <= 3


def test_a_permanent_failure_is_not_retried_and_the_broker_is_not_taken_as_gone() -> None:
    clock = Clock()
    r = retrier(RetryPolicy(), clock)
    fn = Flaky(1, ValueError("HTTP 400"))
    with pytest.raises(ValueError):
        r.call(fn, transient)
    assert fn.calls == 1 and r.gave_up is None and note(ValueError()) == ""


def test_once_given_up_other_calls_try_once_without_waiting() -> None:
    clock = Clock()
    r = retrier(RetryPolicy(attempts=5, max_seconds=60), clock)
    with pytest.raises(ConnectionResetError):
        r.call(Flaky(100), transient)
    spent = clock.now
    later = Flaky(100)
    with pytest.raises(ConnectionResetError):
        r.call(later, transient)
    assert later.calls == 1 and clock.now == spent


def test_a_stop_ends_the_wait_and_the_call() -> None:
    clock = Clock()
    stopping = [False]
    r = retrier(RetryPolicy(attempts=5, max_seconds=60), clock, stopping)

    def fn() -> str:
        stopping[0] = True  # Ctrl-C arrives while the first try fails
        raise ConnectionResetError("reset")

    with pytest.raises(ConnectionResetError):
        r.call(fn, transient)
    assert clock.now == 0 and r.gave_up is None


def test_jitter_spreads_the_waits() -> None:
    policy = RetryPolicy(base_delay=1, max_delay=4)
    assert policy.backoff(1, lambda: 0.5) == 0.5
    assert policy.backoff(3, lambda: 1.0) == 4
    assert policy.backoff(10, lambda: 1.0) == 4  # capped
    assert policy.backoff(2, lambda: 0.0) == 0


def test_the_async_form_retries_too() -> None:
    r = Retrier(RetryPolicy(attempts=3, base_delay=0.001), draw=lambda: 1.0)
    calls = []

    async def fn() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise ConnectionRefusedError("refused")
        return "ok"

    assert asyncio.run(r.acall(fn, transient)) == "ok"
    assert len(calls) == 3


@pytest.mark.parametrize(
    ("section", "problem"),
    [
        ({"attempts": 0}, "attempts"),
        ({"attempts": True}, "attempts"),
        ({"max_seconds": -1}, "max_seconds"),
        ("3", "mapping"),
    ],
)
def test_bad_settings_are_refused(section: object, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        RetryPolicy.from_connection({"retries": section})


def test_settings_from_the_connection() -> None:
    assert RetryPolicy.from_connection({}) == RetryPolicy()
    policy = RetryPolicy.from_connection({"retries": {"attempts": 5, "max_seconds": 2.5}})
    assert (policy.attempts, policy.max_seconds) == (5, 2.5)


class Down(ConnectionRefusedError):
    pass


def test_a_driver_whose_broker_is_gone_starts_no_new_change() -> None:
    """Base Driver.apply: once a change gave up on a transient failure, the others of the wave
    are not attempted (not tried one by one, each with its own retry budget)."""
    from tests.unit.fakes import FakeBroker, FakeDriver
    from topoctl.errors import BrokerError
    from topoctl.model import Action, Address, Change

    class DeadDriver(FakeDriver):
        def apply_one(self, change: Change) -> None:
            self.broker.calls.append((change.action.value, str(change.address)))

            def request() -> None:
                raise Down("refused")

            try:
                self.retry.call(request, transient)
            except Down as exc:
                raise BrokerError(self.name, self.endpoint, f"cannot connect: {exc}{note(exc)}") from None

    broker = FakeBroker()
    driver = DeadDriver("b", {"retries": {"attempts": 2, "max_seconds": 1}}, broker)
    changes = [Change(Address("b", "queue", ("v", f"q{i}")), Action.CREATE, None, {}) for i in range(50)]
    done: list[Change] = []
    with pytest.raises(BrokerError, match="gave up after 2 attempts"):
        driver.apply(changes, 4, done.append)
    assert not done
    assert len(broker.calls) <= 4, broker.calls  # those in flight when it gave up, no more
