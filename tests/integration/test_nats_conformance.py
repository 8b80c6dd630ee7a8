"""The shared provider conformance suite, run against the real local nats-server -js."""

from __future__ import annotations

import os
from typing import Any

from tests.integration.conformance import Conformance

NATS_URL = os.environ.get("NATS_URL", "nats://127.0.0.1:4222")


class TestNatsConformance(Conformance):
    def manifest(self, ns: str, stage: str) -> dict[str, Any]:
        orders: dict[str, Any] = {
            "subjects": [f"{ns}.orders.>"],
            "max_age": "1d" if stage == "create" else "2d",  # in place
            "storage": "file",
            "consumers": {"billing": {"ack_policy": "explicit", "max_deliver": 3, "dead_letter": {}}},
        }
        audit: dict[str, Any] = {"subjects": [f"{ns}.audit"], "storage": "file"}
        if stage in ("replace", "delete"):
            audit["storage"] = "memory"  # storage is frozen: replace
        if stage == "delete":
            orders["consumers"]["billing"] = {"state": "absent"}
        streams = {f"{ns}_ORDERS": orders, f"{ns}_AUDIT": audit}
        broker = {
            "type": "nats",
            "connection": {"servers": [NATS_URL]},
            "streams": streams,
            "key_value": {f"{ns}_cache": {"history": 3}},
        }
        return {"version": 1, "brokers": {"conf": broker}}

    def address(self, ns: str, stage: str) -> str:
        return {
            "update": f"conf/stream/{ns}_ORDERS",
            "replace": f"conf/stream/{ns}_AUDIT",
            "delete": f"conf/consumer/{ns}_ORDERS/billing",
        }[stage]

    def cleanup(self, ns: str) -> None:
        from tests.integration.test_nats_provider import cleanup

        cleanup(ns)
