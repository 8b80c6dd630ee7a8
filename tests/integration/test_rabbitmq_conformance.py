"""RabbitMQ through the shared provider conformance suite (tests/integration/conformance.py)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.conformance import Conformance
from tests.integration.rabbitmq_support import BROKER, api, delete_vhost, document
from topoctl.model import Address


class TestRabbitMQConformance(Conformance):
    def manifest(self, ns: str, stage: str) -> dict[str, Any]:
        ttl = "2h" if stage in ("update", "replace", "delete") else "1h"
        length = 200 if stage in ("replace", "delete") else 100
        vhost: dict[str, Any] = {
            "exchanges": {"orders": {"type": "topic"}},
            "queues": {
                "billing": {"type": "quorum", "arguments": {"x-max-length": length}, "dead_letter": {}},
                "audit": {"type": "classic"},
            },
            "bindings": [
                {"source": "orders", "destination": "billing", "routing_key": "order.*"},
                {"source": "orders", "destination": "audit", "routing_key": "#"},
            ],
            "policies": {"ttl": {"pattern": "^audit$", "apply_to": "queues", "definition": {"message-ttl": ttl}}},
        }
        if stage == "delete":
            vhost["queues"]["audit"] = {"state": "absent"}
            vhost["bindings"][1]["state"] = "absent"
        return document({ns: vhost})

    def address(self, ns: str, stage: str) -> str:
        if stage == "update":
            return str(Address(BROKER, "policy", (ns, "ttl")))
        if stage == "replace":
            return str(Address(BROKER, "queue", (ns, "billing")))
        return str(Address(BROKER, "queue", (ns, "audit")))

    def cleanup(self, ns: str) -> None:
        with api() as client:
            delete_vhost(client, ns)


pytestmark = pytest.mark.integration
