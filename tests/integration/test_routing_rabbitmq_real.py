"""`topoctl route` against the real RabbitMQ: random topologies are declared through pika, read back
through the driver (what `route --live` sees), and random messages are published; the queues that
received each message must be exactly those `route` predicted. Dead letters too: a message is
rejected from a queue and must land where `--dead-letter-of` said.

Bounded: a fixed number of examples, derandomized, so CI is deterministic and stays within seconds.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pika
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.integration.rabbitmq_support import AUTH, api, seg
from tests.integration.routing_support import Tally, examples_against_a_real_broker
from topoctl.errors import RouteError
from topoctl.model import Address
from topoctl.providers.rabbitmq.observe import (
    BINDING_COLUMNS,
    EXCHANGE_COLUMNS,
    POLICY_COLUMNS,
    QUEUE_COLUMNS,
    VHOST_COLUMNS,
    LiveState,
    observe,
)
from topoctl.providers.rabbitmq.routing import RabbitTopology
from topoctl.routing.model import Message

pytestmark = pytest.mark.integration

BROKER = "prop-rabbit"
TYPES = ("direct", "fanout", "topic", "headers")
KEY_WORDS = ("a", "b", "")
PATTERN_WORDS = ("a", "b", "", "*", "#")
HEADER_NAMES = ("h1", "h2", "x-h")
HEADER_VALUES = ("1", 1, True, "a")
X_MATCH = ("all", "any", "all-with-x", "any-with-x")


def _key(words: tuple[str, ...]) -> st.SearchStrategy[str]:
    return st.lists(st.sampled_from(words), max_size=3).map(".".join)


headers_st = st.dictionaries(st.sampled_from(HEADER_NAMES), st.sampled_from(HEADER_VALUES), max_size=3)


@dataclass
class Spec:
    exchanges: list[tuple[str, bool, int | None]]  # type, internal, alternate (index)
    queues: list[tuple[int | None, str | None]]  # dead-letter exchange (index, -1: default), key
    bindings: list[tuple[int, str, int, str, dict[str, Any]]]  # source, "q"/"x", destination, key, args
    policy: tuple[str, int, int] | None  # ("x", exchange, alternate) or ("q", queue, dead-letter exchange)
    messages: list[tuple[int, str, dict[str, Any]]] = field(default_factory=list)


@st.composite
def specs(draw: st.DrawFn) -> Spec:
    n_x = draw(st.integers(1, 4))
    n_q = draw(st.integers(1, 4))
    exchanges = [
        (
            draw(st.sampled_from(TYPES)),
            draw(st.booleans()) if i else False,  # e0 is always publishable
            draw(st.none() | st.integers(0, n_x - 1)),
        )
        for i in range(n_x)
    ]
    queues = [
        (draw(st.none() | st.integers(-1, n_x - 1)), draw(st.none() | _key(KEY_WORDS) | st.just("q0")))
        for _ in range(n_q)
    ]
    bindings = []
    for _ in range(draw(st.integers(1, 10))):
        source = draw(st.integers(0, n_x - 1))
        to_exchange = draw(st.booleans())
        destination = draw(st.integers(0, (n_x if to_exchange else n_q) - 1))
        args: dict[str, Any] = {}
        if exchanges[source][0] == "headers":
            args = draw(
                st.dictionaries(st.sampled_from(HEADER_NAMES), st.sampled_from(HEADER_VALUES), min_size=1, max_size=2)
            )
            mode = draw(st.none() | st.sampled_from(X_MATCH))
            if mode is not None:
                args["x-match"] = mode
        bindings.append((source, "x" if to_exchange else "q", destination, draw(_key(PATTERN_WORDS)), args))
    policy = draw(
        st.none()
        | st.tuples(st.just("x"), st.integers(0, n_x - 1), st.integers(0, n_x - 1))
        | st.tuples(st.just("q"), st.integers(0, n_q - 1), st.integers(0, n_x - 1))
    )
    publishable = [i for i, (_, internal, _) in enumerate(exchanges) if not internal]
    random_message = st.tuples(st.sampled_from(publishable), _key(KEY_WORDS), headers_st)
    # Half the messages are made from a binding: published where it starts when a client can, its
    # key with the wildcards filled in, some of its headers; so matches are common, not lucky.
    made = [
        st.tuples(
            st.just(source) if source in publishable else st.sampled_from(publishable),
            _instance(key),
            _subset(args),
        )
        for source, _, _, key, args in bindings
    ]
    message = random_message | st.one_of(made) if made else random_message
    messages = draw(st.lists(message, min_size=4, max_size=12))
    return Spec(exchanges, queues, bindings, policy, messages)


def _instance(pattern: str) -> st.SearchStrategy[str]:
    """A routing key the binding key matches: `*` one word, `#` none, one or two."""
    parts = []
    for word in pattern.split(".") if pattern else []:
        if word == "*":
            parts.append(st.sampled_from(KEY_WORDS).map(lambda w: [w]))
        elif word == "#":
            parts.append(st.lists(st.sampled_from(KEY_WORDS), max_size=2))
        else:
            parts.append(st.just([word]))
    return st.tuples(*parts).map(lambda ws: ".".join(w for group in ws for w in group))


def _subset(arguments: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    """Some of a binding's headers (x-match left out), one value maybe changed, maybe one more."""
    items = sorted((k, v) for k, v in arguments.items() if k != "x-match")
    return st.tuples(
        st.lists(st.sampled_from(items), unique=True) if items else st.just([]),
        st.dictionaries(st.sampled_from(HEADER_NAMES), st.sampled_from(HEADER_VALUES), max_size=1),
    ).map(lambda t: {**dict(t[0]), **t[1]})


