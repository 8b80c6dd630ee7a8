"""The RabbitMQ driver and live-state parsing with an in-memory transport: what a real broker
cannot show on demand (timeouts, refused connections, failed imports) and the exact wire format."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote

import pytest

from tests.unit.http_seam import Handler, reply
from topoctl.errors import BrokerError
from topoctl.model import Action, Address, Change, Resource
from topoctl.providers.jsonhttp import ConnectError, ReadError, ReadTimeout, Request, Response
from topoctl.providers.rabbitmq.client import ConnectionSettings, ManagementApi
from topoctl.providers.rabbitmq.driver import BULK_MIN, RabbitMQDriver
from topoctl.providers.rabbitmq.kinds import KINDS
from topoctl.providers.rabbitmq.observe import LiveState, observe

B = "r"


def make_driver(handler: Handler, **connection: Any) -> RabbitMQDriver:
    driver = RabbitMQDriver(B, {"url": "http://rabbit.example:15672", **connection})
    driver._api = ManagementApi(B, driver.settings, transport=handler)
    return driver


def queue_attrs(**arguments: Any) -> dict[str, Any]:
    return {"type": "classic", "durable": True, "auto_delete": False, "arguments": arguments}


# -- live state -> observed resources ---------------------------------------------------------


LIVE = LiveState(
    bindings=[
        {
            "source": "",
            "vhost": "v",
            "destination": "q",
            "destination_type": "queue",
            "routing_key": "q",
            "arguments": {},
        },
        {
            "source": "x",
            "vhost": "v",
            "destination": "q",
            "destination_type": "queue",
            "routing_key": "k",
            "arguments": {},
            "properties_key": "k",
        },
        {
            "source": "x",
            "vhost": "v",
            "destination": "x2",
            "destination_type": "exchange",
            "routing_key": "",
            "arguments": {"a": 1},
        },
        {
            "source": "amq.topic",
            "vhost": "v",
            "destination": "mine",
            "destination_type": "queue",
            "routing_key": "#",
            "arguments": {},
        },
        {
            "source": "amq.topic",
            "vhost": "v",
            "destination": "amq.gen-1",
            "destination_type": "queue",
            "routing_key": "#",
            "arguments": {},
        },
    ],
    policies=[
        {
            "vhost": "v",
            "name": "p",
            "pattern": "^a",
            "apply-to": "queues",
            "priority": 2,
            "definition": {"message-ttl": 5, "max-age": "24h"},
        }
    ],
    exchanges=[
        {
            "vhost": "v",
            "name": "",
            "type": "direct",
            "durable": True,
            "auto_delete": False,
            "internal": False,
            "arguments": {},
        },
        {
            "vhost": "v",
            "name": "amq.topic",
            "type": "topic",
            "durable": True,
            "auto_delete": False,
            "internal": False,
            "arguments": {},
        },
        {
            "vhost": "v",
            "name": "x",
            "type": "topic",
            "durable": True,
            "auto_delete": False,
            "internal": False,
            "arguments": {},
        },
        {
            "vhost": "v",
            "name": "x2",
            "type": "fanout",
            "durable": True,
            "auto_delete": False,
            "internal": True,
            "arguments": {},
        },
    ],
    queues=[
        {
            "vhost": "v",
            "name": "q",
            "type": "quorum",
            "durable": True,
            "auto_delete": False,
            "exclusive": False,
            "messages": 7,
            "consumers": 2,
            "arguments": {"x-queue-type": "quorum", "x-max-age": "168h"},
        },
        {
            "vhost": "v",
            "name": "mine",
            "type": "classic",
            "durable": False,
            "auto_delete": True,
            "exclusive": True,
            "arguments": {},
        },
        {
            "vhost": "v",
            "name": "amq.gen-1",
            "type": "classic",
            "durable": False,
            "auto_delete": True,
            "exclusive": True,
            "arguments": {},
        },
        {"vhost": "v", "name": "fresh", "durable": True, "auto_delete": False, "exclusive": False, "arguments": {}},
    ],
    vhosts=[{"name": "v", "description": "d", "tags": ["b", "a"]}, {"name": "/", "description": "", "tags": []}],
)


def test_observe_leaves_system_objects_out_and_normalises() -> None:
    observed = {str(r.address): r for r in observe(B, LIVE)}
    assert set(observed) == {
        "r/queue/v/q",
        "r/queue/v/fresh",
        "r/exchange/v/x",
        "r/exchange/v/x2",
        "r/binding/v/x/queue/q/k/",
        f"r/binding/v/x/exchange/x2//{_digest({'a': 1})}",
        "r/policy/v/p",
        "r/vhost/v",
        "r/vhost/%2F",
    }
    q = observed["r/queue/v/q"]
    assert q.attrs == {"type": "quorum", "durable": True, "auto_delete": False, "arguments": {"x-max-age": "7D"}}
    assert q.info == {"messages": 7, "consumers": 2}
    assert observed["r/queue/v/fresh"].info == {}  # no stats yet: nothing claimed
    assert observed["r/exchange/v/x2"].attrs["internal"] is True
    assert observed["r/exchange/v/x"].info == {"bindings": 2}
    assert observed["r/policy/v/p"].attrs == {
        "pattern": "^a",
        "apply_to": "queues",
        "priority": 2,
        "definition": {"message-ttl": 5, "max-age": "1D"},
    }
    assert observed["r/vhost/v"].attrs == {"description": "d", "tags": ["a", "b"]}
    assert observed["r/vhost/v"].info == {"queues": 2, "messages": 7}
    binding = observed["r/binding/v/x/queue/q/k/"]
    assert set(binding.depends_on) == {
        Address(B, "vhost", ("v",)),
        Address(B, "exchange", ("v", "x")),
        Address(B, "queue", ("v", "q")),
    }
    assert binding.info == {"properties_key": "k"}


def _digest(arguments: dict[str, Any]) -> str:
    from topoctl.providers.rabbitmq.kinds import arguments_digest

    return arguments_digest(arguments)


def test_at_risk_notes() -> None:
    q = Resource(Address(B, "queue", ("v", "q")), {}, info={"messages": 3, "consumers": 1})
    assert KINDS["queue"].at_risk(q) == ["3 messages will be lost", "1 consumer will be disconnected"]
    v = Resource(Address(B, "vhost", ("v",)), {}, info={"queues": 2, "messages": 1})
    assert KINDS["vhost"].at_risk(v) == [
        "every object of the vhost goes with it: 2 queues holding 1 message will be deleted"
    ]
    x = Resource(Address(B, "exchange", ("v", "x")), {}, info={"bindings": 0})
    assert KINDS["exchange"].at_risk(x) == []
    dlx = Resource(Address(B, "exchange", ("v", "x")), {}, info={"bindings": 1, "dead_letter_queues": ["a", "b"]})
    assert KINDS["exchange"].at_risk(dlx) == [
        "1 binding to or from it will be removed",
        "queues 'a', 'b' dead-letter into it: until it exists again, their dead letters are dropped",
    ]


def test_an_exchange_knows_the_queues_that_dead_letter_into_it() -> None:
    live = LiveState(
        exchanges=[{"vhost": "v", "name": "dlx", "type": "direct"}, {"vhost": "w", "name": "dlx", "type": "direct"}],
        queues=[
            {"vhost": "v", "name": "b", "arguments": {"x-dead-letter-exchange": "dlx"}},
            {"vhost": "v", "name": "a", "arguments": {"x-dead-letter-exchange": "dlx"}},
            {"vhost": "w", "name": "c", "arguments": {"x-dead-letter-exchange": ""}},
        ],
        vhosts=[],
        bindings=[],
        policies=[],
    )
    observed = {str(r.address): r.info for r in observe(B, live)}
    assert observed["r/exchange/v/dlx"] == {"bindings": 0, "dead_letter_queues": ["a", "b"]}
    assert observed["r/exchange/w/dlx"] == {"bindings": 0}


# -- connection settings and errors -----------------------------------------------------------


def test_credentials_in_the_url_are_used_but_never_shown() -> None:
    seen: list[Request] = []

    def handler(request: Request) -> Response:
        seen.append(request)
        return reply(401, json={"error": "not_authorised", "reason": "Login failed"})

    driver = make_driver(handler, url="https://admin:hunter2@rabbit.example:15671/mgmt/")
    assert driver.endpoint == "https://rabbit.example:15671/mgmt"
    assert driver.settings.username == "admin" and driver.settings.password == "hunter2"
    with pytest.raises(BrokerError) as err:
        driver.read([], [])
    assert "hunter2" not in str(err.value) and "admin:" not in str(err.value)
    assert "401" in str(err.value) and "'r'" in str(err.value)
    assert seen[0].raw_path.startswith("/mgmt/api/")
    assert seen[0].headers["authorization"].startswith("Basic ")


def test_refused_and_timed_out_connections_become_broker_errors() -> None:
    def refuse(request: Request) -> Response:
        raise ConnectError("[Errno 111] Connection refused")

    def hang(request: Request) -> Response:
        raise ReadTimeout("timed out")

    with pytest.raises(BrokerError, match=r"cannot connect: \[Errno 111\] Connection refused"):
        make_driver(refuse, password="pw-secret").read([], [])
    with pytest.raises(BrokerError, match="timed out") as err:
        make_driver(hang, password="pw-secret").read([], [])
    assert "pw-secret" not in str(err.value)
    assert "rabbit.example:15672" in str(err.value)


def test_settings_repr_hides_the_password() -> None:
    settings = ConnectionSettings.from_manifest({"url": "http://u:in-url@h:1", "password": "pw-field"})
    assert "pw-field" not in repr(settings) and "in-url" not in repr(settings)


def test_timeouts_are_bounded() -> None:
    settings = ConnectionSettings.from_manifest({"timeout": "30s"})
    assert settings.timeout == 30.0
    assert ConnectionSettings.from_manifest({}).timeout == 10.0


def test_a_non_json_reply_says_so() -> None:
    driver = make_driver(lambda request: reply(200, text="<html>"))
    with pytest.raises(BrokerError, match="not JSON"):
        driver.read([], [])


# -- writes -----------------------------------------------------------------------------------


def test_every_path_segment_is_percent_encoded() -> None:
    paths: list[str] = []

    def handler(request: Request) -> Response:
        paths.append(request.raw_path)
        if request.method == "GET":
            return reply(200, json=[{"routing_key": "k/ %", "arguments": {}, "properties_key": "k%2F+%25"}])
        return reply(201)

    driver = make_driver(handler)
    driver.apply_one(Change(Address(B, "queue", ("/", "a/b %#~")), Action.CREATE, None, queue_attrs()))
    binding = Address(B, "binding", ("/", "x/1", "queue", "q#", "k/ %", ""))
    attrs = {"source": "x/1", "destination": "q#", "destination_type": "queue", "routing_key": "k/ %", "arguments": {}}
    driver.apply_one(Change(binding, Action.DELETE, attrs, None))
    assert [p.split("?")[0] for p in paths] == [
        "/api/queues/%2F/a%2Fb%20%25%23~",
        "/api/bindings/%2F",  # the keys of the vhost's bindings, once (this one is not among them)
        "/api/bindings/%2F/e/x%2F1/q/q%23",
        "/api/bindings/%2F/e/x%2F1/q/q%23/k%252F%2B%2525",  # the live properties_key, verbatim
    ]


def test_queue_body_carries_the_type_in_x_queue_type() -> None:
    bodies: list[Any] = []

    def handler(request: Request) -> Response:
        bodies.append(json.loads(request.body or b""))
        return reply(201)

    make_driver(handler).apply_one(
        Change(Address(B, "queue", ("v", "q")), Action.CREATE, None, {**queue_attrs(a=1), "type": "quorum"})
    )
    assert bodies == [{"durable": True, "auto_delete": False, "arguments": {"a": 1, "x-queue-type": "quorum"}}]


def test_update_keeps_undeclared_fields() -> None:
    bodies: list[Any] = []

    def handler(request: Request) -> Response:
        bodies.append(json.loads(request.body or b""))
        return reply(204)

    before = {"description": "old", "tags": ["keep"]}
    make_driver(handler).apply_one(Change(Address(B, "vhost", ("v",)), Action.UPDATE, before, {"description": "new"}))
    assert bodies == [{"description": "new", "tags": ["keep"]}]


def test_delete_of_something_already_gone_succeeds() -> None:
    driver = make_driver(lambda request: reply(404, json={"error": "Object Not Found"}))
    driver.apply_one(Change(Address(B, "queue", ("v", "q")), Action.DELETE, queue_attrs(), None))


def test_broker_refusal_names_the_object_and_the_reason() -> None:
    def handler(request: Request) -> Response:
        return reply(400, json={"error": "bad_request", "reason": "inequivalent arg 'durable'"})

    with pytest.raises(BrokerError, match=r"creating queue 'q' in vhost 'v': HTTP 400: inequivalent arg 'durable'"):
        make_driver(handler).apply_one(Change(Address(B, "queue", ("v", "q")), Action.CREATE, None, queue_attrs()))


def test_a_failed_import_is_redone_object_by_object_to_name_the_culprit() -> None:
    calls: list[tuple[str, str]] = []

    def handler(request: Request) -> Response:
        calls.append((request.method, request.raw_path))
        if request.method == "POST":
            return reply(400, json={"reason": "import failed"})
        if request.raw_path.endswith("/bad"):
            return reply(400, json={"reason": "invalid arg 'x-max-priority'"})
        return reply(201)

    changes = [Change(Address(B, "queue", ("v", f"q{i}")), Action.CREATE, None, queue_attrs()) for i in range(BULK_MIN)]
    changes.append(Change(Address(B, "queue", ("v", "bad")), Action.CREATE, None, queue_attrs()))
    done: list[Change] = []
    with pytest.raises(BrokerError, match="creating queue 'bad' in vhost 'v': HTTP 400: invalid arg"):
        make_driver(handler).apply(changes, 1, done.append)
    assert calls[0] == ("POST", "/api/definitions/v")
    assert len(done) == BULK_MIN  # those before the culprit were done and reported


def test_small_waves_skip_the_import() -> None:
    methods: list[str] = []

    def handler(request: Request) -> Response:
        methods.append(request.method)
        return reply(201)

    changes = [Change(Address(B, "queue", ("v", f"q{i}")), Action.CREATE, None, queue_attrs()) for i in range(3)]
    make_driver(handler).apply(changes, 2, lambda c: None)
    assert methods == ["PUT"] * 3


def _listing_handler(calls: list[tuple[str, str]]) -> Handler:
    """Serves LIVE's listings; records every request as (method, raw path)."""
    listings: dict[str, list[Any]] = {
        "exchanges": LIVE.exchanges,
        "queues": LIVE.queues,
        "vhosts": LIVE.vhosts,
        "bindings": LIVE.bindings,
        "policies": LIVE.policies,
        "consumers": [{"queue": {"vhost": "v", "name": "q"}}],
        # What an export reads beyond those (a plan only when the manifest needs them).
        "operator-policies": [],
        "users": [],
        "user-limits": [],
        "vhost-limits": [],
        "permissions": [],
        "topic-permissions": [],
        "parameters/shovel": [],
        "parameters/federation-upstream": [],
    }

    def handler(request: Request) -> Response:
        calls.append((request.method, request.raw_path))
        path = unquote(request.path).removeprefix("/api/")
        collection, _, vhost = path.partition("/")
        if request.method == "GET" and collection == "definitions" and vhost:  # one vhost's, as exported
            kinds = ("exchanges", "queues", "bindings", "policies")
            return reply(200, json={k: [_exported(r) for r in listings[k] if r.get("vhost") == vhost] for k in kinds})
        if request.method == "GET" and vhost and collection in listings and "/" not in vhost:  # one vhost's
            return reply(200, json=[row for row in listings[collection] if row.get("vhost", vhost) == vhost])
        if request.method == "GET" and path == "whoami":
            return reply(200, json={"name": "guest", "tags": ["administrator"]})
        if request.method == "GET" and path in listings:
            return reply(200, json=listings[path])
        if request.method == "GET":  # the per-binding lookup of a driver that did not read
            return reply(200, json=[{"routing_key": "k", "arguments": {}, "properties_key": "k~1"}])
        return reply(204)

    return handler


