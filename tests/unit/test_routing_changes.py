"""The plan's "Routing changes": representative messages routed before and after, only real
differences listed, nothing at all when nothing that routes changes."""

from __future__ import annotations

import copy
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

from tests.cli import topoctl, write_manifest
from topoctl.engine.diff import diff
from topoctl.manifest.loader import load_manifest
from topoctl.model import Action, Address, Change, FieldChange, Plan, Resource, RoutingChange
from topoctl.providers import provider
from topoctl.render import render
from topoctl.render.markdown import render_markdown
from topoctl.routing.changes import after_state, routing_changes

from .test_plan_schema import assert_valid_plan
from .test_render import check_golden

RABBIT = {"type": "rabbitmq", "connection": {"url": "http://127.0.0.1:15672", "username": "g", "password": "g"}}
AWS = {"type": "aws", "connection": {"region": "us-east-1", "endpoint_url": "http://127.0.0.1:5000"}}
NATS = {"type": "nats", "connection": {"servers": ["nats://127.0.0.1:4222"]}}


def base() -> dict[str, Any]:
    return {
        "version": 1,
        "brokers": {
            "shop": {
                **RABBIT,
                "vhosts": {
                    "v": {
                        "exchanges": {"orders": {"type": "topic"}},
                        "queues": {"billing": {"dead_letter": {}}, "shipping": {}, "audit": {}},
                        "bindings": [
                            {"source": "orders", "destination": "billing", "routing_key": "order.*"},
                            {"source": "orders", "destination": "shipping", "routing_key": "order.paid"},
                        ],
                    }
                },
            },
            "cloud": {
                **AWS,
                "sqs": {"queues": {"billing-events": {}, "all-events": {}}},
                "sns": {
                    "topics": {
                        "order-events": {
                            "subscriptions": [
                                {
                                    "protocol": "sqs",
                                    "endpoint": "billing-events",
                                    "filter_policy": {"type": ["created", "cancelled"]},
                                },
                                {"protocol": "sqs", "endpoint": "all-events"},
                            ]
                        }
                    }
                },
            },
            "edge": {
                **NATS,
                "streams": {
                    "ORDERS": {"subjects": ["orders.>"], "consumers": {"billing": {"filter_subject": "orders.created"}}}
                },
            },
        },
    }


def plan_of(tmp_path: Path, before: dict[str, Any], after: dict[str, Any], targets: tuple[str, ...] = ()) -> Plan:
    """The plan of `after` against brokers that hold what `before` declares."""
    old = load_manifest([str(write_manifest(tmp_path / "before.yaml", before))])
    new = load_manifest([str(write_manifest(tmp_path / "after.yaml", after))])
    observed = [r for r in old.resources if not r.absent]
    types = {name: spec.type for name, spec in new.brokers.items()}

    def spec_of(address: Address) -> Any:
        return provider(types[address.broker]).kinds[address.kind]

    prune = {name: spec.compiled.prune for name, spec in new.brokers.items()}
    plan = diff(new.resources, observed, spec_of, prune, targets)
    routing = routing_changes(plan.changes, observed, types, lambda a: spec_of(a).cascades)
    return replace(plan, routing=routing, brokers=types)


def lines(plan: Plan) -> list[tuple[str, str, tuple[str, ...], tuple[str, ...]]]:
    return [(r.source, r.label, r.before, r.after) for r in plan.routing]


def shop(name: str) -> str:
    return f"shop/queue/v/{name}"


def test_a_binding_key_edit_lists_the_messages_it_moves(tmp_path: Path) -> None:
    after = base()
    after["brokers"]["shop"]["vhosts"]["v"]["bindings"][1]["routing_key"] = "order.shipped"
    # Without prune the old binding stays: only the new key gains a route.
    assert lines(plan_of(tmp_path, base(), after)) == [
        ("shop/exchange/v/orders", "order.shipped", (shop("billing"),), (shop("billing"), shop("shipping"))),
    ]
    after["brokers"]["shop"]["vhosts"]["v"]["prune"] = True
    plan = plan_of(tmp_path, base(), after)
    assert lines(plan) == [
        ("shop/exchange/v/orders", "order.paid", (shop("billing"), shop("shipping")), (shop("billing"),)),
        ("shop/exchange/v/orders", "order.shipped", (shop("billing"),), (shop("billing"), shop("shipping"))),
    ]


def test_changes_that_route_nothing_differently_leave_the_plan_quiet(tmp_path: Path) -> None:
    after = base()
    after["brokers"]["shop"]["vhosts"]["v"]["queues"]["audit"] = {"arguments": {"x-max-length": 10}}
    after["brokers"]["shop"]["vhosts"]["v"]["queues"]["new"] = {}  # a queue no binding leads to
    after["brokers"]["edge"]["streams"]["ORDERS"]["max_age"] = "1d"
    plan = plan_of(tmp_path, base(), after)
    assert plan.changes and plan.routing == ()
    assert "Routing changes" not in render(plan, "text")
    assert "Routing changes" not in render(plan, "markdown")
    assert "routing_changes" not in json.loads(render(plan, "json"))


