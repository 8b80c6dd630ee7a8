"""RabbitMQ routing semantics (pure). The topic and headers tables are what RabbitMQ 3.10.8 did
(tests/integration/test_routing_rabbitmq_real.py checks them against the broker on every run)."""

from __future__ import annotations

from typing import Any

import pytest

from topoctl.errors import RouteError
from topoctl.model import JSON, Address, Resource
from topoctl.providers.rabbitmq.routing import ROUTER, RabbitTopology, headers_match, topic_matches
from topoctl.routing.model import ALTERNATE, DEAD_LETTERS, Message, Request

B, V = "r", "v"

# Routing key -> the binding keys (of PATTERNS) that match it, as the broker answered.
PATTERNS = ["", "*", "#", "a.*", "a.#", "#.a", "*.*", "a..b", "a.*.b", "#.#", "a.#.b", ".", "*.", "#.*"]
BROKER_ANSWERS = {
    "": ["", "#", "#.#"],
    "a": ["*", "#", "a.#", "#.a", "#.#", "#.*"],
    "a.": ["#", "a.*", "a.#", "*.*", "#.#", "*.", "#.*"],
    ".a": ["#", "#.a", "*.*", "#.#", "#.*"],
    "a..b": ["#", "a.#", "a..b", "a.*.b", "#.#", "a.#.b", "#.*"],
    "a.b": ["#", "a.*", "a.#", "*.*", "#.#", "a.#.b", "#.*"],
    ".": ["#", "*.*", "#.#", ".", "*.", "#.*"],
    "a.x.b": ["#", "a.#", "a.*.b", "#.#", "a.#.b", "#.*"],
    "b.a": ["#", "#.a", "*.*", "#.#", "#.*"],
    "x": ["*", "#", "#.#", "#.*"],
}


@pytest.mark.parametrize("key", sorted(BROKER_ANSWERS))
def test_topic_matching_is_the_brokers(key: str) -> None:
    assert [p for p in PATTERNS if topic_matches(p, key)] == BROKER_ANSWERS[key]


@pytest.mark.parametrize(
    ("arguments", "headers", "matches"),
    [
        ({"x-match": "all", "a": "1", "x-foo": "1"}, {"a": "1"}, True),  # x- arguments ignored
        ({"x-match": "all-with-x", "a": "1", "x-foo": "1"}, {"a": "1"}, False),
        ({"x-match": "all-with-x", "a": "1", "x-foo": "1"}, {"a": "1", "x-foo": "1"}, True),  # x-match not compared
        ({"x-match": "any", "x-foo": "1"}, {"x-foo": "1"}, False),
        ({"x-match": "any-with-x", "x-foo": "1"}, {"x-foo": "1"}, True),
        ({"a": "1", "b": "2"}, {"a": "1"}, False),  # no x-match: all
        ({"x-match": "any", "a": "1", "b": "2"}, {"a": "1"}, True),
        ({"x-match": "any"}, {"a": "1"}, False),  # any of nothing
        ({"x-match": "all"}, {}, True),  # all of nothing
        ({"x-match": "bogus", "a": "1"}, {"a": "1"}, True),  # legacy: all
        ({"p": None}, {"p": "zz"}, True),  # a void argument: presence only
        ({"p": None}, {}, False),
        ({"n": 1}, {"n": 1}, True),
        ({"n": 1}, {"n": 1.0}, True),  # Erlang ==
        ({"n": 1}, {"n": "1"}, False),
        ({"n": 1}, {"n": True}, False),
        ({"n": True}, {"n": 1}, False),
        ({"n": True}, {"n": True}, True),
    ],
)
def test_headers_matching_is_the_brokers(arguments: dict[str, JSON], headers: dict[str, JSON], matches: bool) -> None:
    assert headers_match(arguments, headers) is matches


def ex(name: str, kind: str = "direct", internal: bool = False, **arguments: JSON) -> Resource:
    attrs = {"type": kind, "durable": True, "auto_delete": False, "internal": internal, "arguments": arguments}
    return Resource(Address(B, "exchange", (V, name)), attrs)


def q(name: str, **arguments: JSON) -> Resource:
    return Resource(Address(B, "queue", (V, name)), {"type": "classic", "arguments": arguments})