def _exported(row: Mapping[str, Any]) -> dict[str, Any]:
    """A listing's row as a vhost's definitions hold it: no vhost, no key, no statistics."""
    return {k: v for k, v in row.items() if k not in ("vhost", "properties_key", "messages", "consumers")}


def test_read_lists_each_collection_once_and_bindings_are_deleted_after_one_listing_of_their_keys() -> None:
    calls: list[tuple[str, str]] = []
    driver = make_driver(_listing_handler(calls))
    queue = Resource(Address(B, "queue", ("v", "q")), {"type": "classic"})
    observed = {str(r.address): r for r in driver.read([queue], [])}
    # A plan reads the vhosts of its manifest only: their definitions and consumers, and the
    # message count of the one queue it replaces (quorum -> classic).
    assert sorted(path.split("?")[0] for _, path in calls) == [
        "/api/consumers/v",
        "/api/definitions/v",
        "/api/exchanges/v",
        "/api/queues/v/q",
        "/api/vhosts",
    ]
    assert observed["r/queue/v/q"].info["consumers"] == 1
    calls.clear()
    binding = observed["r/binding/v/x/queue/q/k/"]
    driver.apply_one(Change(binding.address, Action.DELETE, binding.attrs, None))
    driver.apply_one(Change(binding.address, Action.DELETE, binding.attrs, None))  # the vhost's keys: listed once
    assert [(m, p.split("?")[0]) for m, p in calls] == [
        ("GET", "/api/bindings/v"),
        ("DELETE", "/api/bindings/v/e/x/q/q/k"),
        ("DELETE", "/api/bindings/v/e/x/q/q/k"),
    ]
    calls.clear()
    driver.read([], [])  # an export reads every kind, each once, and who it connects as
    assert sorted(path.split("?")[0] for _, path in calls) == [
        "/api/bindings",
        "/api/consumers",
        "/api/exchanges",
        "/api/operator-policies",
        "/api/parameters/federation-upstream",
        "/api/parameters/shovel",
        "/api/permissions",
        "/api/policies",
        "/api/queues",
        "/api/topic-permissions",
        "/api/user-limits",
        "/api/users",
        "/api/vhost-limits",
        "/api/vhosts",
        "/api/whoami",
    ]
    calls.clear()
    driver.apply_one(Change(binding.address, Action.DELETE, binding.attrs, None))  # keys read with the export
    assert calls == [("DELETE", "/api/bindings/v/e/x/q/q/k")]


