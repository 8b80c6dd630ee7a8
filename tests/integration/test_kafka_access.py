"""Client quotas and SCRAM users against the real three-broker cluster: quotas diffed as a set
(default entities included), users created, changed and deleted, their passwords checked by
logging in over the SCRAM listener, and never shown."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient

from tests.cli import apply_ok, assert_empty, change_of, planned, topoctl, write_manifest
from tests.cli import plan_json as plan
from tests.integration.kafka_cluster_support import ADMIN, PLAIN, SASL
from tests.integration.kafka_cluster_support import kafka_cluster as kafka_cluster
from tests.integration.kafka_cluster_support import ns as ns

pytestmark = pytest.mark.integration

SASL_CONNECTION = {
    "bootstrap_servers": SASL,
    "sasl": {"mechanism": "SCRAM-SHA-512", "username": ADMIN[0], "password": ADMIN[1]},
}


def manifest(connection: dict[str, Any] | None = None, **sections: Any) -> dict[str, Any]:
    broker = {"type": "kafka", "connection": connection or {"bootstrap_servers": PLAIN}, **sections}
    return {"version": 1, "brokers": {"cluster": broker}}


def live_quotas(ns: str) -> dict[tuple[tuple[str, str | None], ...], dict[str, float]]:
    from kafka.admin import KafkaAdminClient
    from kafka.protocol.admin import DescribeClientQuotasRequest

    client = KafkaAdminClient(bootstrap_servers=PLAIN.split(","))
    try:

        async def describe() -> Any:
            return await client._manager.send(DescribeClientQuotasRequest(components=[], strict=False))

        entries = client._manager.run(describe).entries
    finally:
        client.close()
    out = {}
    for entry in entries:
        entity = tuple(sorted((e.entity_type, e.entity_name) for e in entry.entity))
        if any((name or "").startswith(ns) for _, name in entity):
            out[entity] = {v.key: v.value for v in entry.values}
    return out


def test_quotas_as_a_set_with_default_entities(tmp_path: Path, kafka_cluster: AdminClient, ns: str) -> None:
    alice, bob = f"{ns}-alice", f"{ns}-bob"
    quotas: list[dict[str, Any]] = [
        {"entity": {"user": alice}, "producer_byte_rate": "1MiB", "consumer_byte_rate": 2097152},
        {"entity": {"user": alice, "client-id": "<default>"}, "request_percentage": 50},
        {"entity": {"user": bob, "client-id": f"{ns}-app"}, "controller_mutation_rate": 10},
        {"entity": {"client-id": f"{ns}-batch"}, "request_percentage": 12.5},
    ]
    path = write_manifest(tmp_path / "m.yaml", manifest(quotas=quotas))
    assert planned(plan(path)) == {
        f"cluster/quota/user/{alice}": "create",
        f"cluster/quota/user/{alice}/client-id/<default>": "create",
        f"cluster/quota/user/{bob}/client-id/{ns}-app": "create",
        f"cluster/quota/client-id/{ns}-batch": "create",
    }
    apply_ok(path)
    live = live_quotas(ns)
    assert live[(("user", alice),)] == {"producer_byte_rate": 1048576.0, "consumer_byte_rate": 2097152.0}
    assert live[(("client-id", None), ("user", alice))] == {"request_percentage": 50.0}
    assert live[(("client-id", f"{ns}-app"), ("user", bob))] == {"controller_mutation_rate": 10.0}
    assert live[(("client-id", f"{ns}-batch"),)] == {"request_percentage": 12.5}
    assert_empty(path)

    # A value changed, one no longer declared (removed: the values are a set), one entity gone.
    quotas[0] = {"entity": {"user": alice}, "producer_byte_rate": "2MiB"}
    quotas[3] = {"entity": {"client-id": f"{ns}-batch"}, "state": "absent"}
    path = write_manifest(tmp_path / "m.yaml", manifest(quotas=quotas))
    result = plan(path)
    assert planned(result) == {
        f"cluster/quota/user/{alice}": "update",
        f"cluster/quota/client-id/{ns}-batch": "delete",
    }
    fields = {f["field"]: (f["before"], f["after"]) for f in change_of(result, f"cluster/quota/user/{alice}")["fields"]}
    assert fields == {"producer_byte_rate": (1048576, 2097152), "consumer_byte_rate": (2097152, None)}
    refused = topoctl("apply", "-f", path, "--auto-approve")
    assert refused.code == 1 and "--allow-destructive" in refused.stderr
    apply_ok(path, "--allow-destructive")
    live = live_quotas(ns)
    assert live[(("user", alice),)] == {"producer_byte_rate": 2097152.0}
    assert (("client-id", f"{ns}-batch"),) not in live
    assert_empty(path)

    # prune: quotas (narrowed by --target to this test's entities) deletes an undeclared one.
    pruned = manifest(quotas=quotas[:2], prune={"quotas": True})
    path = write_manifest(tmp_path / "p.yaml", pruned)
    targeted = topoctl(
        "plan", "-f", path, "--format", "json", "--target", f"cluster/quota/user/{bob}", "--detailed-exitcode"
    )
    assert planned(targeted) == {f"cluster/quota/user/{bob}/client-id/{ns}-app": "delete"}
    export = topoctl("export", "--broker", "cluster", "-f", path)
    assert export.code == 0, str(export)
    exported = yaml.safe_load(export.stdout)["brokers"]["cluster"]["quotas"]
    mine = [q for q in exported if any(str(v).startswith(ns) for v in q["entity"].values())]
    assert {"entity": {"user": alice, "client-id": "<default>"}, "request_percentage": 50} in mine
    # The export plans empty (here: this test's quotas, as exported).
    again = write_manifest(tmp_path / "export.yaml", manifest(quotas=mine))
    assert_empty(again)


def test_quota_keys_and_values_are_checked_offline(tmp_path: Path) -> None:
    bad = manifest(quotas=[{"entity": {"ip": "10.0.0.1"}, "producer_byte_rate": 10}])
    path = write_manifest(tmp_path / "m.yaml", bad)
    result = topoctl("validate", "-f", path)
    assert result.code == 1 and "m.yaml:" in result.stderr and "connection_creation_rate" in result.stderr
    # The broker keeps byte rates as integers ("cannot be a fractional value"): said offline.
    bad = manifest(quotas=[{"entity": {"user": "u"}, "consumer_byte_rate": 1000.5}])
    result = topoctl("validate", "-f", write_manifest(tmp_path / "m.yaml", bad))
    assert result.code == 1 and "whole number" in result.stderr, str(result)


def login(user: str, password: str, mechanism: str) -> bool:
    errors: list[KafkaError] = []
    client = AdminClient(
        {
            "bootstrap.servers": SASL,
            "security.protocol": "SASL_PLAINTEXT",
            "sasl.mechanism": mechanism,
            "sasl.username": user,
            "sasl.password": password,
            "error_cb": errors.append,
            "log_level": 0,
        }
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            client.list_topics(timeout=0.5)
            return True
        except KafkaException:
            client.poll(0)
            if any(e.code() == KafkaError._AUTHENTICATION for e in errors):
                return False
    raise AssertionError("no answer from the SASL listener")


def test_scram_users_created_changed_checked_and_deleted(
    tmp_path: Path, kafka_cluster: AdminClient, ns: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    user, other = f"{ns}-svc", f"{ns}-old"
    first, second = f"first-{ns}-Pw1", f"second-{ns}-Pw2"
    monkeypatch.setenv("SVC_PASSWORD", first)
    users = {
        user: {"mechanism": "SCRAM-SHA-256", "password": "${SVC_PASSWORD}"},
        other: {"mechanism": "SCRAM-SHA-512", "iterations": 8192, "password": "other-password"},
    }
    path = write_manifest(tmp_path / "m.yaml", manifest(SASL_CONNECTION, users=users))
    created = plan(path)
    assert planned(created) == {f"cluster/user/{user}": "create", f"cluster/user/{other}": "create"}
    assert first not in created.stdout
    applied = apply_ok(path)
    assert first not in applied.stdout + applied.stderr
    assert login(user, first, "SCRAM-SHA-256") and not login(user, "wrong", "SCRAM-SHA-256")
    assert login(other, "other-password", "SCRAM-SHA-512")
    assert_empty(path)

    # A new password: found by logging in, shown as changed, never shown.
    monkeypatch.setenv("SVC_PASSWORD", second)
    result = plan(path)
    assert planned(result) == {f"cluster/user/{user}": "update"}, str(result)
    fields = change_of(result, f"cluster/user/{user}")["fields"]
    assert fields == [{"field": "password", "before": "(sensitive value)", "after": "(sensitive value changed)"}]
    text = topoctl("plan", "-f", path)
    assert "(sensitive value changed)" in text.stdout
    assert second not in text.stdout + result.stdout and first not in text.stdout
    applied = apply_ok(path)
    assert second not in applied.stdout + applied.stderr
    assert login(user, second, "SCRAM-SHA-256") and not login(user, first, "SCRAM-SHA-256")
    assert_empty(path)

    # Another mechanism: the new credential is made, the old one removed.
    users[user] = {"mechanism": "SCRAM-SHA-512", "password": "${SVC_PASSWORD}"}
    path = write_manifest(tmp_path / "m.yaml", manifest(SASL_CONNECTION, users=users))
    assert planned(plan(path)) == {f"cluster/user/{user}": "update"}
    apply_ok(path)
    assert login(user, second, "SCRAM-SHA-512") and not login(user, second, "SCRAM-SHA-256")
    described = kafka_cluster.describe_user_scram_credentials([user])[user].result()
    assert [i.iterations for i in described.scram_credential_infos] == [4096]
    assert_empty(path)

    # Over PLAINTEXT there is no SCRAM login: the plan says so and shows no change.
    monkeypatch.setenv("SVC_PASSWORD", first)
    plaintext = write_manifest(tmp_path / "plain.yaml", manifest(users=users))
    quiet = topoctl("plan", "-f", plaintext, "--detailed-exitcode")
    assert quiet.code == 0, str(quiet)
    assert "password not compared" in quiet.stdout and first not in quiet.stdout
    monkeypatch.setenv("SVC_PASSWORD", second)

    users[other] = {"state": "absent"}
    path = write_manifest(tmp_path / "m.yaml", manifest(SASL_CONNECTION, users=users))
    deleting = plan(path)
    assert planned(deleting) == {f"cluster/user/{other}": "delete"}
    assert change_of(deleting, f"cluster/user/{other}")["destructive"]
    apply_ok(path, "--allow-destructive")
    assert not login(other, "other-password", "SCRAM-SHA-512")
    assert_empty(path)

    export = topoctl("export", "--broker", "cluster", "-f", path)
    assert export.code == 0, str(export)
    assert user in export.stdout and second not in export.stdout


def test_the_connecting_user_cannot_be_locked_out(tmp_path: Path, kafka_cluster: AdminClient) -> None:
    users = {ADMIN[0]: {"mechanism": "SCRAM-SHA-512", "password": "not-the-admin-password"}}
    path = write_manifest(tmp_path / "m.yaml", manifest(SASL_CONNECTION, users=users))
    result = topoctl("plan", "-f", path)
    assert result.code == 1 and "lock" not in result.stdout, str(result)
    assert "is the user topoctl connects as" in result.stderr
    assert "not-the-admin-password" not in result.stderr + result.stdout
    assert login(*ADMIN, "SCRAM-SHA-512")
