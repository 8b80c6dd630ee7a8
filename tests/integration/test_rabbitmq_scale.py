"""One RabbitMQ vhost at estate scale (issue 10): 1,000 exchanges, 5,000 queues, 4,000 bindings.

A correctness test, not a timing one: a bulk import's time grows with its size, so one import of
thousands of objects outlasted the per-request timeout and the apply failed after the vhost. The
timeout here is small (4 s) so the failure does not depend on how loaded the machine is: one
import of the 6,000 exchanges and queues takes about 9 s on the local broker. The imports are
awaited for as long as their size needs, in two chunks (9,500 cost units).
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.cli import apply_ok, assert_empty, write_manifest
from tests.integration.rabbitmq_support import BROKER, document, seg

pytestmark = pytest.mark.integration

EXCHANGES, QUEUES, BINDINGS = 1_000, 5_000, 4_000


def test_ten_thousand_objects_apply_with_a_timeout_sized_for_small_calls(
    tmp_path: Path, client: httpx.Client, vhost: str
) -> None:
    body = {
        "exchanges": {f"ex.{i}": {"type": "topic"} for i in range(EXCHANGES)},
        "queues": {f"q.{i}": {"arguments": {"x-max-length": 10_000}} for i in range(QUEUES)},
        "bindings": [
            {"source": f"ex.{i % EXCHANGES}", "destination": f"q.{i}", "routing_key": f"k.{i}.#"}
            for i in range(BINDINGS)
        ],
    }
    doc = document({vhost: body})
    doc["brokers"][BROKER]["connection"]["timeout"] = "4s"
    path = write_manifest(tmp_path / "estate.yaml", doc)

    result = apply_ok(path)
    assert f"Resources: {EXCHANGES + QUEUES + BINDINGS + 1} added" in result.stderr  # + the vhost

    live = client.get(f"/api/definitions/{seg(vhost)}", timeout=60).json()
    assert len(live["exchanges"]) == EXCHANGES
    assert len(live["queues"]) == QUEUES
    assert len(live["bindings"]) == BINDINGS
    assert {q["arguments"]["x-max-length"] for q in live["queues"]} == {10_000}
    assert_empty(path)
