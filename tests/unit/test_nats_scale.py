"""The NATS provider at estate scale (issue 10): thousands of streams compiled, read and planned
alike, with the checks that used to walk every declared object once per stream."""

from __future__ import annotations

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


def test_a_parallel_apply_starts_no_change_once_asked_to_stop() -> None:
    driver, nc = driver_with(lambda s, b: {"config": b})
    nc.delay = 0.01
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
    driver, nc = driver_with(lambda s, b: {"config": b})
    nc.delay = 0.001
    done: list[Change] = []
    updates = [
        Change(Address(B, "stream", (f"U{i}",)), Action.UPDATE, {"max_msgs": 1}, {"max_msgs": 2}) for i in range(30)
    ]
    driver.apply([*creates(300), *updates], 12, done.append)
    driver.close()
    assert len(done) == 330 and nc.most_in_flight == 12


def test_creates_go_on_one_reply_subscription_and_updates_as_requests_of_their_own() -> None:
    driver, nc = driver_with(lambda s, b: {"config": {"name": s.rsplit(".", 1)[1], **b}})
    consumers = [
        Change(Address(B, "consumer", (f"S{i:04d}", "c")), Action.CREATE, None, {"max_deliver": 5}) for i in range(50)
    ]
    sealed = Change(Address(B, "stream", ("SEALED",)), Action.CREATE, None, {"subjects": ["x"], "sealed": True})
    update = Change(Address(B, "stream", ("OLD",)), Action.UPDATE, {"max_msgs": 1}, {"max_msgs": 2})
    done: list[Change] = []
    driver.apply([*creates(50), *consumers, sealed, update], 8, done.append)
    driver.close()
    assert len(done) == 102
    assert nc.published == 100  # a create of a sealed stream is sealed after: a request of its own
    asked = dict(nc.requests)
    assert asked["$JS.API.CONSUMER.CREATE.S0007.c"] == {
        "stream_name": "S0007",
        "config": {"durable_name": "c", "ack_policy": "explicit", "max_deliver": 5},
        "action": "create",
    }
    assert asked["$JS.API.STREAM.CREATE.S0003"] == {"name": "S0003", "subjects": ["s3.>"]}
    assert [s for s, _ in nc.requests if "SEALED" in s] == [
        "$JS.API.STREAM.CREATE.SEALED",
        "$JS.API.STREAM.INFO.SEALED",
        "$JS.API.STREAM.UPDATE.SEALED",
    ]
    assert [s for s, _ in nc.requests if "OLD" in s] == ["$JS.API.STREAM.INFO.OLD", "$JS.API.STREAM.UPDATE.OLD"]


def test_a_create_the_server_cannot_take_yet_is_tried_again_and_counted_by_the_retry_policy() -> None:
    busy = {"S0004": 1}

    def handler(subject: str, body: dict[str, Any]) -> dict[str, Any]:
        name = subject.rsplit(".", 1)[1]
        if busy.get(name):
            busy[name] -= 1
            return {"error": {"code": 503, "err_code": 10008, "description": "JetStream temporarily unavailable"}}
        return {"config": body}

    driver, nc = driver_with(handler)
    done: list[Change] = []
    driver.apply(creates(40), 8, done.append)
    driver.close()
    assert len(done) == 40 and driver.retry.retries == 1
    assert [s for s, _ in nc.requests].count("$JS.API.STREAM.CREATE.S0004") == 2


def test_creates_whose_answer_never_came_are_tried_again_one_by_one() -> None:
    driver, nc = driver_with(lambda s, b: {"config": b})
    nc.lose = 3  # the first three answers are lost: the batch times out waiting for them

    async def quick_timeout() -> None:
        api = await driver._connection()
        api.timeout = 0.3

    driver._run(quick_timeout())
    done: list[Change] = []
    driver.apply(creates(40), 8, done.append)
    driver.close()
    assert sorted(c.address.name[0] for c in done) == [f"S{i:04d}" for i in range(40)]
    assert driver.retry.retries == 3  # each of the three lost ones, once
    assert nc.published == 40  # and the batch sent every one, the lost ones tried again on their own


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