def test_a_deleted_queue_takes_the_routes_to_it(tmp_path: Path) -> None:
    after = base()
    vhost = after["brokers"]["shop"]["vhosts"]["v"]
    vhost["queues"]["shipping"] = {"state": "absent"}
    vhost["bindings"] = vhost["bindings"][:1]
    plan = plan_of(tmp_path, base(), after)
    assert ("shop/exchange/v/orders", "order.paid", (shop("billing"), shop("shipping")), (shop("billing"),)) in lines(
        plan
    )


def test_dead_letter_settings_from_a_policy(tmp_path: Path) -> None:
    before = base()
    before["brokers"]["shop"]["vhosts"]["v"]["queues"]["shipping"] = {}
    after = copy.deepcopy(before)
    after["brokers"]["shop"]["vhosts"]["v"]["policies"] = {
        "dlx": {
            "pattern": "^shipping$",
            "apply_to": "queues",
            "definition": {"dead-letter-exchange": "", "dead-letter-routing-key": "audit"},
        }
    }
    plan = plan_of(tmp_path, before, after)
    assert lines(plan) == [("shop/queue/v/shipping", '""', (), (shop("audit"),))]
    assert plan.routing[0].message == {"from": "shop/queue/v/shipping", "dead_letter": True, "key": ""}
    assert "dead letters of shop/queue/v/shipping" in render(plan, "text")


def test_a_narrowed_filter_policy(tmp_path: Path) -> None:
    after = base()
    after["brokers"]["cloud"]["sns"]["topics"]["order-events"]["subscriptions"][0]["filter_policy"] = {
        "type": ["created"]
    }
    plan = plan_of(tmp_path, base(), after)
    assert lines(plan) == [
        (
            "cloud/sns_topic/order-events",
            "type=cancelled",
            ("cloud/sqs_queue/all-events", "cloud/sqs_queue/billing-events"),
            ("cloud/sqs_queue/all-events",),
        )
    ]
    assert plan.routing[0].message == {"from": "cloud/sns_topic/order-events", "attributes": {"type": "cancelled"}}


def test_a_consumer_filter_and_a_new_stream(tmp_path: Path) -> None:
    after = base()
    streams = after["brokers"]["edge"]["streams"]
    streams["ORDERS"]["consumers"]["billing"]["filter_subject"] = "orders.paid"
    streams["INVOICES"] = {"subjects": ["invoices.>"], "consumers": {"all": {}}}  # new: nothing moved
    plan = plan_of(tmp_path, base(), after)
    assert lines(plan) == [
        ("", "orders.created", ("edge/consumer/ORDERS/billing", "edge/stream/ORDERS"), ("edge/stream/ORDERS",)),
        ("", "orders.paid", ("edge/stream/ORDERS",), ("edge/consumer/ORDERS/billing", "edge/stream/ORDERS")),
    ]


def test_new_streams_on_a_busy_server_build_no_topology(tmp_path: Path, monkeypatch: Any) -> None:
    from topoctl.providers.nats import routing as nats_routing

    built: list[int] = []
    real = nats_routing.NatsRouter.topology
    monkeypatch.setattr(
        nats_routing.NatsRouter, "topology", lambda self, b, rs: built.append(len(rs)) or real(self, b, rs)
    )
    after = base()
    streams = after["brokers"]["edge"]["streams"]
    for i in range(3):  # new streams, their consumers, a new bucket: none routes what exists today
        streams[f"NEW{i}"] = {"subjects": [f"new{i}.>"], "consumers": {"all": {}}}
    after["brokers"]["edge"]["key_value"] = {"settings": {}}
    assert plan_of(tmp_path, base(), after).routing == () and built == []
    # A consumer added to a live stream is compared, and so is a live bucket's change.
    streams["ORDERS"]["consumers"]["audit"] = {"filter_subject": "orders.>"}
    plan = plan_of(tmp_path, base(), after)
    assert len(built) == 2 and ("", "orders.created") in [(r.source, r.label) for r in plan.routing]
    before = copy.deepcopy(base())
    before["brokers"]["edge"]["key_value"] = {"settings": {"history": 1}}
    bucket = copy.deepcopy(before)
    bucket["brokers"]["edge"]["key_value"]["settings"]["history"] = 5
    built.clear()
    plan_of(tmp_path, before, bucket)
    assert len(built) == 2


def test_targets_narrow_the_after_state(tmp_path: Path) -> None:
    after = base()
    after["brokers"]["shop"]["vhosts"]["v"]["bindings"][1]["routing_key"] = "order.shipped"
    after["brokers"]["cloud"]["sns"]["topics"]["order-events"]["subscriptions"][0]["filter_policy"] = {
        "type": ["created"]
    }
    plan = plan_of(tmp_path, base(), after, targets=("cloud",))
    assert {r.broker for r in plan.routing} == {"cloud"}