class Rabbit:
    """One vhost for the whole module, one pika channel with publisher confirms."""

    def __init__(self) -> None:
        self.vhost = f"it-route-{uuid.uuid4().hex[:8]}"
        self.http = api()
        self.http.put(f"/api/vhosts/{seg(self.vhost)}").raise_for_status()
        self.http.put(
            f"/api/permissions/{seg(self.vhost)}/{AUTH[0]}", json={"configure": ".*", "write": ".*", "read": ".*"}
        ).raise_for_status()
        params = pika.ConnectionParameters(
            "127.0.0.1", virtual_host=self.vhost, credentials=pika.PlainCredentials(*AUTH)
        )
        self.connection = pika.BlockingConnection(params)
        self.channel = self.connection.channel()
        self.channel.confirm_delivery()

    def close(self) -> None:
        self.connection.close()
        self.http.delete(f"/api/vhosts/{seg(self.vhost)}")
        self.http.close()

    def observed(self) -> RabbitTopology:
        """The vhost as `route --live` sees it: the driver's listings (narrowed to this vhost, as the
        shared broker holds thousands of other tests' objects) through its own `observe`."""
        v = seg(self.vhost)
        listings = {
            "exchanges": f"/api/exchanges/{v}?columns={EXCHANGE_COLUMNS}",
            "queues": f"/api/queues/{v}?columns={QUEUE_COLUMNS}",
            "bindings": f"/api/bindings/{v}?columns={BINDING_COLUMNS}",
            "policies": f"/api/policies/{v}?columns={POLICY_COLUMNS}",
        }
        found = {key: self.http.get(path).raise_for_status().json() for key, path in listings.items()}
        vhosts = [self.http.get(f"/api/vhosts/{v}?columns={VHOST_COLUMNS}").raise_for_status().json()]
        return RabbitTopology(BROKER, observe(BROKER, LiveState(vhosts=vhosts, **found)))

    def settle(self, queues: list[str], expected: dict[str, set[str]]) -> dict[str, set[str]]:
        """Drains until every expected delivery arrived (dead-lettering is asynchronous), then once
        more after a grace period, so a delivery that was not expected is seen too."""
        found: dict[str, set[str]] = {}
        deadline = time.monotonic() + 15  # a loaded CI machine: dead-lettering can lag
        while time.monotonic() < deadline:
            for message_id, where in self.drain(queues).items():
                found.setdefault(message_id, set()).update(where)
            if all(want <= found.get(k, set()) for k, want in expected.items()):
                break
            time.sleep(0.02)
        time.sleep(0.1)
        for message_id, where in self.drain(queues).items():
            found.setdefault(message_id, set()).update(where)
        return found

    def drain(self, queues: list[str]) -> dict[str, set[str]]:
        """message id -> the queues it is in (empties them)."""
        found: dict[str, set[str]] = {}
        for queue in queues:
            while True:
                method, properties, _ = self.channel.basic_get(queue, auto_ack=True)
                if method is None:
                    break
                found.setdefault(properties.message_id, set()).add(queue)
        return found


