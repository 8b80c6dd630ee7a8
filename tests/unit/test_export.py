"""The generic half of `topoctl export`: the connection as written, without secrets; readable YAML."""

from __future__ import annotations

from pathlib import Path

import yaml

from tests.cli import write_manifest
from topoctl.export import dump, duration_ms, raw_connection, size
from topoctl.units import parse_duration, parse_size


def _files(tmp_path: Path, *connections: dict[str, object]) -> list[str]:
    paths = []
    for i, connection in enumerate(connections):
        doc = {"version": 1, "brokers": {"edge-1": {"type": "nats", "connection": connection}}}
        paths.append(str(write_manifest(tmp_path / f"{i}.yaml", doc)))
    return paths


def test_connection_keeps_references_and_merges_files_in_order(tmp_path: Path) -> None:
    files = _files(
        tmp_path,
        {"servers": ["${NATS_URL:-nats://127.0.0.1:4222}"], "name": "base"},
        {"name": "prod", "tls": {"ca_file": "/etc/ca.pem"}},
    )
    connection, warnings = raw_connection(files, "edge-1")
    assert connection == {
        "servers": ["${NATS_URL:-nats://127.0.0.1:4222}"],
        "name": "prod",
        "tls": {"ca_file": "/etc/ca.pem"},
    }
    assert warnings == []


def test_secrets_never_come_out(tmp_path: Path) -> None:
    files = _files(
        tmp_path,
        {
            "servers": ["nats://app:hunter2@10.0.0.1:4222", "${NATS_URL:-nats://app:hunter3@10.0.0.2:4222}"],
            "password": "hunter4",
            "token": "${NATS_TOKEN:-hunter5}",
            "nkeys_seed": "${NATS_SEED}",
            "client": {"sasl.password": "hunter6"},
        },
    )
    connection, warnings = raw_connection(files, "edge-1")
    text = dump({"connection": connection}) + "\n".join(warnings)
    for secret in ("hunter2", "hunter3", "hunter4", "hunter5", "hunter6"):
        assert secret not in text
    assert connection == {
        "servers": ["nats://app:${EDGE_1_SERVERS_PASSWORD}@10.0.0.1:4222", "${NATS_URL}"],
        "password": "${EDGE_1_PASSWORD}",
        "token": "${NATS_TOKEN}",
        "nkeys_seed": "${NATS_SEED}",  # a plain reference is safe to keep
        "client": {"sasl.password": "${EDGE_1_CLIENT_SASL_PASSWORD}"},
    }
    assert any("set EDGE_1_PASSWORD before planning" in w for w in warnings)


def test_readable_units_round_trip() -> None:
    for ms in (1, 1000, 30_000, 3_600_000, 604_800_000, 90_061_001):
        assert parse_duration(duration_ms(ms), "ms") == ms
    assert duration_ms(604_800_000) == "7d" and duration_ms(-1) == -1 and duration_ms(0) == 0
    for n in (1, 1000, 1024, 52_428_800, 1024**3, 3 * 1024**4):
        assert parse_size(size(n)) == n
    assert size(52_428_800) == "50MiB" and size(1000) == 1000 and size(-1) == -1


def test_dump_is_sorted_and_readable() -> None:
    text = dump(
        {
            "brokers": {
                "r": {
                    "vhosts": {"v": {"queues": {"b": {"type": "classic"}, "a": {"type": "quorum"}}}},
                    "type": "rabbitmq",
                }
            },
            "version": 1,
        }
    )
    assert text == (
        "version: 1\n"
        "brokers:\n"
        "  r:\n"
        "    type: rabbitmq\n"
        "    vhosts:\n"
        "      v:\n"
        "        queues:\n"
        "          a: {type: quorum}\n"
        "          b: {type: classic}\n"
    )
    assert yaml.safe_load(dump({"k": "on", "n": "007", "h": "#"})) == {"k": "on", "n": "007", "h": "#"}


def test_a_broker_sections_keys_come_in_a_fixed_order() -> None:
    # Whatever order a provider builds its section in: what the broker is, then its objects, each
    # kind before the kinds that refer to it; a Kafka broker's schema-registry subjects next to the
    # topics whose records they describe, its quotas after its ACLs.
    kafka = {
        "subjects": {"orders-value": {"schema": '"string"'}},
        "quotas": [{"entity": {"user": "app"}, "producer_byte_rate": 1024}],
        "acls": [{"principal": "User:app", "resource_type": "topic", "resource_name": "orders"}],
        "topics": {"orders": {"partitions": 1}},
        "users": {"app": {"mechanism": "SCRAM-SHA-256"}},
        "connection": {"bootstrap_servers": "127.0.0.1:9092"},
        "type": "kafka",
    }
    document = yaml.safe_load(dump({"version": 1, "brokers": {"k": kafka}}))
    assert list(document["brokers"]["k"]) == ["type", "connection", "users", "topics", "subjects", "acls", "quotas"]
    # Only a broker's own keys: a NATS stream's `subjects` is one of its fields, in their order.
    nats = {"type": "nats", "streams": {"S": {"subjects": ["s.>"], "storage": "file", "max_age": "1d"}}}
    document = yaml.safe_load(dump({"version": 1, "brokers": {"n": nats}}))
    assert list(document["brokers"]["n"]["streams"]["S"]) == ["max_age", "storage", "subjects"]


def test_live_dollar_signs_survive_the_manifest_loader() -> None:
    from topoctl.export import escape_dollars
    from topoctl.manifest.yaml_source import interpolate

    live = {"q-${ENV}": {"x": ["a$$b", "$plain", "cost: 5$"]}}
    exported = escape_dollars(live)
    assert exported == {"q-$${ENV}": {"x": ["a$$$b", "$plain", "cost: 5$"]}}
    assert interpolate("q-$${ENV}", {}, "f:1") == "q-${ENV}"
    assert [interpolate(v, {}, "f:1") for v in exported["q-$${ENV}"]["x"]] == live["q-${ENV}"]["x"]