def test_after_state_applies_fields_and_cascades() -> None:
    a = Address("b", "queue", ("v", "q"))
    binding = Resource(Address("b", "binding", ("v", "x", "queue", "q", "k", "")), {"source": "x"}, depends_on=(a,))
    observed = [Resource(a, {"type": "classic", "arguments": {"x": 1}}), binding]
    update = Change(a, Action.UPDATE, {}, {}, fields=(FieldChange("arguments", {"x": 1}, {"x": 2}),))
    assert {r.address: r.attrs for r in after_state(observed, [update], lambda _: True)}[a] == {
        "type": "classic",
        "arguments": {"x": 2},
    }
    replaced = Change(a, Action.REPLACE, {}, {"type": "quorum"})
    state = after_state(observed, [replaced], lambda _: True)
    assert [r.address for r in state] == [a]  # the binding the manifest does not declare goes with it


def _sample() -> Plan:
    routing = (
        RoutingChange(
            "shop",
            "shop/exchange/v/orders",
            "order.paid",
            {"from": "shop/exchange/v/orders", "key": "order.paid"},
            (shop("billing"), shop("shipping")),
            (shop("billing"),),
        ),
        RoutingChange(
            "shop",
            "shop/exchange/v/orders",
            "order.x",
            {"from": "shop/exchange/v/orders", "key": "order.x"},
            (),
            (shop("audit"),),
        ),
        RoutingChange(
            "shop",
            "shop/queue/v/billing",
            '""',
            {"from": "shop/queue/v/billing", "key": "", "dead_letter": True},
            (shop("billing.dlq"),),
            (),
        ),
        RoutingChange(
            "edge",
            "",
            "orders.created",
            {"key": "orders.created"},
            ("edge/consumer/ORDERS/billing", "edge/stream/ORDERS"),
            ("edge/stream/ORDERS",),
        ),
    )
    binding = Address("shop", "binding", ("v", "orders", "queue", "shipping", "order.paid", ""))
    change = Change(binding, Action.DELETE, {"source": "orders", "routing_key": "order.paid"}, None)
    return Plan(changes=(change,), routing=routing)


def test_text_and_markdown_sections_match_goldens() -> None:
    check_golden("plan-routing.txt", render(_sample(), "text"))
    check_golden("plan-routing.md", render(_sample(), "markdown"))


def test_json_carries_every_routing_change_and_reads_back() -> None:
    plan = _sample()
    document = json.loads(render(plan, "json"))
    assert_valid_plan(document)
    assert document["routing_changes"][0] == {
        "broker": "shop",
        "from": "shop/exchange/v/orders",
        "label": "order.paid",
        "message": {"from": "shop/exchange/v/orders", "key": "order.paid"},
        "before": ["shop/queue/v/billing", "shop/queue/v/shipping"],
        "after": ["shop/queue/v/billing"],
    }
    assert Plan.from_json(document).routing == plan.routing


def test_show_renders_the_section_of_a_saved_plan(tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    path.write_text(render(_sample(), "json"), encoding="utf-8")
    shown = topoctl("show", path)
    assert shown.code == 0, str(shown)
    assert "Routing changes" in shown.stdout and "order.paid  v/billing, v/shipping -> v/billing" in shown.stdout


def test_markdown_bounds_the_section() -> None:
    many = tuple(
        RoutingChange("shop", "shop/exchange/v/orders", f"key.{i}", {"key": f"key.{i}"}, (shop(f"q{i}"),), ())
        for i in range(400)
    )
    plan = replace(_sample(), routing=many)
    text = render_markdown(plan)
    assert text.count("| `shop/exchange/v/orders` |") == 50
    assert "350 more re-routed message(s) are in the JSON plan" in text
    small = render_markdown(plan, limit=3_000)
    assert len(small) <= 3_000 and "#### Routing changes" in small


def test_a_new_binding_on_an_exchange_with_thousands_is_found() -> None:
    """Keys come from the changed binding first: past the probe limit, those are the ones kept."""
    kinds = provider("rabbitmq").kinds

    def binding(queue: str, key: str) -> Resource:
        attrs = {
            "source": "big",
            "destination": queue,
            "destination_type": "queue",
            "routing_key": key,
            "arguments": {},
        }
        return Resource(Address("r", "binding", ("v", "big", "queue", queue, key, "")), attrs)

    exchange = Resource(
        Address("r", "exchange", ("v", "big")),
        {"type": "topic", "durable": True, "auto_delete": False, "internal": False, "arguments": {}},
    )
    queues = [
        Resource(Address("r", "queue", ("v", f"q{i}")), {"type": "classic", "arguments": {}}) for i in range(3000)
    ]
    observed = [Resource(Address("r", "vhost", ("v",)), {}), exchange, *queues]
    observed += [binding(f"q{i}", f"order.{i}.*") for i in range(3000)]
    plan = diff([*observed, binding("q0", "new.#")], observed, lambda a: kinds[a.kind])
    found = routing_changes(plan.changes, observed, {"r": "rabbitmq"}, lambda a: kinds[a.kind].cascades)
    assert [(r.label, r.before, r.after) for r in found] == [
        ("new", (), ("r/queue/v/q0",)),
        ("new.x", (), ("r/queue/v/q0",)),
    ]