def test_definitions_that_leave_out_a_listed_exchange_give_way_to_the_listings() -> None:
    # Some versions leave internal exchanges (and with them, maybe, their bindings) out of a
    # vhost's definitions: the vhost is then read from its listings, not half from each.
    calls: list[tuple[str, str]] = []
    listings = _listing_handler(calls)

    def handler(request: Request) -> Response:
        if unquote(request.path) == "/api/definitions/v":
            calls.append((request.method, request.raw_path))
            return reply(200, json={"exchanges": [], "queues": [], "bindings": [], "policies": []})
        return listings(request)

    driver = make_driver(handler)
    observed = {str(r.address) for r in driver.read([Resource(Address(B, "queue", ("v", "q")), {})], [])}
    read = sorted(path.split("?")[0] for _, path in calls)
    assert {"/api/definitions/v", "/api/bindings/v", "/api/queues/v", "/api/policies/v"} <= set(read)
    assert "r/binding/v/x/queue/q/k/" in observed and "r/queue/v/q" in observed


def test_a_binding_not_read_by_this_driver_is_looked_up_before_its_delete() -> None:
    calls: list[tuple[str, str]] = []
    driver = make_driver(_listing_handler(calls))
    address = Address(B, "binding", ("v", "x", "queue", "q", "k", ""))
    driver.apply_one(Change(address, Action.DELETE, {}, None))
    # The keys of the vhost's bindings, listed once: this one's is the broker's own ("k").
    assert [(m, p.split("?")[0]) for m, p in calls] == [
        ("GET", "/api/bindings/v"),
        ("DELETE", "/api/bindings/v/e/x/q/q/k"),
    ]


