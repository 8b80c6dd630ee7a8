"""The NATS provider at estate scale (issue 10): thousands of streams compiled, read and planned
alike, with the checks that used to walk every declared object once per stream."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.unit.test_nats_driver import driver_with, paged_lists, stream
from topoctl.errors import BrokerError, ManifestError
from topoctl.manifest.loader import load_manifest
from topoctl.model import Action, Address, Change, Resource
from topoctl.providers.base import PruneScope, covering
from topoctl.providers.nats.kinds import KINDS
from topoctl.providers.nats.routing import _Lookup, _Stream
from topoctl.providers.nats.subjects import subject_matches

B = "n"


def load(tmp_path: Path, streams: dict[str, Any], **more: Any) -> Any:
    doc = {"version": 1, "brokers": {B: {"type": "nats", "streams": streams, **more}}}
    path = tmp_path / "m.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return load_manifest([str(path)], env={}).brokers[B]


def test_a_consumer_is_no_object_store_to_the_subject_overlap_check(tmp_path: Path) -> None:
    """Consumers were checked as if they were object stores named after their stream: a stream
    capturing `$O.<that stream>.C.x` was refused as overlapping an object store that does not exist."""
    spec = load(tmp_path, {"A": {"subjects": ["a.>"], "consumers": {"c": {}}}, "B": {"subjects": ["$O.A.C.x"]}})
    assert {str(r.address) for r in spec.resources} == {"n/stream/A", "n/stream/B", "n/consumer/A/c"}


def test_a_stream_overlapping_a_declared_object_store_is_still_refused(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match=r"overlaps '\$O\.files\.C\.>' of object store 'files'"):
        load(tmp_path, {"B": {"subjects": ["$O.files.C.x"]}}, object_stores={"files": {}})


def workqueues(count: int, overlap_at: int | None = None, limit_at: int | None = None) -> dict[str, Any]:
    streams: dict[str, Any] = {}
    for i in range(count):
        consumers: dict[str, Any] = {"a": {"filter_subject": f"w{i}.a"}, "b": {"filter_subject": f"w{i}.b"}}
        if i == overlap_at:
            consumers["b"]["filter_subject"] = f"w{i}.>"
        if i == limit_at:
            consumers["a"]["max_ack_pending"] = 500
        streams[f"W{i:04d}"] = {
            "subjects": [f"w{i}.>"],
            "retention": "workqueue",
            "consumer_limits": {"max_ack_pending": 100},
            "consumers": consumers,
        }
    return streams


def test_thousands_of_workqueue_streams_check_their_own_consumers_only(tmp_path: Path) -> None:
    spec = load(tmp_path, workqueues(2000))
    assert len(spec.resources) == 6000
    with pytest.raises(ManifestError, match=r"consumers 'a' \(filter w1999\.a\) and 'b' \(filter w1999\.>\)"):
        load(tmp_path, workqueues(2000, overlap_at=1999))
    with pytest.raises(ManifestError, match="max_ack_pending is over the stream's consumer_limits"):
        load(tmp_path, workqueues(2000, limit_at=1500))


def test_a_read_of_thousands_of_streams_and_consumers_plans_nothing_when_they_match() -> None:
    count = 2500
    streams = [stream(f"S{i:04d}", consumers=1) for i in range(count)]
    for i, info in enumerate(streams):
        info["config"].update({"subjects": [f"s{i}.>"], "max_age": 86_400 * 10**9, "retention": "limits"})
    consumers = {
        f"S{i:04d}": [
            {
                "stream_name": f"S{i:04d}",
                "name": "w",
                "config": {"durable_name": "w", "ack_policy": "explicit", "ack_wait": 30 * 10**9, "max_deliver": 5},
            }
        ]
        for i in range(count)
    }
    driver, nc = driver_with(paged_lists(streams, consumers))
    desired = []
    for i in range(count):
        name = f"S{i:04d}"
        desired.append(Resource(Address(B, "stream", (name,)), {"subjects": [f"s{i}.>"], "max_age": 86_400 * 10**9}))
        desired.append(
            Resource(
                Address(B, "consumer", (name, "w")),
                {"ack_policy": "explicit", "ack_wait": 30 * 10**9, "max_deliver": 5},
                (Address(B, "stream", (name,)),),
            )
        )
    observed = {r.address: r for r in driver.read(desired, [])}
    driver.close()
    assert len(observed) == 2 * count
    assert all(not KINDS[want.kind].field_changes(want, observed[want.address]) for want in desired)
    assert sum(1 for s, _ in nc.requests if s.startswith("$JS.API.CONSUMER.LIST.")) == count
    assert sum(1 for s, _ in nc.requests if s == "$JS.API.STREAM.LIST") == 10  # 256 a page


# -- an apply of thousands of changes runs on the connection's event loop, not a thread each ------


def creates(count: int) -> list[Change]:
    return [
        Change(Address(B, "stream", (f"S{i:04d}",)), Action.CREATE, None, {"subjects": [f"s{i}.>"]})
        for i in range(count)
    ]


def test_a_parallel_apply_reports_every_change_and_raises_every_failure_in_plan_order() -> None:
    refused = {"S0007", "S0003", "S0150"}

    def handler(subject: str, body: dict[str, Any]) -> dict[str, Any]:
        if subject.rsplit(".", 1)[1] in refused:
            return {"error": {"code": 400, "err_code": 10065, "description": "subjects overlap"}}
        return {"config": body}

    driver, nc = driver_with(handler)
    changes = creates(200)
    done: list[Change] = []
    threads: set[str] = set()

    def report(change: Change) -> None:
        threads.add(threading.current_thread().name)
        done.append(change)

    with pytest.raises(BrokerError) as err:
        driver.apply(changes, 16, report)
    driver.close()
    assert len(done) == 197 and not {c.address.name[0] for c in done} & refused
    assert threads == {threading.current_thread().name}  # reported in the caller's thread
    text = str(err.value)
    assert text.startswith("broker 'n' (nats://127.0.0.1:4222): 3 changes failed:\n")
    assert [line.split(":")[0].strip() for line in text.splitlines()[1:]] == [
        "cannot create stream S0003",
        "cannot create stream S0007",
        "cannot create stream S0150",
    ]
    assert driver.failed == {(Address(B, "stream", (n,)), Action.CREATE) for n in refused}
    assert len(nc.requests) == 200


def slowed(nc: Any, seconds: float) -> None:
    """Each answer of `nc` takes `seconds`, as a server's would."""
    request = nc.request

    async def slow(subject: str, payload: bytes, timeout: float) -> Any:
        await asyncio.sleep(seconds)
        return await request(subject, payload, timeout)

    nc.request = slow