def bind(source: str, destination: str, key: str = "", to: str = "queue", **arguments: JSON) -> Resource:
    attrs = {"source": source, "destination": destination, "destination_type": to, "routing_key": key}
    return Resource(Address(B, "binding", (V, source, to, destination, key, "")), {**attrs, "arguments": arguments})


def policy(name: str, pattern: str, apply_to: str, priority: int = 0, **definition: JSON) -> Resource:
    attrs = {"pattern": pattern, "apply_to": apply_to, "priority": priority, "definition": definition}
    return Resource(Address(B, "policy", (V, name)), attrs)


VHOST = Resource(Address(B, "vhost", (V,)), {})
AE = {"alternate-exchange": "ay"}
DLX = "x-dead-letter-exchange"


def dead(topology: list[Resource], queue: str, key: str) -> Any:
    return RabbitTopology(B, [VHOST, *topology]).route(
        Message(B, Address(B, "queue", (V, queue)), key, dead_letter=True)
    )


def route(resources: list[Resource], source: str, key: str = "", **kwargs: Any) -> list[str]:
    topology = RabbitTopology(B, [VHOST, *resources])
    kind = "queue" if kwargs.get("dead_letter") else "exchange"
    found = topology.route(Message(B, Address(B, kind, (V, source)), key, **kwargs))
    return [d.address.name[1] for d in found.destinations]


def test_direct_fanout_and_exchange_to_exchange_with_a_cycle() -> None:
    topology = [
        ex("in"),
        ex("fan", "fanout"),
        q("a"),
        q("b"),
        bind("in", "a", "k"),
        bind("in", "fan", "k", to="exchange"),
        bind("fan", "b", "ignored"),
        bind("fan", "in", to="exchange"),  # back to the start: visited once
    ]
    assert route(topology, "in", "k") == ["a", "b"]
    assert route(topology, "in", "other") == []


def test_alternate_exchange_only_when_no_binding_matched() -> None:
    topology = [
        ex("orders", "topic", **{"alternate-exchange": "lost"}),
        ex("lost", "fanout", internal=True),
        ex("audit", "headers"),
        q("billing"),
        q("unrouted"),
        bind("orders", "billing", "order.*"),
        bind("orders", "audit", "audit.#", to="exchange"),
        bind("lost", "unrouted"),
    ]
    assert route(topology, "orders", "order.paid") == ["billing"]
    assert route(topology, "orders", "invoice") == ["unrouted"]
    # A binding to an exchange matched, though nothing downstream takes the message: no alternate.
    assert route(topology, "orders", "audit.x") == []
    found = RabbitTopology(B, [VHOST, *topology]).route(Message(B, Address(B, "exchange", (V, "orders")), "x"))
    assert [h.via for h in found.destinations[0].path] == ["", ALTERNATE, ""]


def test_the_argument_wins_over_the_policy_and_a_missing_alternate_drops() -> None:
    base = [q("x"), q("y"), ex("ax", "fanout"), ex("ay", "fanout"), bind("ax", "x"), bind("ay", "y")]
    by_policy = [*base, ex("in"), policy("p", "^in$", "exchanges", **AE)]
    assert route(by_policy, "in", "k") == ["y"]
    both = [
        *base,
        ex("in", **{"alternate-exchange": "ax"}),
        policy("p", "^in$", "exchanges", **{"alternate-exchange": "ay"}),
    ]
    assert route(both, "in", "k") == ["x"]
    queues_only = [*base, ex("in"), policy("p", "^in$", "queues", **AE)]
    assert route(queues_only, "in", "k") == []
    assert route([*base, ex("in", **{"alternate-exchange": "gone"})], "in", "k") == []


def test_default_exchange_routes_by_queue_name() -> None:
    assert route([q("billing")], "", "billing") == ["billing"]
    assert route([q("billing")], "", "nobody") == []


def test_internal_unknown_and_plugin_exchanges_are_refused() -> None:
    with pytest.raises(RouteError, match="internal"):
        route([ex("in", internal=True)], "in")
    with pytest.raises(RouteError, match="no exchange 'nope'"):
        route([], "nope")
    with pytest.raises(RouteError, match="does not model"):
        route([ex("hash", "x-consistent-hash"), q("a"), bind("hash", "a", "1")], "hash", "k")
    with pytest.raises(RouteError, match="no vhost"):
        RabbitTopology(B, []).route(Message(B, Address(B, "exchange", ("elsewhere", "x")), "k"))