@pytest.fixture(scope="module")
def rabbit() -> Iterator[Rabbit]:
    broker = Rabbit()
    yield broker
    broker.close()


TALLY = Tally("rabbitmq")


@pytest.fixture(scope="module", autouse=True)
def _tally() -> Iterator[None]:
    yield
    TALLY.save()


def _build(rabbit: Rabbit, spec: Spec, tag: str) -> tuple[list[str], list[str]]:
    ch = rabbit.channel
    xs = [f"{tag}x{i}" for i in range(len(spec.exchanges))]
    qs = [f"{tag}q{i}" for i in range(len(spec.queues))]
    for name, (kind, internal, alternate) in zip(xs, spec.exchanges, strict=True):
        arguments: dict[str, Any] = {"alternate-exchange": xs[alternate]} if alternate is not None else {}
        ch.exchange_declare(name, kind, durable=False, internal=internal, arguments=arguments)
    for name, (dlx, dlrk) in zip(qs, spec.queues, strict=True):
        arguments = {}
        if dlx is not None:
            arguments["x-dead-letter-exchange"] = "" if dlx == -1 else xs[dlx]
            if dlrk is not None:
                arguments["x-dead-letter-routing-key"] = f"{tag}{dlrk}" if dlrk == "q0" else dlrk
        ch.queue_declare(name, durable=False, arguments=arguments)
    for source, kind, destination, key, args in spec.bindings:
        if kind == "q":
            ch.queue_bind(qs[destination], xs[source], routing_key=key, arguments=args)
        else:
            ch.exchange_bind(xs[destination], xs[source], routing_key=key, arguments=args)
    if spec.policy is not None:
        what, target, value = spec.policy
        definition = {"alternate-exchange": xs[value]} if what == "x" else {"dead-letter-exchange": xs[value]}
        pattern = f"^{(xs if what == 'x' else qs)[target]}$"
        body = {"pattern": pattern, "apply-to": "exchanges" if what == "x" else "queues", "definition": definition}
        rabbit.http.put(f"/api/policies/{seg(rabbit.vhost)}/{tag}p", json=body).raise_for_status()
    return xs, qs


def _teardown(rabbit: Rabbit, xs: list[str], qs: list[str], tag: str) -> None:
    for name in qs:
        rabbit.channel.queue_delete(name)
    for name in xs:
        rabbit.channel.exchange_delete(name)
    rabbit.http.delete(f"/api/policies/{seg(rabbit.vhost)}/{tag}p")


def _names(route_addresses: tuple[str, ...]) -> set[str]:
    return {Address.parse(a).name[1] for a in route_addresses}


@examples_against_a_real_broker
@given(spec=specs())
def test_route_predicts_the_queues_rabbitmq_delivers_to(rabbit: Rabbit, spec: Spec) -> None:
    tag = f"t{uuid.uuid4().hex[:6]}-"
    xs, qs = _build(rabbit, spec, tag)
    try:
        topology = rabbit.observed()
        TALLY.topologies += 1
        tally = Tally("one")
        # Published messages: one id each, then every queue drained.
        predicted: dict[str, set[str]] = {}
        for n, (entry, key, headers) in enumerate(spec.messages):
            source = Address(BROKER, "exchange", (rabbit.vhost, xs[entry]))
            predicted[str(n)] = _names(topology.route(Message(BROKER, source, key, headers)).addresses)
            rabbit.channel.basic_publish(
                xs[entry], key, b"m", pika.BasicProperties(message_id=str(n), headers=headers or None)
            )
        got = rabbit.drain(qs)
        for n, (entry, key, headers) in enumerate(spec.messages):
            tally.compare(f"{xs[entry]} {key!r} {headers}", predicted[str(n)], got.get(str(n), set()))
            TALLY.routed += bool(predicted[str(n)])
        # Dead letters: a message put in each queue through the default exchange, then rejected. All
        # are fetched before any is rejected, so no dead letter is fetched in place of a queue's own.
        default = Address(BROKER, "exchange", (rabbit.vhost, ""))
        dead: dict[str, set[str]] = {}
        for i, queue in enumerate(qs):
            via_default = _names(topology.route(Message(BROKER, default, queue)).addresses)
            tally.compare(f"default exchange, key {queue}", via_default, {queue})
            origin = Address(BROKER, "queue", (rabbit.vhost, queue))
            dead[f"d{i}"] = _names(topology.route(Message(BROKER, origin, queue, dead_letter=True)).addresses)
            rabbit.channel.basic_publish("", queue, b"d", pika.BasicProperties(message_id=f"d{i}"))
        tags = []
        for queue in qs:
            method, _, _ = rabbit.channel.basic_get(queue, auto_ack=False)
            assert method is not None
            tags.append(method.delivery_tag)
        for delivery_tag in tags:
            rabbit.channel.basic_reject(delivery_tag, requeue=False)
        got = rabbit.settle(qs, dead)
        for i, queue in enumerate(qs):
            tally.compare(f"dead letters of {queue}", dead[f"d{i}"], got.get(f"d{i}", set()))
            TALLY.routed += bool(dead[f"d{i}"])
        TALLY.cases += tally.cases
        TALLY.disagreements += tally.disagreements
        tally.check()
    finally:
        _teardown(rabbit, xs, qs, tag)


