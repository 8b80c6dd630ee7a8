"""NATS at estate scale on the real server (issue 10): a parallel apply of hundreds of streams and
consumers (each change a task on the driver's one connection), and a plan whose consumer listings
go out as one batch. A signal in the middle of a parallel apply: tests/integration/test_apply_signals.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.cli import apply_ok, assert_empty, topoctl
from tests.integration.test_nats_provider import consumer_info, js, manifest, ns, server, write

__all__ = ["ns", "server"]  # fixtures used below
pytestmark = pytest.mark.integration
STREAMS = 300


def topology(ns: str, count: int) -> dict[str, Any]:
    return {
        f"{ns}_{i:03d}": {
            "subjects": [f"{ns}.{i}.>"],
            "storage": "memory",
            "consumers": {"work": {"ack_policy": "explicit", "max_deliver": 3}},
        }
        for i in range(count)
    }


def test_a_parallel_apply_of_hundreds_converges_and_its_plan_lists_every_consumer(tmp_path: Path, ns: str) -> None:
    streams = topology(ns, STREAMS)
    path = write(tmp_path, manifest(streams))
    result = apply_ok(path, "--parallelism", "32")
    assert f"Resources: {2 * STREAMS} added, 0 changed, 0 destroyed." in result.stderr
    assert_empty(path)
    assert consumer_info(f"{ns}_299", "work")["config"]["max_deliver"] == 3

    # A consumer changed by hand on one stream of hundreds is found by the batched listing.
    info = consumer_info(f"{ns}_150", "work")
    js(f"CONSUMER.DELETE.{ns}_150.work")
    changed = {**info["config"], "max_deliver": 7}
    assert "error" not in js(f"CONSUMER.CREATE.{ns}_150.work", {"stream_name": f"{ns}_150", "config": changed})
    plan = topoctl("plan", "-f", path, "--detailed-exitcode")
    assert plan.code == 2, str(plan)
    assert f"# n/consumer/{ns}_150/work will be updated in place" in plan.stdout
    assert "~ max_deliver = 7 -> 3" in plan.stdout and "Plan: 0 to add, 1 to change, 0 to destroy." in plan.stdout
