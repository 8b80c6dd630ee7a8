"""RabbitMQ's own objects are never touched: the default vhost `/`, the default exchange `""`, the
`amq.*` exchanges, server-named `amq.gen-*` queues and their bindings. A manifest that would delete
or declare one is refused at validate (file:line, exit 1, no broker contacted); a plan that names
one anyway is refused by the driver; an export leaves out what RabbitMQ set up by itself."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from tests.cli import one_error, topoctl
from tests.unit.http_seam import reply
from topoctl.errors import BrokerError
from topoctl.model import Action, Address, Change, Resource
from topoctl.providers.jsonhttp import Request, Response
from topoctl.providers.rabbitmq.client import ManagementApi
from topoctl.providers.rabbitmq.driver import RabbitMQDriver
from topoctl.providers.rabbitmq.export import export_broker
from topoctl.providers.rabbitmq.observe import system_object

B = "r"
# A dead port: validate and plan must fail before contacting anything.
HEAD = "version: 1\nbrokers:\n  r:\n    type: rabbitmq\n    connection: {url: http://127.0.0.1:1}\n    vhosts:\n"


def refused(tmp_path: Path, vhosts: str) -> str:
    path = tmp_path / "m.yaml"
    path.write_text(HEAD + textwrap.indent(textwrap.dedent(vhosts), "      "), encoding="utf-8")
    message = one_error(topoctl("validate", "-f", path))
    for command in (("plan",), ("apply", "--auto-approve", "--allow-destructive")):
        assert one_error(topoctl(*command, "-f", path)) == message
    return message.replace(str(path), "m.yaml")


@pytest.mark.parametrize(
    ("vhosts", "expected"),
    [
        (
            '"/": {state: absent}\n',
            "m.yaml:7: the default vhost '/' is RabbitMQ's own and is never deleted; remove state: absent",
        ),
        (
            "/:\n  state: absent\n",
            "m.yaml:8: the default vhost '/' is RabbitMQ's own and is never deleted; remove state: absent",
        ),
        (
            'v:\n  exchanges:\n    "": {state: absent}\n',
            "m.yaml:9: the default exchange ('') is RabbitMQ's own: it cannot be declared, changed or deleted",
        ),
        (
            'v:\n  exchanges:\n    "": {type: direct}\n',
            "m.yaml:9: the default exchange ('') is RabbitMQ's own: it cannot be declared, changed or deleted",
        ),
        (
            "v:\n  exchanges:\n    amq.topic: {state: absent}\n",
            "m.yaml:9: exchange name 'amq.topic' starts with 'amq.', a prefix RabbitMQ reserves for its own objects",
        ),
        (
            "v:\n  exchanges:\n    amq.direct: {type: direct}\n",
            "m.yaml:9: exchange name 'amq.direct' starts with 'amq.', a prefix RabbitMQ reserves for its own objects",
        ),
        (
            "v:\n  queues:\n    amq.gen-JzTY20BRgKO: {state: absent}\n",
            "m.yaml:9: queue name 'amq.gen-JzTY20BRgKO' starts with 'amq.', a prefix RabbitMQ reserves for its own",
        ),
        (
            "v:\n  queues:\n    amq.gen-JzTY20BRgKO: {}\n",
            "m.yaml:9: queue name 'amq.gen-JzTY20BRgKO' starts with 'amq.', a prefix RabbitMQ reserves for its own",
        ),
        (
            "v:\n  bindings:\n    - {source: amq.topic, destination: amq.gen-JzTY20BRgKO, state: absent}\n",
            "m.yaml:9: queue 'amq.gen-JzTY20BRgKO' is server-named (amq.*): it belongs to one client connection",
        ),
        (
            "v:\n  bindings:\n    - {source: amq.topic, destination: amq.gen-JzTY20BRgKO}\n",
            "m.yaml:9: queue 'amq.gen-JzTY20BRgKO' is server-named (amq.*): it belongs to one client connection",
        ),
        (
            'v:\n  bindings:\n    - {source: "", destination: q, routing_key: q, state: absent}\n',
            "m.yaml:9: the default exchange cannot be bound",
        ),
        (
            "v:\n  queues:\n    q: {dead_letter: {exchange: amq.direct}}\n",
            "m.yaml:9: dead-letter exchange name 'amq.direct' starts with 'amq.'",
        ),
    ],
)
def test_system_objects_are_refused_at_validate(tmp_path: Path, vhosts: str, expected: str) -> None:
    assert refused(tmp_path, vhosts).startswith(expected)


def test_the_default_vhost_is_managed_like_any_other_short_of_deleting_it(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(
        HEAD
        + '      "/":\n        description: ours now\n        prune: true\n        queues: {gone: {state: absent}}\n',
        encoding="utf-8",
    )
    result = topoctl("validate", "-f", path)
    assert result.code == 0, str(result)


@pytest.mark.parametrize(
    ("address", "why"),
    [
        (Address(B, "vhost", ("/",)), "the default vhost '/'"),
        (Address(B, "exchange", ("v", "")), "the default exchange"),
        (Address(B, "exchange", ("v", "amq.topic")), "the built-in exchange 'amq.topic'"),
        (Address(B, "queue", ("v", "amq.gen-x")), "the server-named queue 'amq.gen-x'"),
        (Address(B, "binding", ("v", "", "queue", "q", "q", "")), "a binding of the default exchange"),
        (
            Address(B, "binding", ("v", "amq.topic", "queue", "amq.gen-x", "k", "")),
            "a binding of the server-named queue 'amq.gen-x'",
        ),
    ],
)
def test_the_driver_refuses_to_delete_a_system_object_without_a_request(address: Address, why: str) -> None:
    assert system_object(address) == why
    requests: list[Request] = []

    def handler(request: Request) -> Response:
        requests.append(request)
        return reply(204)

    driver = RabbitMQDriver(B, {"url": "http://rabbit.example:15672"})
    driver._api = ManagementApi(B, driver.settings, transport=handler)
    for action in (Action.DELETE, Action.REPLACE):
        with pytest.raises(BrokerError, match="RabbitMQ's own and topoctl never deletes it"):
            driver.apply_one(Change(address, action, {}, {} if action == Action.REPLACE else None))
    assert requests == []


@pytest.mark.parametrize(
    "address",
    [
        Address(B, "vhost", ("v",)),
        Address(B, "exchange", ("/", "orders")),
        Address(B, "queue", ("/", "amqgen")),
        Address(B, "binding", ("v", "amq.topic", "queue", "q", "k", "")),
        Address(B, "binding", ("v", "x", "exchange", "amq.direct", "k", "")),
    ],
)
def test_user_objects_are_not_system_objects(address: Address) -> None:
    assert system_object(address) is None


def _vhost(name: str, description: str, tags: list[str] | None = None) -> Resource:
    return Resource(Address(B, "vhost", (name,)), {"description": description, "tags": tags or []})


def _queue(vhost: str, name: str) -> Resource:
    attrs = {"type": "classic", "durable": True, "auto_delete": False, "arguments": {}}
    return Resource(Address(B, "queue", (vhost, name)), attrs)


def test_export_leaves_out_an_untouched_default_vhost() -> None:
    assert export_broker(B, [_vhost("/", "Default virtual host")]) == {}
    assert export_broker(B, [_vhost("/", "Default virtual host"), _vhost("v", "")]) == {"vhosts": {"v": {}}}


def test_export_writes_the_default_vhost_only_with_what_differs_from_rabbitmqs_defaults() -> None:
    with_queue = export_broker(B, [_vhost("/", "Default virtual host"), _queue("/", "q")])
    assert with_queue == {"vhosts": {"/": {"queues": {"q": {"type": "classic"}}}}}
    described = export_broker(B, [_vhost("/", "ours")])
    assert described == {"vhosts": {"/": {"description": "ours"}}}
    tagged = export_broker(B, [_vhost("/", "Default virtual host", ["prod"])])
    assert tagged == {"vhosts": {"/": {"tags": ["prod"]}}}
    # Another vhost that happens to say "Default virtual host" said so on purpose.
    other = export_broker(B, [_vhost("v", "Default virtual host")])
    assert other == {"vhosts": {"v": {"description": "Default virtual host"}}}


def test_export_leaves_out_policy_defaults() -> None:
    def policy(apply_to: str, priority: int) -> Resource:
        attrs = {"pattern": "^a", "apply_to": apply_to, "priority": priority, "definition": {"max-length": 5}}
        return Resource(Address(B, "policy", ("v", f"{apply_to}{priority}")), attrs)

    body = export_broker(B, [_vhost("v", ""), policy("all", 0), policy("queues", 3)])["vhosts"]["v"]
    assert body["policies"] == {
        "all0": {"pattern": "^a", "definition": {"max-length": 5}},
        "queues3": {"pattern": "^a", "apply_to": "queues", "priority": 3, "definition": {"max-length": 5}},
    }


def test_no_prune_scope_covers_a_system_object_or_a_vhost(tmp_path: Path) -> None:
    from topoctl.manifest.loader import load_manifest

    path = tmp_path / "m.yaml"
    path.write_text(
        HEAD.replace("    vhosts:\n", "    prune: true\n    vhosts:\n")
        + '      "/": {}\n      v: {prune: {prefix: "amq."}}\n',
        encoding="utf-8",
    )
    scopes = load_manifest([str(path)], env={}).brokers[B].compiled.prune
    never = [
        Address(B, "vhost", ("/",)),
        Address(B, "vhost", ("v",)),
        Address(B, "vhost", ("undeclared",)),
        Address(B, "exchange", ("/", "")),
        Address(B, "exchange", ("/", "amq.topic")),
        Address(B, "exchange", ("v", "amq.direct")),
        Address(B, "queue", ("/", "amq.gen-x")),
        Address(B, "queue", ("v", "amq.gen-x")),
        Address(B, "binding", ("/", "", "queue", "q", "q", "")),
        Address(B, "binding", ("/", "amq.topic", "queue", "amq.gen-x", "k", "")),
        Address(B, "binding", ("v", "amq.topic", "queue", "amq.gen-x", "k", "")),
    ]
    for address in never:
        assert not any(scope.covers(address) for scope in scopes), address
    # What is the user's in those vhosts stays covered.
    assert any(scope.covers(Address(B, "queue", ("/", "jobs"))) for scope in scopes)
    assert any(scope.covers(Address(B, "binding", ("/", "amq.topic", "queue", "jobs", "k", ""))) for scope in scopes)
    assert any(scope.covers(Address(B, "binding", ("v", "x", "exchange", "amq.direct", "k", ""))) for scope in scopes)