# Matching tables: every binding key against every routing key, every x-match mode against every
# header set, on one exchange each, so each rule is checked whatever the random topologies drew.
PATTERNS = ("", "*", "#", "a", "a.*", "a.#", "#.a", "*.*", "a..b", "a.*.b", "#.#", "a.#.b", ".", "*.", "#.*", "*.#.*")
KEYS = ("", "a", "a.", ".a", "a..b", "a.b", ".", "a.x.b", "a.b.b", "b.a", "x", "a.b.c.d", "*", "#")
BINDING_ARGS: tuple[dict[str, Any], ...] = tuple(
    {**args, **({"x-match": mode} if mode else {})}
    for mode in (None, *X_MATCH)
    for args in ({"a": "1"}, {"a": "1", "x-h": "1"}, {"a": 1, "b": True}, {"x-h": "1"}, {"a": "1", "b": "2"})
)
HEADER_SETS: tuple[dict[str, Any], ...] = (
    {},
    {"a": "1"},
    {"a": 1},
    {"a": "1", "x-h": "1"},
    {"x-h": "1"},
    {"a": 1, "b": True},
    {"a": 1, "b": 1},
    {"a": "1", "b": "2", "c": "3"},
    {"b": "2"},
    {"a": "2", "b": "2"},
    {"x-match": "all", "a": "1"},
)


def test_topic_and_headers_matching_tables_agree_with_the_broker(rabbit: Rabbit) -> None:
    tag = f"t{uuid.uuid4().hex[:6]}-"
    ch = rabbit.channel
    ch.exchange_declare(f"{tag}topic", "topic", durable=False)
    ch.exchange_declare(f"{tag}headers", "headers", durable=False)
    queues = [f"{tag}p{i}" for i in range(len(PATTERNS))] + [f"{tag}h{i}" for i in range(len(BINDING_ARGS))]
    try:
        for i, pattern in enumerate(PATTERNS):
            ch.queue_declare(f"{tag}p{i}", durable=False)
            ch.queue_bind(f"{tag}p{i}", f"{tag}topic", routing_key=pattern)
        for i, args in enumerate(BINDING_ARGS):
            ch.queue_declare(f"{tag}h{i}", durable=False)
            ch.queue_bind(f"{tag}h{i}", f"{tag}headers", arguments=args)
        topology = rabbit.observed()
        sent: list[tuple[str, str, dict[str, Any]]] = [("topic", k, {}) for k in KEYS]
        sent += [("headers", "", h) for h in HEADER_SETS]
        predicted = {}
        for n, (kind, key, headers) in enumerate(sent):
            source = Address(BROKER, "exchange", (rabbit.vhost, f"{tag}{kind}"))
            predicted[str(n)] = _names(topology.route(Message(BROKER, source, key, headers)).addresses)
            properties = pika.BasicProperties(message_id=str(n), headers=headers or None)
            ch.basic_publish(f"{tag}{kind}", key, b"m", properties)
        got = rabbit.drain(queues)
        tally = Tally("one")
        for n, (kind, key, headers) in enumerate(sent):
            tally.compare(f"{kind} {key!r} {headers}", predicted[str(n)], got.get(str(n), set()))
            TALLY.routed += bool(predicted[str(n)])
        TALLY.cases += tally.cases
        tally.check()
    finally:
        for name in queues:
            ch.queue_delete(name)
        ch.exchange_delete(f"{tag}topic")
        ch.exchange_delete(f"{tag}headers")


