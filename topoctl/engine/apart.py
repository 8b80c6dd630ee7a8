"""Work run in processes of its own, so that brokers read at once do not share one interpreter lock.

Reading a broker is mostly waiting, but not only: a 2,500-queue SQS read spends seconds of CPU in
botocore, a Kafka read builds a Python object for each of a hundred thousand config entries. In
threads of one process all of that takes turns on the GIL, and the slowest broker waits for the
others' CPU. In forked children each broker's read has a core to itself.

Only for work whose side effects the parent does not need (a `plan` reads and renders; an `apply`
keeps what its drivers learned while reading, so it reads in threads), only where `fork` is
available, and only while the process runs no other thread (a lock held by another thread at the
fork would stay held forever in the child). Otherwise the jobs simply run in threads.
"""

from __future__ import annotations

import os
import pickle
import sys
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar, cast

from topoctl.errors import TopoctlError

T = TypeVar("T")
Outcome = tuple[bool, object]  # (True, result) or (False, the exception)


def run_apart(jobs: Sequence[Callable[[], T]], processes: bool = True) -> list[T | BaseException]:
    """The result of each job, or the exception it raised, in the order of `jobs`."""
    if len(jobs) < 2:
        return [_outcome_of(job) for job in jobs]
    if not processes or not hasattr(os, "fork") or threading.active_count() > 1:
        with ThreadPoolExecutor(max_workers=len(jobs), thread_name_prefix="read") as pool:
            return list(pool.map(_outcome_of, jobs))
    children = [_fork(job) for job in jobs[:-1]]
    last = _outcome_of(jobs[-1])  # the parent reads one broker itself rather than wait idle
    return [*(cast("T | BaseException", _collect(pid, fd)) for pid, fd in children), last]


def _outcome_of(job: Callable[[], T]) -> T | BaseException:
    try:
        return job()
    except Exception as exc:
        return exc


def _fork(job: Callable[[], object]) -> tuple[int, int]:
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid:
        os.close(write_end)
        return pid, read_end
    os.close(read_end)  # the child from here on: it never returns to the caller
    code = 0
    try:
        payload = _payload(job)
        with os.fdopen(write_end, "wb") as out:
            out.write(payload)
    except BaseException:  # a child must end here whatever happens, Ctrl-C too
        code = 1
    finally:
        sys.stderr.flush()
        os._exit(code)  # no atexit handlers, no buffers of the parent's flushed twice


def _payload(job: Callable[[], object]) -> bytes:
    try:
        outcome: Outcome = (True, job())
    except TopoctlError as exc:
        # Re-raised in the parent with the same words and exit code (error classes with their own
        # constructor arguments do not survive pickling as they are).
        outcome = (False, (TopoctlError.__name__, str(exc), exc.exit_code))
    except Exception as exc:
        outcome = (False, (type(exc).__name__, str(exc), 1))
    return pickle.dumps(outcome, protocol=pickle.HIGHEST_PROTOCOL)


def _collect(pid: int, fd: int) -> object:
    with os.fdopen(fd, "rb") as source:
        data = source.read()  # read to the end before waiting: a full pipe would block the child
    _, status = os.waitpid(pid, 0)
    if not data:
        return TopoctlError(f"a reading process ended without an answer (exit status {status})")
    ok, value = pickle.loads(data)
    if ok:
        return value
    name, message, exit_code = value
    if name == TopoctlError.__name__:
        error = TopoctlError(message)
        error.exit_code = exit_code
        return error
    return ChildError(name, message)


class ChildError(Exception):
    """An unexpected exception in a child, named as the parent would name its own."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(f"{name}: {message}")
        self.name = name
