"""The shared provider conformance suite for schema-registry subjects: the local Kafka and the
registry double (one for the run, tests/schema_registry_double/fixtures.py `shared()`).

A subject's compatibility level is its update here (a new schema, the other update, cannot be
taken back: the suite's last plan goes back to the create manifest, and a subject's older schema is
refused, see test_kafka_registry.py), another schema type its replace (a soft delete, then a
registration), `state: absent` its delete (soft)."""

from __future__ import annotations

from typing import Any

from confluent_kafka.admin import AdminClient

from tests.integration.conformance import Conformance
from tests.schema_registry_double.fixtures import BOOTSTRAP, SHARED_ENV, manifest, shared

ORDER = {"type": "record", "name": "Order", "namespace": "conf", "fields": [{"name": "id", "type": "string"}]}
LINE = 'syntax = "proto3";\nmessage Line {\n  string sku = 1;\n}\n'


class TestKafkaRegistryConformance(Conformance):
    def manifest(self, ns: str, stage: str) -> dict[str, Any]:
        shared()
        order = {"schema": ORDER, "compatibility": "BACKWARD" if stage == "create" else "FULL"}
        audit: dict[str, Any] = {"schema_type": "JSON", "schema": {"type": "object"}}
        if stage in ("replace", "delete"):
            audit = {"schema_type": "PROTOBUF", "schema": LINE}  # another type: a replace
        if stage == "delete":
            audit = {"state": "absent"}
        sections = {
            "topics": {f"{ns}.orders": {"partitions": 1, "dead_letter": {}}},
            "subjects": {f"{ns}.orders-value": order, f"{ns}.audit-value": audit},
        }
        return manifest(sections, name="conf", env=SHARED_ENV)

    def address(self, ns: str, stage: str) -> str:
        return {
            "update": f"conf/subject/{ns}.orders-value",
            "replace": f"conf/subject/{ns}.audit-value",
            "delete": f"conf/subject/{ns}.audit-value",
        }[stage]

    def cleanup(self, ns: str) -> None:
        from tests.integration.test_kafka_provider import cleanup

        cleanup(AdminClient({"bootstrap.servers": BOOTSTRAP}), ns)
        registry = shared().registry
        with registry.lock:
            for name in [s for s in registry.subjects if s.startswith(ns)]:
                del registry.subjects[name]
                registry.levels.pop(name, None)
