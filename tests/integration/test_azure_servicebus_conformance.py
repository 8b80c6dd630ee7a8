"""The shared provider conformance suite, run against the Service Bus double through the real
azure-servicebus SDK over HTTP (no Service Bus runs here; see docs/azure-servicebus.md).

"update" is a queue's lock duration (the service changes it in place); "replace" is turning on
sessions, which the service cannot change on an existing queue; "delete" is a subscription rule.
"""

from __future__ import annotations

from typing import Any

from tests.azure_servicebus_double import fixtures
from tests.integration.conformance import Conformance


class TestServiceBusConformance(Conformance):
    def manifest(self, ns: str, stage: str) -> dict[str, Any]:
        fixtures.shared()
        rules: dict[str, Any] = {
            "created": {"sql_filter": "type = 'created'"},
            "eu": {"correlation_filter": {"label": "order", "properties": {"region": "eu"}}},
        }
        if stage == "delete":
            rules["eu"] = {"state": "absent"}
        queue: dict[str, Any] = {
            "lock_duration": "30s" if stage == "create" else "45s",
            "dead_letter": {"max_deliveries": 5},
        }
        if stage in ("replace", "delete"):
            queue["requires_session"] = True
        broker = fixtures.broker(
            {
                "queues": {f"{ns}-orders": queue, f"{ns}-audit": {"default_message_time_to_live": "14d"}},
                "topics": {
                    f"{ns}-events": {"subscriptions": {"billing": {"forward_to": f"{ns}-audit", "rules": rules}}}
                },
            },
            env=fixtures.SHARED_ENV,
        )
        return {"version": 1, "brokers": {"conf": broker}}

    def address(self, ns: str, stage: str) -> str:
        return {
            "update": f"conf/queue/{ns}-orders",
            "replace": f"conf/queue/{ns}-orders",
            "delete": f"conf/rule/{ns}-events/billing/eu",
        }[stage]

    def cleanup(self, ns: str) -> None:
        double = fixtures.shared()
        with double.namespace.lock:
            for key in [k for k in double.namespace.entities if k.startswith(ns)]:
                del double.namespace.entities[key]
