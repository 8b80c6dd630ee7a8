"""Helpers of the fault tests (issue 9): Toxiproxy proxies made per test through its HTTP API,
topoctl run as a real process, and a fault injected when its progress says it is mid-apply.

Toxiproxy is started by `dev/brokers up` (API on 127.0.0.1:8474); when it is unreachable the
tests fail, they never skip.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from tests.integration.servers import free_port, wait_for_port
from topoctl.engine.applier import execute
from topoctl.engine.planner import Session
from topoctl.manifest.loader import load_manifest

TOXIPROXY_URL = os.environ.get("TOXIPROXY_URL", "http://127.0.0.1:8474")


class KillableServer:
    """A server of the test's own on a free loopback port, to be killed mid-apply (SIGKILL, as a
    crash would) and started again, on the same port, as a restart would."""

    def __init__(self) -> None:
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    def command(self) -> list[str]:
        raise NotImplementedError

    def start(self) -> None:
        self.proc = subprocess.Popen(self.command(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_port(self.port, process=self.proc)

    def kill(self) -> None:
        if self.proc is not None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
            self.proc = None


S = TypeVar("S", bound=KillableServer)


@contextmanager
def running(server: S) -> Iterator[S]:
    server.start()
    try:
        yield server
    finally:
        server.kill()


class Proxy:
    """One Toxiproxy proxy: 127.0.0.1:<port> -> upstream, with toxics added and removed at will."""

    def __init__(self, api: httpx.Client, name: str, port: int, upstream: str) -> None:
        self.api = api
        self.name = name
        self.port = port
        self.upstream = upstream
        self.injected: list[str] = []  # the toxics added, for the report

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def toxic(self, kind: str, stream: str = "downstream", toxicity: float = 1.0, **attributes: Any) -> str:
        name = f"{kind}-{stream}-{len(self.injected)}"
        body = {"name": name, "type": kind, "stream": stream, "toxicity": toxicity, "attributes": attributes}
        response = self.api.post(f"/proxies/{self.name}/toxics", json=body)
        assert response.status_code == 200, response.text
        self.injected.append(name)
        return name

    def clear(self) -> None:
        for toxic in self.api.get(f"/proxies/{self.name}/toxics").json():
            self.api.delete(f"/proxies/{self.name}/toxics/{toxic['name']}")

    def enabled(self, on: bool) -> None:
        """Off: every connection through the proxy is closed and new ones are refused."""
        response = self.api.post(f"/proxies/{self.name}", json={"enabled": on})
        assert response.status_code == 200, response.text


@contextmanager
def proxy(upstream: str) -> Iterator[Proxy]:
    api = httpx.Client(base_url=TOXIPROXY_URL, timeout=10)
    try:
        api.get("/version").raise_for_status()
    except httpx.HTTPError as exc:
        api.close()
        pytest.fail(f"Toxiproxy is not reachable at {TOXIPROXY_URL} (start it: dev/brokers up toxiproxy): {exc!r}")
    name = f"topoctl-{uuid.uuid4().hex[:8]}"
    response = api.post("/proxies", json={"name": name, "listen": "127.0.0.1:0", "upstream": upstream})
    assert response.status_code == 201, response.text
    port = int(response.json()["listen"].rsplit(":", 1)[1])
    try:
        yield Proxy(api, name, port, upstream)
    finally:
        api.delete(f"/proxies/{name}")
        api.close()


@dataclass
class Run:
    code: int
    stderr: str
    seconds: float  # from the fault to the exit (from the start when there was no fault)

    def __str__(self) -> str:
        return f"exit {self.code} after {self.seconds:.1f}s\n--- stderr\n{self.stderr}"


def topoctl_process(*args: str | Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "topoctl", *(str(a) for a in args)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "CI": "true"},
    )


def apply_with_fault(
    path: Path, fault: Callable[[], object], after: int, *flags: str, limit: float = 90.0
) -> tuple[Run, int]:
    """`topoctl apply` of `path`; `fault()` once `after` changes are reported done. The run (its
    seconds counted from the fault) and how many changes were done when the fault came. A run
    that outlives `limit` seconds is killed (and then fails the test's time assertion)."""
    proc = topoctl_process("apply", "-f", path, "--auto-approve", *flags)
    killer = threading.Timer(limit, proc.kill)
    killer.start()
    assert proc.stderr is not None
    seen: list[str] = []
    done = 0
    start = time.monotonic()
    try:
        for line in proc.stderr:
            seen.append(line)
            if line.rstrip().endswith((": created", ": updated", ": destroyed")):
                done += 1
                if done == after:
                    start = time.monotonic()
                    fault()
                    break
        rest = proc.stderr.read()
        code = proc.wait()
    finally:
        killer.cancel()
    return Run(code, "".join(seen) + rest, time.monotonic() - start), done


def run_topoctl(*args: str | Path, limit: float = 90.0) -> Run:
    start = time.monotonic()
    proc = topoctl_process(*args)
    try:
        _, stderr = proc.communicate(timeout=limit)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, stderr = proc.communicate()
    return Run(proc.returncode, stderr, time.monotonic() - start)


def apply_counting_retries(paths: Sequence[Path], parallelism: int = 4) -> tuple[int, dict[str, int]]:
    """Plan and apply in this process, as `topoctl apply` does: the number of changes applied and
    the retries each broker's driver made."""
    manifest = load_manifest([str(p) for p in paths])
    with Session(manifest) as session:
        plan = session.plan()
        result = execute(session, plan, parallelism)
        retries = {name: session.driver(name).retry.retries for name in manifest.brokers}
    return len(result.done), retries


def plan_is_empty(path: Path) -> Run:
    return run_topoctl("plan", "-f", path, "--detailed-exitcode")


def assert_gave_up(run: Run, broker: str, total: int, seconds: float, not_attempted: bool = True) -> None:
    """The apply met a dead broker: exit 1, no traceback, one error naming `broker` (its name and
    address), how many of the `total` changes were applied (and that some were not attempted),
    within `seconds` of the fault."""
    assert run.code == 1, str(run)
    assert "Traceback" not in run.stderr
    assert broker in run.stderr, str(run)
    assert f"of {total} changes applied" in run.stderr, str(run)
    if not_attempted:
        assert "not attempted" in run.stderr, str(run)
    assert run.seconds < seconds, str(run)


def two_applies_at_once(path: Path) -> None:
    """Two `topoctl apply` of `path` at the same time: each succeeds or ends in one clean error,
    and at least one succeeds."""
    with ThreadPoolExecutor(2) as pool:
        runs = list(pool.map(lambda _: run_topoctl("apply", "-f", path, "--auto-approve"), range(2)))
    for run in runs:
        assert run.code in (0, 1) and "Traceback" not in run.stderr, str(run)
        if run.code == 1:
            assert "Error: " in run.stderr, str(run)
    assert any(run.code == 0 for run in runs), "\n".join(map(str, runs))


@contextmanager
def flapping(p: Proxy, every: float = 0.4, down: float = 0.05) -> Iterator[list[int]]:
    """Every `every` seconds, reset every connection through `p` (and refuse new ones) for
    `down` seconds. Yields a one-item list: how many times it did."""
    count = [0]
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(every):
            name = p.toxic("reset_peer", timeout=0)
            time.sleep(down)
            p.api.delete(f"/proxies/{p.name}/toxics/{name}")
            count[0] += 1

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield count
    finally:
        stop.set()
        thread.join()
