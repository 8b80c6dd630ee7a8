"""`topoctl graph`: the generic Mermaid / DOT renderer (goldens) and the CLI, offline."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from tests.cli import topoctl, write_manifest
from topoctl.model import Address, Resource
from topoctl.providers.base import Flow
from topoctl.render.graph import render_graph

from .test_render import check_golden

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _a(broker: str, kind: str, *name: str) -> Address:
    return Address(broker, kind, name)


def _sample() -> tuple[list[Resource], list[Flow], dict[str, str]]:
    orders = _a("shop", "exchange", "v", "orders")
    billing = _a("shop", "queue", "v", "billing")
    dlx = _a("shop", "exchange", "v", "billing.dlx")
    dlq = _a("shop", "queue", "v", "billing.dlq")
    lonely = _a("shop", "queue", "v", "lonely")
    odd = _a("shop", "queue", "v", 'we"ird <name>|end')
    topic = _a("cloud", "sns_topic", "order-events")
    sqs = _a("cloud", "sqs_queue", "billing-events")
    nodes = [Resource(a, {}) for a in (orders, billing, dlx, dlq, lonely, odd, topic, sqs)]
    flows = [
        Flow(orders, billing, "order.*"),
        Flow(orders, odd, "#"),
        Flow(billing, dlx, "dead letters", dead_letter=True),
        Flow(dlx, dlq, "billing"),
        Flow(_a("shop", "exchange", "v", "amq.topic"), billing, "audit.#"),  # an endpoint that is not a node
        Flow(topic, sqs),
    ]
    return nodes, flows, {"shop": "rabbitmq", "cloud": "aws"}


def test_mermaid_matches_golden() -> None:
    check_golden("graph.mmd", render_graph(*_sample(), fmt="mermaid"))


def test_dot_matches_golden() -> None:
    check_golden("graph.dot", render_graph(*_sample(), fmt="dot"))


def test_ids_are_safe_and_unique() -> None:
    text = render_graph(*_sample(), fmt="mermaid")
    ids = re.findall(r"^\s+(\S+)\[\"", text, re.M)
    assert len(ids) == len(set(ids)) == 9
    assert all(re.fullmatch(r"n_[A-Za-z0-9_]+", i) for i in ids)
    # Two addresses that reduce to the same id are told apart by a digest.
    a, b = _a("b", "queue", "v", "x.y"), _a("b", "queue", "v", "x_y")
    twin = render_graph([Resource(a, {}), Resource(b, {})], [], {}, fmt="mermaid")
    assert len(set(re.findall(r"(n_b_queue_v_x_y\w*)\[", twin))) == 2


def test_labels_cannot_break_out() -> None:
    text = render_graph(*_sample(), fmt="mermaid")
    assert '["queue v/we#quot;ird #lt;name#gt;#124;end"]' in text
    assert '-->|"#35;"|' in text  # a routing key `#` is not an entity start
    dot = render_graph(*_sample(), fmt="dot")
    assert 'label="queue v/we\\"ird <name>|end"' in dot


# A broker whose connection points nowhere: graph must never contact one.
RABBIT = {"type": "rabbitmq", "connection": {"url": "http://127.0.0.1:1", "username": "u", "password": "p"}}


def _one_broker(tmp_path: Path, name: str, broker: dict[str, Any]) -> Path:
    return write_manifest(tmp_path / "m.yaml", {"version": 1, "brokers": {name: broker}})


def test_graph_command_works_offline_on_the_examples(tmp_path: Path) -> None:
    vhost = {
        "exchanges": {"orders": {"type": "topic"}},
        "queues": {"billing": {"type": "quorum", "dead_letter": {"max_deliveries": 3}}},
        "bindings": [{"source": "orders", "destination": "billing", "routing_key": "order.*"}],
    }
    manifest = _one_broker(tmp_path, "r", {**RABBIT, "vhosts": {"v": vhost}})
    result = topoctl("graph", "-f", manifest)
    assert result.code == 0, str(result)
    assert result.stdout.startswith("flowchart LR\n")
    assert '-.->|"dead letters' in result.stdout and '-->|"order.*"|' in result.stdout
    dot = topoctl("graph", "-f", manifest, "--format", "dot")
    assert dot.code == 0 and dot.stdout.startswith("digraph topoctl {")
    assert "style=dashed" in dot.stdout


def test_graph_of_every_example_renders() -> None:
    for example in sorted(EXAMPLES.glob("*.yaml")):
        result = topoctl("graph", "-f", example)
        assert result.code == 0, f"{example}: {result}"
        assert "-->" in result.stdout or "-.->" in result.stdout, f"{example}: no edges\n{result}"


def test_unknown_graph_format_is_refused() -> None:
    result = topoctl("graph", "-f", EXAMPLES, "--format", "png")
    assert result.code == 1
    assert result.stderr.strip() == "Error: --format png: use one of mermaid, dot"


def test_kv_buckets_are_drawn_alone_object_stores_not(tmp_path: Path) -> None:
    # docs/graph.md: a KV bucket holds messages (and may mirror buckets); an object store holds files.
    nats = {
        "type": "nats",
        "connection": {"servers": ["nats://127.0.0.1:1"]},
        "key_value": {"sessions": {"history": 5}},
        "object_stores": {"artifacts": {}},
    }
    result = topoctl("graph", "-f", _one_broker(tmp_path, "edge", nats))
    assert result.code == 0, str(result)
    assert '["kv_bucket sessions"]' in result.stdout
    assert "artifacts" not in result.stdout and "object_store" not in result.stdout


def test_dead_letter_label_names_the_routing_key(tmp_path: Path) -> None:
    # docs/graph.md: `dead letters, key <key>` (the key `dead_letter:` sets is the queue's name).
    vhost = {"queues": {"billing": {"type": "quorum", "dead_letter": {}}}}
    result = topoctl("graph", "-f", _one_broker(tmp_path, "r", {**RABBIT, "vhosts": {"v": vhost}}))
    assert result.code == 0, str(result)
    assert 'n_r_queue_v_billing -.->|"dead letters, key billing"| n_r_exchange_v_billing_dlx' in result.stdout, (
        result.stdout
    )
    nodes = re.findall(r"^    (n_\w+)\[", result.stdout, re.M)
    assert nodes == sorted(nodes)  # sorted by address, as the doc says
