"""The shared provider conformance suite, run against the real local Kafka."""

from __future__ import annotations

import os
from typing import Any

from confluent_kafka.admin import AdminClient

from tests.integration.conformance import Conformance

BOOTSTRAP = os.environ.get("KAFKA_BOOTSTRAP", "127.0.0.1:9092")


class TestKafkaConformance(Conformance):
    def manifest(self, ns: str, stage: str) -> dict[str, Any]:
        orders: dict[str, Any] = {"partitions": 3, "config": {"retention.ms": "1d"}, "dead_letter": {}}
        if stage != "create":
            orders["config"] = {"retention.ms": "2d"}  # in place
        audit: dict[str, Any] = {"partitions": 1}
        topics = {f"{ns}.orders": orders, f"{ns}.audit": audit, f"{ns}.shrink": {"partitions": 4}}
        if stage in ("replace", "delete"):
            topics[f"{ns}.shrink"] = {"partitions": 2}  # a partition decrease: replace
        if stage == "delete":
            topics[f"{ns}.audit"] = {"state": "absent"}
        acls = [
            {"principal": f"User:{ns}", "resource_type": "topic", "resource_name": f"{ns}.orders", "operation": "read"}
        ]
        broker = {"type": "kafka", "connection": {"bootstrap_servers": BOOTSTRAP}, "topics": topics, "acls": acls}
        return {"version": 1, "brokers": {"conf": broker}}

    def address(self, ns: str, stage: str) -> str:
        return {
            "update": f"conf/topic/{ns}.orders",
            "replace": f"conf/topic/{ns}.shrink",
            "delete": f"conf/topic/{ns}.audit",
        }[stage]

    def cleanup(self, ns: str) -> None:
        from tests.integration.test_kafka_provider import cleanup

        cleanup(AdminClient({"bootstrap.servers": BOOTSTRAP}), ns)