def test_a_parallel_apply_starts_no_change_once_asked_to_stop() -> None:
    driver, nc = driver_with(lambda s, b: {"config": b})
    slowed(nc, 0.01)
    done: list[Change] = []

    def report(change: Change) -> None:
        done.append(change)
        if len(done) == 5:
            driver.stopping.set()  # what Ctrl-C does

    driver.apply(creates(500), 8, report)
    driver.close()
    assert 5 <= len(done) < 50  # those in flight finish; none starts after
    assert len(nc.requests) == len(done)  # and each one that started was reported


def test_a_parallel_apply_keeps_at_most_parallelism_changes_in_flight() -> None:
    in_flight = {"now": 0, "most": 0}
    driver, nc = driver_with(lambda s, b: {"config": b})
    request = nc.request

    async def counted(subject: str, payload: bytes, timeout: float) -> Any:
        in_flight["now"] += 1
        in_flight["most"] = max(in_flight["most"], in_flight["now"])
        try:
            await asyncio.sleep(0.001)
            return await request(subject, payload, timeout)
        finally:
            in_flight["now"] -= 1

    nc.request = counted  # type: ignore[method-assign]
    done: list[Change] = []
    driver.apply(creates(300), 12, done.append)
    driver.close()
    assert len(done) == 300 and in_flight["most"] == 12


def test_covering_answers_as_trying_every_prune_scope() -> None:
    scopes = [
        PruneScope(),
        PruneScope(kinds=frozenset({"stream"}), prefix="S1"),
        PruneScope(kinds=frozenset({"consumer"}), parent=("S1",)),
        PruneScope(kinds=frozenset({"consumer"}), parent=("S2",), prefix="w"),
        PruneScope(parent=("S3", "x")),
    ]
    names = [("S1",), ("S2",), ("S10",), ("S1", "w"), ("S2", "w1"), ("S2", "v"), ("S3", "x", "y"), ("S3", "x"), ("T",)]
    addresses = [Address(B, kind, name) for kind in ("stream", "consumer", "kv_bucket") for name in names]
    for chosen in ([], scopes[:1], scopes[1:], scopes[2:4], scopes[4:], scopes):
        covers = covering(chosen)
        for address in addresses:
            assert covers(address) == any(s.covers(address) for s in chosen), (chosen, address)


def test_the_streams_that_capture_a_subject_are_found_as_trying_each_stream() -> None:
    patterns = ["a.>", "a.*", "a.b", "a.*.c", ">", "*", "b.>.c", "c..d", "a.b.>", "*.b", "x.y.z"]
    streams = {f"S{i}": _Stream(Address(B, "stream", (f"S{i}",)), [p]) for i, p in enumerate(patterns)}
    streams["BOTH"] = _Stream(Address(B, "stream", ("BOTH",)), ["q.r", "a.b"])
    lookup = _Lookup(streams)
    for subject in ["a", "a.b", "a.b.c", "a.x.c", "b.x.c", "b.c", "x.y.z", "q.r", "z", "a.b.c.d", "b.x.y.c"]:
        brute = sorted(n for n, s in streams.items() if any(subject_matches(p, subject) for p in s.subjects))
        assert lookup.capturing(subject) == brute, subject
