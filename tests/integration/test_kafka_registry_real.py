"""Schema-registry subjects against a real Confluent-compatible registry (Confluent Schema Registry,
Karapace, Redpanda's, Apicurio's ccompat API), next to the local Kafka of dev/brokers.

Needs $TOPOCTL_TEST_SCHEMA_REGISTRY (its URL; with $TOPOCTL_TEST_SCHEMA_REGISTRY_USERNAME and
$TOPOCTL_TEST_SCHEMA_REGISTRY_PASSWORD, or $TOPOCTL_TEST_SCHEMA_REGISTRY_TOKEN, when it asks for
credentials). Deselected by default (pyproject: `-m "not ... and not schema_registry_real"`, which
pytest reports as "deselected"); run it with

    docker run -d -p 8081:8081 ... confluentinc/cp-schema-registry    # or any registry you have
    export TOPOCTL_TEST_SCHEMA_REGISTRY=http://127.0.0.1:8081
    python3 -m pytest -m schema_registry_real tests/integration/test_kafka_registry_real.py

Asked for without the variable, it fails: it is never a silent pass. It checks what the double
cannot vouch for: that the registry's own rendering of each schema type plans empty, its answers
to compatibility checks, lookups and deletes, its levels. Every subject it makes carries a random
prefix and is deleted for good at the end, also after a failure.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.cli import apply_ok, assert_empty, change_of, plan_json, planned, topoctl, write_manifest
from tests.integration.servers import required_env
from tests.schema_registry_double.fixtures import manifest

pytestmark = pytest.mark.schema_registry_real
VAR = "TOPOCTL_TEST_SCHEMA_REGISTRY"
ORDER = {
    "type": "record",
    "name": "Order",
    "namespace": "topoctl.test",
    "doc": "an order",
    "fields": [
        {"name": "id", "type": "string"},
        {"name": "at", "type": {"type": "long", "logicalType": "timestamp-millis"}},
        {"name": "status", "type": {"type": "enum", "name": "Status", "symbols": ["NEW", "PAID"]}, "default": "NEW"},
    ],
}
ORDER_V2 = {**ORDER, "fields": [*ORDER["fields"], {"name": "note", "type": ["null", "string"], "default": None}]}
ORDER_BAD = {**ORDER, "fields": [*ORDER["fields"], {"name": "coupon", "type": "string"}]}
PROTO = """// lines of an order
syntax = "proto3";
package topoctl.test;

message Line {
  string sku = 1;   // the article
  int32 qty = 2;
  message Price { int64 cents = 1; string currency = 2; }
  Price price = 3;
}
"""
JSON_SCHEMA = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "properties": {"id": {"type": "string"}},
}


def _client(url: str) -> httpx.Client:
    auth: Any = None
    headers = {"Content-Type": "application/vnd.schemaregistry.v1+json"}
    user, password = os.environ.get(f"{VAR}_USERNAME"), os.environ.get(f"{VAR}_PASSWORD")
    if user and password:
        auth = (user, password)
    elif os.environ.get(f"{VAR}_TOKEN"):
        headers["Authorization"] = f"Bearer {os.environ[f'{VAR}_TOKEN']}"
    return httpx.Client(base_url=url, auth=auth, headers=headers, timeout=30)


@pytest.fixture
def prefix(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    url = required_env(VAR, "a real schema registry")
    monkeypatch.setenv("TOPOCTL_TEST_SR_URL", url)
    name = f"topoctl-{uuid.uuid4().hex[:8]}"
    yield name
    with _client(url) as client:
        for subject in client.get("/subjects", params={"deleted": "true"}).json():
            if subject.startswith(name):
                client.delete(f"/subjects/{subject}")
                client.delete(f"/subjects/{subject}", params={"permanent": "true"})
                client.delete(f"/config/{subject}")


def _write(tmp_path: Path, subjects: dict[str, Any]) -> Path:
    registry: dict[str, Any] = {}
    if os.environ.get(f"{VAR}_USERNAME"):
        registry = {"username": f"${{{VAR}_USERNAME}}", "password": f"${{{VAR}_PASSWORD}}"}
    elif os.environ.get(f"{VAR}_TOKEN"):
        registry = {"token": f"${{{VAR}_TOKEN}}"}
    return write_manifest(tmp_path / "m.yaml", manifest({"subjects": subjects}, **registry))


def test_life_cycle_against_a_real_registry(tmp_path: Path, prefix: str) -> None:
    (tmp_path / "line.proto").write_text(PROTO, encoding="utf-8")
    order, line, audit = f"{prefix}.orders-value", f"{prefix}.lines-value", f"{prefix}.audit-value"
    subjects: dict[str, Any] = {
        order: {"schema": ORDER},
        line: {"schema_type": "PROTOBUF", "schema": "file:line.proto", "compatibility": "FULL"},
        audit: {"schema_type": "JSON", "schema": json.dumps(JSON_SCHEMA, indent=2)},
    }
    path = _write(tmp_path, subjects)
    assert set(planned(plan_json(path)).values()) == {"create"}
    apply_ok(path)
    # The registry's own rendering of each type reads as the manifest's schema.
    assert_empty(path)

    subjects[order] = {"schema": ORDER_V2}
    path = _write(tmp_path, subjects)
    change = change_of(plan_json(path), f"events/subject/{order}")
    assert change["action"] == "update" and [f["field"] for f in change["fields"]] == ["schema"]
    apply_ok(path)
    assert_empty(path)

    refused = topoctl("plan", "-f", _write(tmp_path, {**subjects, order: {"schema": ORDER_BAD}}))
    assert refused.code == 1 and "is not BACKWARD-compatible" in refused.stderr, str(refused)
    older = topoctl("plan", "-f", _write(tmp_path, {**subjects, order: {"schema": ORDER}}))
    assert older.code == 1 and "is version 1 of the subject already" in older.stderr, str(older)

    subjects[order] = {"schema": ORDER_V2, "compatibility": "FORWARD"}
    path = _write(tmp_path, subjects)
    assert planned(plan_json(path)) == {f"events/subject/{order}": "update"}
    apply_ok(path)
    assert_empty(path)

    subjects[audit] = {"state": "absent"}
    subjects[line] = {"state": "absent", "permanent": True}
    path = _write(tmp_path, subjects)
    assert planned(plan_json(path)) == {f"events/subject/{audit}": "delete", f"events/subject/{line}": "delete"}
    apply_ok(path, "--allow-destructive")
    assert_empty(path)
    subjects[audit] = {"state": "absent", "permanent": True}
    path = _write(tmp_path, subjects)
    assert planned(plan_json(path)) == {f"events/subject/{audit}": "delete"}  # soft-deleted: now for good
    apply_ok(path, "--allow-destructive")
    assert_empty(path)