def test_a_binding_with_a_dot_routing_key_cannot_be_deleted_and_says_so() -> None:
    calls: list[tuple[str, str]] = []
    driver = make_driver(_listing_handler(calls))
    address = Address(B, "binding", ("v", "x", "queue", "q", "..", ""))
    with pytest.raises(BrokerError, match="cannot be deleted through the management HTTP API"):
        driver.apply_one(Change(address, Action.DELETE, {}, None))
    assert calls == []


def test_plans_show_argument_and_policy_durations_and_sizes_as_manifests_write_them() -> None:
    from topoctl.engine.diff import diff
    from topoctl.render.text import render_change

    queue = Resource(
        Address(B, "queue", ("v", "q")),
        {**queue_attrs(**{"x-message-ttl": 3_600_000, "x-max-length-bytes": 1024**3, "x-max-length": 5})},
    )
    policy = Resource(
        Address(B, "policy", ("v", "p")),
        {"pattern": ".", "apply_to": "all", "priority": 0, "definition": {"expires": 86_400_000}},
    )
    plan = diff([queue, policy], [], lambda a: KINDS[a.kind])
    text = "\n".join(line for change in plan.changes for line in render_change(change))
    assert 'arguments.x-message-ttl      = "1h"' in text
    assert 'arguments.x-max-length-bytes = "1GiB"' in text
    assert "arguments.x-max-length       = 5" in text
    assert 'definition.expires = "1d"' in text


@pytest.mark.parametrize(
    ("url", "base"),
    [
        ("rabbit.example:15672", "http://rabbit.example:15672"),  # no scheme: not scheme `rabbit.example`
        ("http://rabbit.example:15672/api/", "http://rabbit.example:15672"),  # the API's own prefix
        ("https://rabbit.example/proxy/api", "https://rabbit.example/proxy"),
        (" http://rabbit.example:15672 ", "http://rabbit.example:15672"),
    ],
)
def test_urls_as_people_write_them(url: str, base: str) -> None:
    assert ConnectionSettings.from_manifest({"url": url}).base_url == base


def test_a_url_that_is_not_the_management_api_says_so() -> None:
    def not_found(request: Request) -> Response:
        return reply(404, text="Not Found")

    def reset(request: Request) -> Response:
        raise ReadError("[Errno 104] Connection reset by peer")

    with pytest.raises(BrokerError, match=re.escape("is http://rabbit.example:15672/x the management API's base URL")):
        make_driver(not_found, url="http://rabbit.example:15672/x").read([], [])
    with pytest.raises(BrokerError, match="5672/5671 are AMQP ports"):
        make_driver(reset, url="http://rabbit.example:5672").read([], [])
