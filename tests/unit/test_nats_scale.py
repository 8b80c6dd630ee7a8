"""The NATS provider at estate scale (issue 10): thousands of streams compiled, read and planned
alike, with the checks that used to walk every declared object once per stream."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.unit.test_nats_driver import driver_with, paged_lists, stream
from topoctl.errors import ManifestError
from topoctl.manifest.loader import load_manifest
from topoctl.model import Address, Resource
from topoctl.providers.nats.kinds import KINDS

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
