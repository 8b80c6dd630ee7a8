"""`topoctl export` against the real nats-server: streams, consumers, a hand-made dead-letter
stream, a KV bucket and an object store, all created through the JetStream API (not topoctl),
export to a manifest whose plan is empty."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.cli import topoctl
from tests.integration.export_support import assert_targets_cover, export_to_file
from tests.integration.test_nats_provider import NATS_URL, cleanup, js_ok, run

pytestmark = pytest.mark.integration
BROKER = "exp-nats"
CONNECTION = {"type": "nats", "connection": {"servers": [NATS_URL]}}
S = 1_000_000_000  # ns per second


@pytest.fixture
def space() -> Iterator[str]:
    """A name prefix for this test's streams; every stream holding it is deleted afterwards."""
    ns = f"x{uuid.uuid4().hex[:8]}"
    yield ns
    cleanup(ns)


def _build_by_hand(ns: str) -> dict[str, list[str]]:
    orders, dlq, mirror, agg = f"{ns}_ORDERS", f"{ns}_DLQ", f"{ns}_MIRROR", f"{ns}_AGG"
    js_ok(
        f"STREAM.CREATE.{orders}",
        {
            "name": orders,
            "subjects": [f"{ns}.orders.>"],
            "storage": "file",
            "max_age": 30 * 86400 * S,
            "max_bytes": 1024**3,
            "max_msg_size": 1024**2,
            "duplicate_window": 120 * S,
            "description": "built by hand",
            "metadata": {"owner": "export-test"},
        },
    )
    advisories = [f"$JS.EVENT.ADVISORY.CONSUMER.{k}.{orders}.billing" for k in ("MAX_DELIVERIES", "MSG_TERMINATED")]
    js_ok(f"STREAM.CREATE.{dlq}", {"name": dlq, "subjects": advisories, "max_age": 14 * 86400 * S})
    js_ok(f"STREAM.CREATE.{mirror}", {"name": mirror, "mirror": {"name": orders}, "storage": "memory"})
    js_ok(
        f"STREAM.CREATE.{agg}",
        {
            "name": agg,
            "subjects": [f"{ns}.agg.>"],
            "sources": [
                {
                    "name": orders,
                    "subject_transforms": [{"src": f"{ns}.orders.*", "dest": f"{ns}.agg.{{{{wildcard(1)}}}}"}],
                },
                {"name": "REMOTE", "external": {"api": "$JS.hub.API", "deliver": "hub.deliver"}},
            ],
            "subject_transform": {"src": f"{ns}.agg.>", "dest": f"{ns}.t.>"},
            "republish": {"dest": f"{ns}.rep.>", "headers_only": True},
            "consumer_limits": {"inactive_threshold": 1800 * S, "max_ack_pending": 500},
            "allow_direct": True,
            "metadata": {"k": "v"},
        },
    )
    consumers = {
        "billing": {
            "durable_name": "billing",
            "ack_policy": "explicit",
            "filter_subject": f"{ns}.orders.created",
            "max_deliver": 5,
            "backoff": [1 * S, 5 * S, 30 * S],
            "max_ack_pending": 100,
        },
        "audit": {
            "durable_name": "audit",
            "deliver_subject": f"{ns}.audit",
            "deliver_group": "audit",
            "ack_policy": "none",
            "deliver_policy": "new",
            "idle_heartbeat": 30 * S,
            "flow_control": True,
        },
    }
    for name, config in consumers.items():
        js_ok(f"CONSUMER.DURABLE.CREATE.{orders}.{name}", {"stream_name": orders, "config": config})

    async def buckets(nc: Any) -> None:
        from nats.js.api import KeyValueConfig, ObjectStoreConfig

        jsc = nc.jetstream()
        await jsc.create_key_value(KeyValueConfig(bucket=f"{ns}_sessions", history=5, ttl=3600, max_value_size=65536))
        await jsc.create_object_store(f"{ns}_artifacts", ObjectStoreConfig(description="blobs", max_bytes=1024**3))

    run(buckets)
    return {
        "streams": [orders, dlq, mirror, agg],
        "consumers": [f"{orders}/billing", f"{orders}/audit"],
        "key_value": [f"{ns}_sessions"],
        "object_stores": [f"{ns}_artifacts"],
    }


