"""The RabbitMQ compiler: defaults, normalisation, dead_letter expansion, semantic checks, prune."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from topoctl.errors import ManifestError
from topoctl.manifest.loader import load_manifest
from topoctl.model import Address, Resource
from topoctl.providers.base import PruneScope
from topoctl.providers.rabbitmq.kinds import arguments_digest, binding_address

B = "r"


def manifest(tmp_path: Path, vhosts: dict[str, Any], **broker: Any) -> Path:
    doc = {"version": 1, "brokers": {B: {"type": "rabbitmq", **broker, "vhosts": vhosts}}}
    path = tmp_path / "m.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


def compiled(tmp_path: Path, vhosts: dict[str, Any], **broker: Any) -> dict[str, Resource]:
    spec = load_manifest([str(manifest(tmp_path, vhosts, **broker))], env={}).brokers[B]
    return {str(r.address): r for r in spec.resources}


def prune_of(tmp_path: Path, vhosts: dict[str, Any], **broker: Any) -> list[PruneScope]:
    return load_manifest([str(manifest(tmp_path, vhosts, **broker))], env={}).brokers[B].compiled.prune


def error(tmp_path: Path, vhosts: dict[str, Any], **broker: Any) -> ManifestError:
    with pytest.raises(ManifestError) as err:
        load_manifest([str(manifest(tmp_path, vhosts, **broker))], env={})
    return err.value


def test_defaults_are_filled_and_dependencies_set(tmp_path: Path) -> None:
    rs = compiled(
        tmp_path,
        {
            "shop": {
                "exchanges": {"orders": {"type": "topic"}},
                "queues": {"billing": {}},
                "bindings": [{"source": "orders", "destination": "billing"}],
            }
        },
    )
    assert rs["r/vhost/shop"].attrs == {}
    assert rs["r/exchange/shop/orders"].attrs == {
        "type": "topic",
        "durable": True,
        "auto_delete": False,
        "internal": False,
        "arguments": {},
    }
    assert rs["r/queue/shop/billing"].attrs == {
        "type": "classic",
        "durable": True,
        "auto_delete": False,
        "arguments": {},
    }
    binding = rs["r/binding/shop/orders/queue/billing//"]
    assert binding.attrs == {
        "source": "orders",
        "destination": "billing",
        "destination_type": "queue",
        "routing_key": "",
        "arguments": {},
    }
    assert set(binding.depends_on) == {
        Address(B, "vhost", ("shop",)),
        Address(B, "exchange", ("shop", "orders")),
        Address(B, "queue", ("shop", "billing")),
    }
    lines = (tmp_path / "m.yaml").read_text().splitlines()
    line = next(i for i, text in enumerate(lines, 1) if "- source: orders" in text)
    assert binding.source == f"{tmp_path / 'm.yaml'}:{line}"


def test_durations_sizes_and_max_age_are_normalised(tmp_path: Path) -> None:
    rs = compiled(
        tmp_path,
        {
            "v": {
                "queues": {
                    "c": {"arguments": {"x-message-ttl": "30s", "x-expires": "1h", "x-max-length-bytes": "1KiB"}},
                    "s": {"type": "stream", "arguments": {"x-max-age": "168h"}},
                },
                "policies": {"p": {"pattern": ".*", "definition": {"message-ttl": "1m", "max-age": "2d"}}},
            }
        },
    )
    assert rs["r/queue/v/c"].attrs["arguments"] == {
        "x-message-ttl": 30_000,
        "x-expires": 3_600_000,
        "x-max-length-bytes": 1024,
    }
    assert rs["r/queue/v/s"].attrs["arguments"] == {"x-max-age": "7D"}
    assert rs["r/policy/v/p"].attrs == {
        "pattern": ".*",
        "apply_to": "all",
        "priority": 0,
        "definition": {"message-ttl": 60_000, "max-age": "2D"},
    }


def test_bad_duration_names_the_line(tmp_path: Path) -> None:
    err = error(tmp_path, {"v": {"queues": {"q": {"arguments": {"x-message-ttl": "soon"}}}}})
    assert "x-message-ttl" in str(err) and "m.yaml:" in str(err)


def test_queue_type_in_arguments_is_folded_into_type(tmp_path: Path) -> None:
    rs = compiled(tmp_path, {"v": {"queues": {"q": {"arguments": {"x-queue-type": "quorum"}}}}})
    assert rs["r/queue/v/q"].attrs["type"] == "quorum"
    assert rs["r/queue/v/q"].attrs["arguments"] == {}
    err = error(tmp_path, {"v": {"queues": {"q": {"type": "classic", "arguments": {"x-queue-type": "quorum"}}}}})
    assert "contradicts" in str(err)


def test_dead_letter_expands_to_plain_resources(tmp_path: Path) -> None:
    rs = compiled(tmp_path, {"shop": {"queues": {"billing": {"type": "quorum", "dead_letter": {"max_deliveries": 5}}}}})
    queue = rs["r/queue/shop/billing"]
    assert queue.attrs["arguments"] == {
        "x-delivery-limit": 5,
        "x-dead-letter-exchange": "billing.dlx",
        "x-dead-letter-routing-key": "billing",
    }
    assert rs["r/exchange/shop/billing.dlx"].attrs["type"] == "direct"
    assert rs["r/queue/shop/billing.dlq"].attrs == {
        "type": "quorum",
        "durable": True,
        "auto_delete": False,
        "arguments": {},
    }
    binding = rs["r/binding/shop/billing.dlx/queue/billing.dlq/billing/"]
    assert binding.attrs["routing_key"] == "billing"
    # The DLQ (and its DLX and binding) come before the queue that dead-letters into them.
    assert {
        Address(B, "queue", ("shop", "billing.dlq")),
        Address(B, "exchange", ("shop", "billing.dlx")),
        binding.address,
    } <= set(queue.depends_on)


def test_dead_letter_names_can_be_overridden_and_shared(tmp_path: Path) -> None:
    rs = compiled(
        tmp_path,
        {
            "v": {
                "exchanges": {"dlx": {"type": "direct"}},
                "queues": {
                    "a": {"dead_letter": {"exchange": "dlx", "queue": "dead", "routing_key": "k.a"}},
                    "b": {"dead_letter": {"exchange": "dlx", "queue": "dead", "routing_key": "k.b"}},
                    "dead": {"arguments": {"x-message-ttl": "7d"}},
                },
            }
        },
    )
    assert rs["r/queue/v/dead"].attrs["arguments"] == {"x-message-ttl": 604_800_000}  # the declared one wins
    assert "r/binding/v/dlx/queue/dead/k.a/" in rs and "r/binding/v/dlx/queue/dead/k.b/" in rs
    assert "r/exchange/v/a.dlx" not in rs
    assert rs["r/queue/v/b"].attrs["arguments"]["x-dead-letter-routing-key"] == "k.b"


@pytest.mark.parametrize(
    ("queue", "message"),
    [
        ({"type": "classic", "dead_letter": {"max_deliveries": 3}}, "max_deliveries needs a quorum queue"),
        ({"type": "stream", "dead_letter": {}}, "streams cannot dead-letter"),
        ({"dead_letter": {}, "arguments": {"x-dead-letter-exchange": "x"}}, "remove it from arguments"),
        ({"type": "quorum", "durable": False}, "always durable"),
        ({"type": "stream", "auto_delete": True}, "cannot be auto_delete"),
        ({"exclusive": True}, "exclusive"),
        ({"dead_letter": {"queue": "q"}}, "its own dead-letter queue"),
    ],
)
def test_queue_contradictions_are_refused_with_location(tmp_path: Path, queue: dict[str, Any], message: str) -> None:
    err = error(tmp_path, {"v": {"queues": {"q": queue}}})
    assert message in str(err)
    assert err.location is not None and err.location.startswith(str(tmp_path / "m.yaml"))


@pytest.mark.parametrize(
    ("vhosts", "message"),
    [
        ({"v": {"queues": {"amq.mine": {}}}}, "reserves"),
        ({"v": {"exchanges": {"amq.x": {}}}}, "reserves"),
        ({"v": {"queues": {"q" * 256: {}}}}, "longer than 255 bytes"),
        ({"v": {"queues": {"q": {}}, "bindings": [{"source": "nope", "destination": "q"}]}}, "'nope' is not declared"),
        ({"v": {"queues": {"q": {}}, "bindings": [{"source": "", "destination": "q"}]}}, "default exchange"),
        ({"v": {"bindings": [{"source": "amq.topic", "destination": "gone"}]}}, "queue 'gone' is not declared"),
        (
            {
                "v": {
                    "exchanges": {"x": {}},
                    "queues": {"x2": {}},
                    "bindings": [{"source": "x", "destination": "x2", "destination_type": "exchange"}],
                }
            },
            "exchange 'x2' is not declared",
        ),
        ({"v": {"state": "absent", "queues": {"q": {}}}}, "state: absent"),
        ({"v": {"policies": {"p": {"pattern": ".*", "apply_to": "streams", "definition": {"a": 1}}}}}, "apply_to"),
        ({"v": {"policies": {"p": {"pattern": ".*", "definition": {}}}}}, "definition"),
    ],
)
def test_semantic_errors(tmp_path: Path, vhosts: dict[str, Any], message: str) -> None:
    err = error(tmp_path, vhosts)
    assert message in str(err), str(err)
    assert err.location is not None


def test_builtin_exchanges_are_valid_binding_ends(tmp_path: Path) -> None:
    rs = compiled(
        tmp_path,
        {
            "v": {
                "exchanges": {"x": {}},
                "queues": {"q": {}},
                "bindings": [
                    {"source": "amq.topic", "destination": "q", "routing_key": "a.#"},
                    {"source": "x", "destination": "amq.fanout", "destination_type": "exchange"},
                ],
            }
        },
    )
    b = rs["r/binding/v/amq.topic/queue/q/a.#/"]
    assert Address(B, "exchange", ("v", "amq.topic")) not in b.depends_on
    assert "r/binding/v/x/exchange/amq.fanout//" in rs


def test_binding_arguments_are_part_of_the_identity(tmp_path: Path) -> None:
    rs = compiled(
        tmp_path,
        {
            "v": {
                "exchanges": {"h": {"type": "headers"}},
                "queues": {"q": {}},
                "bindings": [
                    {"source": "h", "destination": "q", "arguments": {"x-match": "all", "a": 1}},
                    {"source": "h", "destination": "q", "arguments": {"x-match": "any", "a": 1}},
                    {"source": "h", "destination": "q"},
                ],
            }
        },
    )
    bindings = [a for a in rs if "/binding/" in a]
    assert len(bindings) == 3
    digest = arguments_digest({"a": 1, "x-match": "all"})
    assert len(digest) == 12
    assert str(binding_address(B, "v", "h", "queue", "q", "", {"x-match": "all", "a": 1})) in rs
    assert arguments_digest({"x-match": "all", "a": 1}) == digest  # key order does not matter


def test_duplicate_binding_is_refused(tmp_path: Path) -> None:
    binding = {"source": "x", "destination": "q", "routing_key": "k"}
    err = error(tmp_path, {"v": {"exchanges": {"x": {}}, "queues": {"q": {}}, "bindings": [binding, binding]}})
    assert "declared twice" in str(err)


def test_odd_names_compile_and_encode_in_addresses(tmp_path: Path) -> None:
    rs = compiled(
        tmp_path,
        {
            "a/b %#~": {
                "exchanges": {"e x/1": {}},
                "queues": {"q %/#~": {}},
                "bindings": [{"source": "e x/1", "destination": "q %/#~", "routing_key": "k/ %#"}],
            }
        },
    )
    assert "r/queue/a%2Fb %25#~/q %25%2F#~" in rs
    assert "r/binding/a%2Fb %25#~/e x%2F1/queue/q %25%2F#~/k%2F %25#/" in rs


def test_state_absent_plans_deletions_without_references(tmp_path: Path) -> None:
    rs = compiled(
        tmp_path,
        {
            "gone": {"state": "absent"},
            "v": {
                "queues": {"old": {"state": "absent"}},
                "bindings": [{"source": "x", "destination": "old", "state": "absent"}],
                "policies": {"p": {"state": "absent"}},
            },
        },
    )
    assert rs["r/vhost/gone"].absent
    assert rs["r/queue/v/old"].absent
    assert rs["r/binding/v/x/queue/old//"].absent
    assert rs["r/policy/v/p"].absent


def test_prune_scopes(tmp_path: Path) -> None:
    scopes = prune_of(tmp_path, {"a": {}, "b": {"prune": False}, "c": {"prune": {"prefix": "app."}}}, prune=True)
    covered = [
        Address(B, "queue", ("a", "anything")),
        Address(B, "policy", ("a", "p")),
        Address(B, "binding", ("a", "x", "queue", "q", "", "")),
        Address(B, "queue", ("c", "app.q")),
        Address(B, "binding", ("c", "other.x", "queue", "app.q", "k", "")),
    ]
    not_covered = [
        Address(B, "vhost", ("a",)),
        Address(B, "queue", ("b", "q")),
        Address(B, "queue", ("c", "other")),
        Address(B, "binding", ("c", "app.x", "queue", "other.q", "k", "")),
        Address(B, "queue", ("z", "q")),
    ]
    for address in covered:
        assert any(s.covers(address) for s in scopes), address
    for address in not_covered:
        assert not any(s.covers(address) for s in scopes), address


def test_no_prune_by_default(tmp_path: Path) -> None:
    assert prune_of(tmp_path, {"a": {"queues": {"q": {}}}}) == []


def test_flows_follow_bindings_and_dead_letters(tmp_path: Path) -> None:
    from topoctl.providers.rabbitmq.flows import flows

    path = manifest(
        tmp_path,
        {
            "v": {
                "exchanges": {"orders": {"type": "topic"}},
                "queues": {"billing": {"type": "quorum", "dead_letter": {}}},
                "bindings": [{"source": "orders", "destination": "billing", "routing_key": "order.*"}],
            }
        },
    )
    resources = load_manifest([str(path)], env={}).brokers[B].resources
    edges = {(str(f.source), str(f.target), f.label, f.dead_letter) for f in flows(resources)}
    assert edges == {
        ("r/exchange/v/orders", "r/queue/v/billing", "order.*", False),
        ("r/queue/v/billing", "r/exchange/v/billing.dlx", "dead letters, key billing", True),
        ("r/exchange/v/billing.dlx", "r/queue/v/billing.dlq", "billing", False),
    }


@pytest.mark.parametrize(
    ("queue", "message"),
    [
        ({"type": "stream", "arguments": {"x-message-ttl": "5s"}}, "x-message-ttl is not valid on a stream queue"),
        ({"type": "quorum", "arguments": {"x-max-priority": 5}}, "x-max-priority is not valid on a quorum queue"),
        ({"arguments": {"x-max-age": "7d"}}, "x-max-age is not valid on a classic queue"),
        ({"arguments": {"x-dead-letter-routing-key": "k"}}, "x-dead-letter-routing-key needs x-dead-letter-exchange"),
    ],
)
def test_arguments_the_broker_refuses_on_the_queue_type(tmp_path: Path, queue: dict[str, Any], message: str) -> None:
    err = error(tmp_path, {"v": {"queues": {"q": queue}}})
    assert message in str(err) and err.location is not None


@pytest.mark.parametrize(
    ("vhost", "message"),
    [
        (
            {
                "queues": {
                    "a": {"type": "classic", "dead_letter": {"queue": "shared", "exchange": "dlx"}},
                    "b": {"type": "quorum", "dead_letter": {"queue": "shared", "exchange": "dlx"}},
                }
            },
            "dead-letter queue 'shared' is also generated for the queue at",
        ),
        (
            {"exchanges": {"dlx": {"state": "absent"}}, "queues": {"a": {"dead_letter": {"exchange": "dlx"}}}},
            "dead-letter exchange 'dlx' has state: absent (at",
        ),
        (
            {"queues": {"a": {"dead_letter": {}}, "a.dlq": {"state": "absent"}}},
            "dead-letter queue 'a.dlq' has state: absent (at",
        ),
    ],
)
def test_dead_letter_conflicts_say_what_to_change(tmp_path: Path, vhost: dict[str, Any], message: str) -> None:
    err = error(tmp_path, {"v": vhost})
    assert message in str(err) and err.location is not None


@pytest.mark.parametrize(
    "vhosts",
    [
        {".": {}},
        {"v": {"queues": {"..": {}}}},
        {"v": {"exchanges": {".": {"type": "fanout"}}}},
        {"v": {"policies": {"..": {"pattern": "x", "definition": {"max-length": 1}}}}},
        {"v": {"queues": {"q": {"dead_letter": {"queue": "."}}}}},
    ],
)
def test_dot_names_that_the_management_api_cannot_address_are_refused(tmp_path: Path, vhosts: dict[str, Any]) -> None:
    err = error(tmp_path, vhosts)
    assert "cannot be managed through the management HTTP API" in str(err) and err.location is not None


def test_a_binding_with_a_dot_routing_key_warns_that_it_cannot_be_deleted(tmp_path: Path) -> None:
    path = manifest(
        tmp_path,
        {
            "v": {
                "exchanges": {"x": {"type": "topic"}},
                "queues": {"q": {}},
                "bindings": [
                    {"source": "x", "destination": "q", "routing_key": "."},
                    {"source": "x", "destination": "q", "routing_key": "..", "arguments": {"a": 1}},
                ],
            }
        },
    )
    (warning,) = load_manifest([str(path)], env={}).warnings
    assert warning.startswith(f"{path}:") and "routing key '.' can be created but not deleted" in warning


def test_vhost_tags_compare_as_the_broker_stores_them(tmp_path: Path) -> None:
    rs = compiled(tmp_path, {"v": {"tags": [" spaced ", "b", "b", "a,b"]}})
    assert rs["r/vhost/v"].attrs == {"tags": ["a,b", "b", "spaced"]}  # stripped, a set; commas are kept


def test_flows_follow_alternate_exchanges_set_by_argument_or_policy(tmp_path: Path) -> None:
    from topoctl.providers.rabbitmq.flows import flows

    path = manifest(
        tmp_path,
        {
            "v": {
                "exchanges": {
                    "in.a": {"type": "topic", "arguments": {"alternate-exchange": "lost"}},
                    "in.b": {"type": "topic"},
                    "lost": {"type": "fanout"},
                    "other": {"type": "fanout"},
                },
                "policies": {
                    "ae": {"pattern": "^in\\.", "apply_to": "exchanges", "definition": {"alternate-exchange": "other"}}
                },
            }
        },
    )
    resources = load_manifest([str(path)], env={}).brokers[B].resources
    edges = {(str(f.source), str(f.target), f.label) for f in flows(resources)}
    assert edges == {
        ("r/exchange/v/in.a", "r/exchange/v/lost", "unroutable"),  # the argument wins over the policy
        ("r/exchange/v/in.b", "r/exchange/v/other", "unroutable (policy ae)"),
    }


def test_malformed_manifest_is_one_located_error_and_no_broker_is_contacted(tmp_path: Path) -> None:
    from tests.cli import topoctl

    path = manifest(
        tmp_path,
        {"v": {"queues": {"q": {"type": "classic", "dead_letter": {"max_deliveries": 3}}}}},
        # Nothing listens there: a contacted broker would be a connection error instead.
        connection={"url": "http://127.0.0.1:1", "password": "never-shown"},
    )
    for command in ("validate", "plan"):
        result = topoctl(command, "-f", path)
        assert result.code == 1, str(result)
        assert f"{path}:" in result.stderr and "max_deliveries needs a quorum queue" in result.stderr
        assert "Traceback" not in result.stderr and "cannot connect" not in result.stderr
        assert "never-shown" not in result.stdout + result.stderr


def test_schema_rejects_unknown_fields_with_location(tmp_path: Path) -> None:
    err = error(tmp_path, {"v": {"queues": {"q": {"typo_field": 1}}}})
    assert "typo_field" in str(err) and err.location is not None
