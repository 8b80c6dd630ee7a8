"""Service Bus export (defaults left out, `$Default` only when it says something) and graph flows
(topic -> subscription -> forward target, dead-letter edges), offline."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from tests.cli import topoctl
from topoctl.export import raw_connection
from topoctl.model import Address, Resource
from topoctl.providers.azure_servicebus.export import export_broker
from topoctl.providers.azure_servicebus.flows import DEAD_LETTER_QUEUE, flows


def r(kind: str, *name: str, **attrs: Any) -> Resource:
    return Resource(Address("bus", kind, name), attrs)


def test_export_leaves_out_defaults_and_writes_durations_in_manifest_units() -> None:
    observed = [
        r(
            "queue",
            "orders",
            lock_duration=60_000,
            max_delivery_count=5,
            default_message_time_to_live="forever",
            max_size_in_megabytes=1024,
            status="Active",
            forward_to=None,
            user_metadata=None,
        ),
        r("queue", "short", default_message_time_to_live=90_000, lock_duration=60_000),
        r("topic", "parts", enable_partitioning=True, support_ordering=False),
        r("topic", "events"),
        r("subscription", "events", "all"),
        r("rule", "events", "all", "$Default", filter=True),
        r("subscription", "events", "none"),
        r("subscription", "events", "some", forward_to="orders"),
        r("rule", "events", "some", "big", sql_filter="amount > 100"),
        r("subscription", "events", "both"),
        r("rule", "events", "both", "$Default", filter=True),
        r("rule", "events", "both", "eu", correlation_filter={"label": "eu"}),
        r("subscription", "events", "custom"),
        r("rule", "events", "custom", "$Default", sql_filter="x = 1", action="SET y = 2"),
    ]
    section = export_broker("bus", observed)
    assert section["queues"] == {"orders": {"max_delivery_count": 5}, "short": {"default_message_time_to_live": "90s"}}
    assert section["topics"]["parts"] == {"enable_partitioning": True}
    subs = section["topics"]["events"]["subscriptions"]
    assert subs["all"] == {}
    assert subs["none"] == {"default_rule": False}
    assert subs["some"] == {"forward_to": "orders", "rules": {"big": {"sql_filter": "amount > 100"}}}
    assert subs["both"] == {"rules": {"$Default": {"filter": True}, "eu": {"correlation_filter": {"label": "eu"}}}}
    assert subs["custom"] == {"rules": {"$Default": {"sql_filter": "x = 1", "action": "SET y = 2"}}}


def test_an_exported_connection_string_never_carries_its_key(tmp_path: Path) -> None:
    key = "bGl0ZXJhbC1rZXk="
    path = tmp_path / "m.yaml"
    literal = f"Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=Root;SharedAccessKey={key}"
    doc = {"version": 1, "brokers": {"bus": {"type": "azure_servicebus", "connection": {"connection_string": literal}}}}
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    connection, warnings = raw_connection([str(path)], "bus")
    assert connection == {"connection_string": "${BUS_CONNECTION_STRING}"}
    assert key not in str(warnings)
    doc["brokers"]["bus"]["connection"] = {"connection_string": "${SB:-" + literal + "}"}
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    assert raw_connection([str(path)], "bus")[0] == {"connection_string": "${SB}"}


def test_flows_draw_subscriptions_forwarding_and_dead_letters() -> None:
    desired = [
        r("queue", "orders", max_delivery_count=5, dead_lettering_on_message_expiration=True),
        r("queue", "billing", forward_dead_lettered_messages_to="Orders"),
        r("topic", "events"),
        r("subscription", "events", "to-billing", forward_to="billing"),
        r("rule", "events", "to-billing", "created", sql_filter="type = 'created'"),
        r("subscription", "events", "elsewhere", forward_to="sb://other.servicebus.windows.net/q"),
        r("rule", "events", "elsewhere", "eu", correlation_filter={"label": "order", "properties": {"region": "eu"}}),
    ]
    edges = {(str(f.source), str(f.target), f.label, f.dead_letter) for f in flows(desired)}
    assert edges == {
        ("bus/topic/events", "bus/subscription/events/to-billing", "type = 'created'", False),
        ("bus/subscription/events/to-billing", "bus/queue/billing", "forwards", False),
        ("bus/topic/events", "bus/subscription/events/elsewhere", "label=order; region=eu", False),
        (
            "bus/subscription/events/elsewhere",
            "bus/entity/sb:%2F%2Fother.servicebus.windows.net%2Fq",
            "forwards",
            False,
        ),
        ("bus/queue/billing", "bus/queue/orders", "dead letters", True),
        (
            "bus/queue/orders",
            f"bus/{DEAD_LETTER_QUEUE}/orders/$DeadLetterQueue",
            "dead letters after 5 deliveries and expired messages",
            True,
        ),
    }


def test_graph_of_a_manifest(tmp_path: Path) -> None:
    doc = {
        "version": 1,
        "brokers": {
            "bus": {
                "type": "azure_servicebus",
                "connection": {"namespace": "ns"},
                "queues": {"q": {"dead_letter": {"max_deliveries": 3}}},
                "topics": {"t": {"subscriptions": {"s": {"forward_to": "q"}}}},
            }
        },
    }
    path = tmp_path / "m.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    result = topoctl("graph", "-f", path)
    assert result.code == 0, str(result)
    assert "n_bus_topic_t --> n_bus_subscription_t_s" in result.stdout
    assert '-.->|"dead letters after 3 deliveries and expired messages"|' in result.stdout