def test_builtin_exchanges_exist_in_every_vhost() -> None:
    assert route([q("a"), bind("amq.topic", "a", "a.#")], "amq.topic", "a.b") == ["a"]
    with pytest.raises(RouteError, match="internal"):
        route([], "amq.rabbitmq.trace")


def test_dead_letters_take_exchange_and_key_from_argument_or_policy_separately() -> None:
    base = [ex("dlx", "direct"), q("dead-a"), q("dead-b"), bind("dlx", "dead-a", "a"), bind("dlx", "dead-b", "b")]
    # Exchange from the argument, routing key from the policy.
    mixed = [
        *base,
        q("work", **{"x-dead-letter-exchange": "dlx"}),
        policy("p", "^work$", "queues", **{"dead-letter-routing-key": "b"}),
    ]
    assert route(mixed, "work", "a", dead_letter=True) == ["dead-b"]
    # No dead-letter routing key: the message's own key.
    assert route([*base, q("work", **{DLX: "dlx"})], "work", "a", dead_letter=True) == ["dead-a"]
    # Both from the policy.
    by_policy = [
        *base,
        q("work"),
        policy("p", "^w", "all", **{"dead-letter-exchange": "dlx", "dead-letter-routing-key": "b"}),
    ]
    found = RabbitTopology(B, [VHOST, *by_policy]).route(
        Message(B, Address(B, "queue", (V, "work")), "a", dead_letter=True)
    )
    assert [d.address.name[1] for d in found.destinations] == ["dead-b"]
    assert [h.via for h in found.destinations[0].path] == ["", DEAD_LETTERS, ""]


def test_dead_letters_to_the_default_exchange_and_nowhere() -> None:
    assert route([q("work", **{"x-dead-letter-exchange": ""}), q("parking")], "work", "parking", dead_letter=True) == [
        "parking"
    ]
    topology = RabbitTopology(B, [VHOST, q("work")])
    found = topology.route(Message(B, Address(B, "queue", (V, "work")), "k", dead_letter=True))
    assert found.unroutable and "no dead-letter exchange" in found.notes[0]
    gone = RabbitTopology(B, [VHOST, q("work", **{"x-dead-letter-exchange": "gone"})])
    assert "does not exist" in gone.route(Message(B, Address(B, "queue", (V, "work")), "k", dead_letter=True)).notes[0]


def test_a_dead_letter_returns_to_its_queue_only_when_rejected() -> None:
    loop = [
        ex("dlx", "fanout"),
        q("work", **{"x-dead-letter-exchange": "dlx"}),
        q("other"),
        bind("dlx", "work"),
        bind("dlx", "other"),
    ]
    assert route(loop, "work", "k", dead_letter=True) == ["other", "work"]
    assert route(loop, "work", "k", dead_letter=True, reason="expired") == ["other"]


@pytest.mark.parametrize(
    ("request_", "error"),
    [
        (Request(routing_key="k"), "--from"),
        (Request(source="r/queue/v/q"), "expected an exchange address"),
        (Request(source="r/exchange/v/x", subject="a"), "--subject is not for a RabbitMQ"),
        (Request(source="r/exchange/v/x", attributes=("a=1",)), "--attribute is for SNS"),
        (Request(source="r/exchange/v/x", headers=("CC=a",)), "CC"),
        (Request(source="r/exchange/v/x", headers=("nameonly",)), "NAME=VALUE"),
        (Request(source="r/exchange/v/x", headers=("n:=nope",)), "not JSON"),
        (Request(source="r/exchange/v/x", reason="expired"), "--reason goes with --dead-letter-of"),
        (Request(source="r/exchange/v/x", dead_letter_of="r/queue/v/q"), "not both"),
        (Request(dead_letter_of="r/queue/v/q", reason="bored"), "--reason bored"),
        (Request(source="r/exchange/v/x", routing_key="k" * 256), "255 bytes"),
    ],
)
def test_request_errors(request_: Request, error: str) -> None:
    with pytest.raises(RouteError, match=error):
        ROUTER.message(B, request_)


def test_typed_headers_from_the_command_line() -> None:
    message = ROUTER.message(B, Request(source="r/exchange/v/x", headers=("a=1", "n:=1", "f:=true", "eq=x=y")))
    assert message.headers == {"a": "1", "n": 1, "f": True, "eq": "x=y"}
