"""The `type: azure_servicebus` section -> desired resources, offline: validation with file:line,
the `dead_letter:` sugar, the `$Default` rule decision, forwarding dependencies, prune scopes, and
connection settings that never echo a secret."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.cli import topoctl
from topoctl.manifest.loader import load_manifest
from topoctl.model import Address, Resource
from topoctl.providers.azure_servicebus.connection import settings
from topoctl.providers.base import PruneScope

ROOT = Path(__file__).resolve().parents[2]
KEY = "c2VjcmV0LWtleS1ub3QtdG8tYmUtc2hvd24="
CONN = f"Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=Root;SharedAccessKey={KEY}"


def _write(tmp_path: Path, body: dict[str, Any], connection: dict[str, Any] | None = None) -> Path:
    broker = {
        "type": "azure_servicebus",
        "connection": {"connection_string": CONN} if connection is None else connection,
        **body,
    }
    path = tmp_path / "m.yaml"
    path.write_text(yaml.safe_dump({"version": 1, "brokers": {"bus": broker}}, sort_keys=False), encoding="utf-8")
    return path


def load(tmp_path: Path, body: dict[str, Any]) -> dict[str, Resource]:
    manifest = load_manifest([str(_write(tmp_path, body))], env={})
    return {str(r.address): r for r in manifest.resources}


def error(tmp_path: Path, body: dict[str, Any], connection: dict[str, Any] | None = None) -> str:
    result = topoctl("validate", "-f", _write(tmp_path, body, connection))
    assert result.code == 1, str(result)
    assert "Traceback" not in result.stderr and KEY not in result.stderr + result.stdout
    return result.stderr.strip().removeprefix("Error: ")


def test_queues_topics_subscriptions_and_rules(tmp_path: Path) -> None:
    r = load(
        tmp_path,
        {
            "queues": {
                "orders": {"lock_duration": "PT30S", "max_size_in_megabytes": "2GiB", "status": "SendDisabled"},
                "audit": {"auto_delete_on_idle": "forever", "default_message_time_to_live": "14d"},
            },
            "topics": {
                "events": {
                    "subscriptions": {
                        "billing": {
                            "forward_to": "orders",
                            "rules": {
                                "created": {"sql_filter": "type = @t", "parameters": {"@t": "created"}},
                                "eu": {
                                    "correlation_filter": {"label": "order", "properties": {"n": 1}},
                                    "action": "SET a = 1",
                                },
                            },
                        },
                        "all": {},
                    }
                }
            },
        },
    )
    orders = r["bus/queue/orders"]
    assert orders.attrs == {"lock_duration": 30_000, "max_size_in_megabytes": 2048, "status": "SendDisabled"}
    assert r["bus/queue/audit"].attrs == {"auto_delete_on_idle": "forever", "default_message_time_to_live": 1209600000}
    billing = r["bus/subscription/events/billing"]
    assert billing.attrs == {"forward_to": "orders", "default_rule": False}
    # Forwarding needs its target first; a subscription needs its topic.
    assert billing.depends_on == (Address("bus", "topic", ("events",)), orders.address)
    assert r["bus/rule/events/billing/created"].attrs == {"sql_filter": "type = @t", "parameters": {"@t": "created"}}
    assert r["bus/rule/events/billing/eu"].attrs == {
        "correlation_filter": {"label": "order", "properties": {"n": 1}},
        "action": "SET a = 1",
    }
    # Rules declared: the service's $Default goes (planned absent, and removed on create).
    assert r["bus/rule/events/billing/$Default"].absent
    # No rule declared: $Default stays, only its existence managed.
    assert r["bus/subscription/events/all"].attrs == {"default_rule": True}
    kept = r["bus/rule/events/all/$Default"]
    assert not kept.absent and kept.attrs == {}


def test_default_rule_can_be_kept_beside_rules_or_removed_without_rules(tmp_path: Path) -> None:
    subs = {
        "keep": {"default_rule": True, "rules": {"x": {"filter": False}}},
        "none": {"default_rule": False},
        "own": {"rules": {"$Default": {"sql_filter": "a = 1"}}},
    }
    r = load(tmp_path, {"topics": {"t": {"subscriptions": subs}}})
    assert r["bus/rule/t/keep/$Default"].attrs == {} and not r["bus/rule/t/keep/$Default"].absent
    assert r["bus/rule/t/none/$Default"].absent
    assert r["bus/subscription/t/none"].attrs["default_rule"] is False
    assert r["bus/rule/t/own/$Default"].attrs == {"sql_filter": "a = 1"}
    assert r["bus/subscription/t/own"].attrs["default_rule"] is True


def test_dead_letter_sugar(tmp_path: Path) -> None:
    r = load(
        tmp_path,
        {
            "queues": {
                "a": {"dead_letter": {"max_deliveries": 3}},
                "b": {"dead_letter": {"forward_to": "a"}},
                "c": {"dead_letter": {}},
            },
            "topics": {"t": {"subscriptions": {"s": {"dead_letter": {"max_deliveries": 2, "forward_to": "b"}}}}},
        },
    )
    assert r["bus/queue/a"].attrs == {"max_delivery_count": 3, "dead_lettering_on_message_expiration": True}
    assert r["bus/queue/b"].attrs == {"forward_dead_lettered_messages_to": "a"}
    assert r["bus/queue/b"].depends_on == (Address("bus", "queue", ("a",)),)
    assert r["bus/queue/c"].attrs == {"dead_lettering_on_message_expiration": True}
    assert r["bus/subscription/t/s"].attrs == {
        "max_delivery_count": 2,
        "forward_dead_lettered_messages_to": "b",
        "dead_lettering_on_message_expiration": True,
        "default_rule": True,
    }


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"queues": {"q": {"lock_duration": 30}}}, "lock_duration: expected a string, got 30"),
        ({"queues": {"q": {"lock_duration": "10m"}}}, "lock_duration: must be between 5s and 5m"),
        ({"queues": {"q": {"auto_delete_on_idle": "1m"}}}, "auto_delete_on_idle: must be at least 5m"),
        ({"queues": {"q": {"max_size_in_megabytes": 1000}}}, "1000 MB is not a size the service offers"),
        ({"queues": {"q": {"status": "Paused"}}}, "'Paused' is not one of 'Active', 'Disabled', 'SendDisabled'"),
        ({"queues": {"q": {"lock_duration": "5 minutes"}}}, "lock_duration: not a duration: '5 minutes'"),
        ({"queues": {"q": {"default_message_time_to_live": "P1M"}}}, "not an ISO 8601 duration"),
        ({"queues": {"q": {"lock_durations": "1m"}}}, "unknown field 'lock_durations'"),
        ({"queues": {"-q": {}}}, "invalid queue name '-q'"),
        (
            {"queues": {"q": {"max_delivery_count": 3, "dead_letter": {"max_deliveries": 5}}}},
            "dead_letter max_deliveries contradicts max_delivery_count: 3",
        ),
        (
            {"queues": {"q": {"forward_to": "x", "state": "present"}, "x": {"state": "absent"}}},
            "'x' is declared absent",
        ),
        ({"queues": {"q": {}}, "topics": {"Q": {}}}, "'Q' is also declared as a queue"),
        (
            {"topics": {"t": {"subscriptions": {"s": {"rules": {"r": {"sql_filter": "a=1", "filter": True}}}}}}},
            "exactly one of sql_filter, correlation_filter or filter (true/false); it has sql_filter, filter",
        ),
        (
            {"topics": {"t": {"subscriptions": {"s": {"rules": {"r": {"filter": True, "parameters": {"@a": 1}}}}}}}},
            "parameters go with sql_filter",
        ),
        (
            {
                "topics": {
                    "t": {"subscriptions": {"s": {"rules": {"r": {"sql_filter": "a=@a", "parameters": {"a": 1}}}}}}
                }
            },
            "the name 'a' is not allowed (must match ^@)",
        ),
        (
            {"topics": {"t": {"subscriptions": {"s": {"rules": {"r": {"correlation_filter": {}}}}}}}},
            "correlation_filter: {} should be non-empty",
        ),
        (
            {
                "topics": {
                    "t": {"subscriptions": {"s": {"default_rule": False, "rules": {"$Default": {"filter": True}}}}}
                }
            },
            "default_rule: false removes $Default, which rules also declares",
        ),
        (
            {"topics": {"t": {"state": "absent", "subscriptions": {"s": {}}}}},
            "topic 't' is declared absent: its subscriptions go with it",
        ),
    ],
)
def test_bad_manifests_fail_with_file_and_line(tmp_path: Path, body: dict[str, Any], expected: str) -> None:
    message = error(tmp_path, body)
    assert expected in message, message
    assert message.startswith(str(tmp_path / "m.yaml") + ":"), message


@pytest.mark.parametrize(
    ("connection", "expected"),
    [
        ({}, "connection needs connection_string"),
        (
            {"connection_string": f"Endpoint=sb://ns/;SharedAccessKey={KEY}"},
            "SharedAccessKey but no SharedAccessKeyName",
        ),
        ({"connection_string": f"garbage{KEY}"}, "connection_string has no valid Endpoint"),
        ({"connection_string": f"x;{KEY[:-1]}"}, "connection_string is malformed"),
        ({"connection_string": CONN + ";EntityPath=q"}, "names an entity"),
        ({"connection_string": CONN, "namespace": "ns"}, "not both"),
        ({"namespace": "bad name!"}, "namespace must be a host name"),
    ],
)
def test_connection_problems_never_show_the_key(tmp_path: Path, connection: dict[str, Any], expected: str) -> None:
    assert expected in error(tmp_path, {"queues": {"q": {}}}, connection)


def test_connection_settings() -> None:
    s = settings({"connection_string": CONN})
    assert (s.host, s.emulator, s.endpoint) == ("ns.servicebus.windows.net", False, "sb://ns.servicebus.windows.net")
    assert KEY not in repr(s) and KEY not in s.scrub(f"failed with {CONN}")
    emulator = settings(
        {
            "connection_string": "Endpoint=sb://127.0.0.1:5300;SharedAccessKeyName=k;SharedAccessKey=v;UseDevelopmentEmulator=true"
        }
    )
    assert (emulator.host, emulator.emulator) == ("127.0.0.1:5300", True)
    assert settings({"namespace": "myns"}).host == "myns.servicebus.windows.net"
    assert settings({"namespace": "myns", "timeout": "5s"}).timeout == 5.0


def test_prune_scopes(tmp_path: Path) -> None:
    doc = {"queues": {"q": {}}, "topics": {"team-t": {"subscriptions": {"s": {}}}, "other": {}}}
    everything = load_manifest([str(_write(tmp_path, {**doc, "prune": True}))], env={})
    assert everything.brokers["bus"].compiled.prune == [PruneScope()]
    scoped = load_manifest([str(_write(tmp_path, {**doc, "prune": {"prefix": "team-", "queues": False}}))], env={})
    assert scoped.brokers["bus"].compiled.prune == [
        PruneScope(kinds=frozenset({"topic"}), prefix="team-"),
        PruneScope(kinds=frozenset({"subscription"}), parent=("team-t",)),
        PruneScope(kinds=frozenset({"rule"}), parent=("team-t", "s")),
    ]


def test_forwarding_to_itself_is_a_warning_not_a_cycle(tmp_path: Path) -> None:
    manifest = load_manifest([str(_write(tmp_path, {"queues": {"loop": {"forward_to": "loop"}}}))], env={})
    assert manifest.resources[0].depends_on == ()
    assert any("forwards to itself" in w for w in manifest.warnings)


def test_validate_and_graph_do_not_import_the_sdk(tmp_path: Path) -> None:
    path = _write(tmp_path, {"queues": {"q": {"dead_letter": {"max_deliveries": 2}}}})
    code = (
        "import sys\n"
        "from tests.cli import topoctl\n"
        f"assert topoctl('validate', '-f', {str(path)!r}).code == 0\n"
        f"assert topoctl('graph', '-f', {str(path)!r}).code == 0\n"
        "print(sorted(m for m in sys.modules if m.startswith('azure')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