def test_internal_exchanges_are_refused_like_the_broker_refuses_them(rabbit: Rabbit) -> None:
    tag = f"t{uuid.uuid4().hex[:6]}-"
    rabbit.channel.exchange_declare(f"{tag}in", "fanout", durable=False, internal=True)
    try:
        topology = rabbit.observed()
        with pytest.raises(RouteError, match="internal"):
            topology.route(Message(BROKER, Address(BROKER, "exchange", (rabbit.vhost, f"{tag}in")), "k"))
        channel = rabbit.connection.channel()
        with pytest.raises(pika.exceptions.ChannelClosedByBroker, match="ACCESS_REFUSED"):
            channel.confirm_delivery()
            channel.basic_publish(f"{tag}in", "k", b"m")
    finally:
        rabbit.channel.exchange_delete(f"{tag}in")


def test_live_route_cli_reads_the_broker(rabbit: Rabbit, tmp_path: Any) -> None:
    """`topoctl route --live` on objects the manifest does not declare: only the live read knows them."""
    from tests.cli import topoctl
    from tests.integration.rabbitmq_support import manifest_file

    tag = f"t{uuid.uuid4().hex[:6]}-"
    ch = rabbit.channel
    ch.exchange_declare(f"{tag}orders", "topic", durable=False)
    ch.queue_declare(f"{tag}billing", durable=False)
    ch.queue_bind(f"{tag}billing", f"{tag}orders", routing_key="order.*")
    try:
        path = manifest_file(tmp_path, {rabbit.vhost: {}})
        source = f"{BROKER.replace('prop-rabbit', 'it-rabbit')}/exchange/{rabbit.vhost}/{tag}orders"
        live = topoctl(
            "route", "-f", path, "--live", "--from", source, "--routing-key", "order.paid", "--format", "json"
        )
        assert live.code == 0, str(live)
        assert [d["address"] for d in live.json["destinations"]] == [f"it-rabbit/queue/{rabbit.vhost}/{tag}billing"]
        offline = topoctl("route", "-f", path, "--from", source, "--routing-key", "order.paid")
        assert offline.code == 1 and "no exchange" in offline.stderr, str(offline)
        missed = topoctl("route", "-f", path, "--live", "--from", source, "--routing-key", "invoice.paid")
        assert missed.code == 3 and "(unroutable)" in missed.stdout, str(missed)
    finally:
        ch.queue_delete(f"{tag}billing")
        ch.exchange_delete(f"{tag}orders")


_ = httpx  # the management API client type, used through rabbitmq_support


def test_plan_lists_what_an_edit_reroutes_and_is_quiet_after_apply(tmp_path: Any, vhost: str) -> None:
    """The plan's routing section made from the live broker, through the CLI, as a reviewer sees it."""
    from tests.cli import apply_ok, plan_json, topoctl
    from tests.integration.rabbitmq_support import manifest_file
    from tests.unit.test_plan_schema import assert_valid_plan

    def vhosts(paid_to: str) -> dict[str, Any]:
        return {
            vhost: {
                "prune": True,
                "exchanges": {"orders": {"type": "topic"}},
                "queues": {"billing": {}, "shipping": {}},
                "bindings": [
                    {"source": "orders", "destination": "billing", "routing_key": "order.*"},
                    {"source": "orders", "destination": "shipping", "routing_key": paid_to},
                ],
            }
        }

    apply_ok(manifest_file(tmp_path, vhosts("order.paid")))
    edited = manifest_file(tmp_path, vhosts("order.shipped"), name="edited.yaml")
    saved = tmp_path / "plan.json"
    result = topoctl("plan", "-f", edited, "--format", "json", "-o", saved)
    assert result.code == 0, str(result)
    assert_valid_plan(result.json)
    source = f"it-rabbit/exchange/{vhost}/orders"
    billing, shipping = f"it-rabbit/queue/{vhost}/billing", f"it-rabbit/queue/{vhost}/shipping"
    assert [(r["from"], r["label"], r["before"], r["after"]) for r in result.json["routing_changes"]] == [
        (source, "order.paid", [billing, shipping], [billing]),
        (source, "order.shipped", [billing], [billing, shipping]),
    ]
    text = topoctl("show", saved)
    assert f"  {source}\n    order.paid     {vhost}/billing, {vhost}/shipping -> {vhost}/billing\n" in text.stdout
    applied = topoctl("apply", saved, "--allow-destructive")
    assert applied.code == 0, str(applied)
    after = plan_json(edited)
    assert after.code == 0 and "routing_changes" not in after.json, str(after)