def test_export_of_hand_built_jetstream_plans_empty(tmp_path: Path, space: str) -> None:
    ns = space
    made = _build_by_hand(ns)
    result, exported = export_to_file(tmp_path, BROKER, CONNECTION)

    body = yaml.safe_load(result.stdout)["brokers"][BROKER]
    orders = body["streams"][f"{ns}_ORDERS"]
    assert orders["max_age"] == "30d" and orders["max_bytes"] == "1GiB"
    # Created with the server's own default window: not declared (docs/export.md, issue 18).
    assert "duplicate_window" not in orders
    assert orders["consumers"]["billing"]["backoff"] == ["1s", "5s", "30s"]
    assert body["key_value"][f"{ns}_sessions"]["ttl"] == "1h"
    assert body["streams"][f"{ns}_AGG"]["consumer_limits"] == {"inactive_threshold": "30m", "max_ack_pending": 500}
    # Buckets are exported as buckets, never as their KV_/OBJ_ streams.
    assert not [s for s in body.get("streams", {}) if s.startswith(("KV_", "OBJ_"))]

    targets: list[str] = []
    for stream in made["streams"]:
        targets += ["--target", f"{BROKER}/stream/{stream}", "--target", f"{BROKER}/consumer/{stream}"]
    targets += ["--target", f"{BROKER}/kv_bucket/{made['key_value'][0]}"]
    targets += ["--target", f"{BROKER}/object_store/{made['object_stores'][0]}"]
    # Narrowed to this test's objects: other tests create and delete streams on the same server.
    assert_targets_cover(exported, targets, lambda a: ns in "/".join(a.name))
    plan = topoctl("plan", "-f", exported, "--detailed-exitcode", *targets)
    assert plan.code == 0, f"the plan of the export is not empty:\n{plan}"
    assert "No changes." in plan.stdout
    # And the graph of the export shows the hand-made dead-letter stream as one.
    graph = topoctl("graph", "-f", exported)
    assert graph.code == 0, str(graph)
    assert f'n_{BROKER.replace("-", "_")}_consumer_{ns}_ORDERS_billing -.->|"dead letters"|' in graph.stdout


def test_export_leaves_out_what_the_server_filled_in(tmp_path: Path, space: str) -> None:
    """Only what differs from the server's defaults is written (issue 18, point 5): no 2m duplicate
    window on every stream, no 30s ack wait, 1000 acks pending or 512 waiting pulls on every
    consumer; values someone chose, equal to no default, are written. The export still plans empty."""
    ns = space
    plain, short, chosen = f"{ns}_PLAIN", f"{ns}_SHORT", f"{ns}_CHOSEN"
    js_ok(f"STREAM.CREATE.{plain}", {"name": plain, "subjects": [f"{ns}.plain.>"]})
    js_ok(f"STREAM.CREATE.{short}", {"name": short, "subjects": [f"{ns}.short"], "max_age": 30 * S})
    js_ok(
        f"STREAM.CREATE.{chosen}",
        {
            "name": chosen,
            "subjects": [f"{ns}.chosen"],
            "duplicate_window": 60 * S,
            "consumer_limits": {"max_ack_pending": 50, "inactive_threshold": 600 * S},
        },
    )
    consumers: dict[str, dict[str, dict[str, Any]]] = {
        plain: {
            "pull": {"ack_policy": "explicit"},
            "push": {"ack_policy": "explicit", "deliver_subject": f"{ns}.push"},
            "none": {"ack_policy": "none"},
            "pinned": {"ack_policy": "explicit", "priority_policy": "pinned_client", "priority_groups": ["g"]},
            "tuned": {"ack_policy": "explicit", "ack_wait": 45 * S, "max_ack_pending": 100, "max_waiting": 64},
        },
        chosen: {"limited": {"ack_policy": "explicit"}, "own": {"ack_policy": "explicit", "max_ack_pending": 20}},
    }
    for stream, configs in consumers.items():
        for name, config in configs.items():
            body = {"stream_name": stream, "config": {"durable_name": name, **config}}
            js_ok(f"CONSUMER.CREATE.{stream}.{name}", body)

    result, exported = export_to_file(tmp_path, BROKER, CONNECTION)
    streams = yaml.safe_load(result.stdout)["brokers"][BROKER]["streams"]
    assert streams[plain] == {
        "subjects": [f"{ns}.plain.>"],
        "consumers": {
            "none": {"ack_policy": "none"},
            "pinned": {"priority_groups": ["g"], "priority_policy": "pinned_client"},
            "pull": {},
            "push": {"deliver_subject": f"{ns}.push"},
            "tuned": {"ack_wait": "45s", "max_ack_pending": 100, "max_waiting": 64},
        },
    }
    # A window the server shortened to max_age is its default too; one someone chose is not.
    assert streams[short] == {"max_age": "30s", "subjects": [f"{ns}.short"]}
    assert streams[chosen]["duplicate_window"] == "1m"
    # A consumer takes its stream's consumer_limits when it sets none.
    assert streams[chosen]["consumers"] == {"limited": {}, "own": {"max_ack_pending": 20}}

    targets: list[str] = []
    for stream in (plain, short, chosen):
        targets += ["--target", f"{BROKER}/stream/{stream}", "--target", f"{BROKER}/consumer/{stream}"]
    assert_targets_cover(exported, targets, lambda a: ns in "/".join(a.name))
    plan = topoctl("plan", "-f", exported, "--detailed-exitcode", *targets)
    assert plan.code == 0, f"the plan of the export is not empty:\n{plan}"
