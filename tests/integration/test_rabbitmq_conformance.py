"""RabbitMQ through the shared provider conformance suite (tests/integration/conformance.py)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.conformance import Conformance
from tests.integration.rabbitmq_support import BROKER, api, delete_vhost, document, seg
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


def _cleanup_estate(ns: str) -> None:
    with api() as client:
        delete_vhost(client, ns)
        for user in client.get("/api/users").json():
            if user["name"].startswith(ns):
                client.delete(f"/api/users/{seg(user['name'])}")


class TestRabbitMQUserConformance(Conformance):
    """Users update in place (a password, tags, limits): no stage can force a replace."""

    stages = ("create", "update", "delete")

    def manifest(self, ns: str, stage: str) -> dict[str, Any]:
        tags = ["monitoring", "policymaker"] if stage in ("update", "delete") else ["monitoring"]
        users: dict[str, Any] = {
            f"{ns}-app": {"password": f"pw-{ns}", "tags": tags, "limits": {"max-connections": 10}},
            f"{ns}-old": {"password": f"old-{ns}"},
        }
        if stage == "delete":
            users[f"{ns}-old"] = {"state": "absent"}
        doc = document({})
        doc["brokers"][BROKER]["users"] = users
        return doc

    def address(self, ns: str, stage: str) -> str:
        return str(Address(BROKER, "user", (f"{ns}-app" if stage == "update" else f"{ns}-old",)))

    def cleanup(self, ns: str) -> None:
        _cleanup_estate(ns)


class TestRabbitMQPermissionConformance(Conformance):
    stages = ("create", "update", "delete")

    def manifest(self, ns: str, stage: str) -> dict[str, Any]:
        read = "^app\\." if stage in ("update", "delete") else ".*"
        topic: dict[str, Any] = {"exchange": "events", "write": "^a\\.", "read": ".*"}
        vhost: dict[str, Any] = {
            "limits": {"max-queues": 100},
            "exchanges": {"events": {"type": "topic"}},
            "permissions": {f"{ns}-app": {"configure": "^$", "write": ".*", "read": read}},
            "topic_permissions": {f"{ns}-app": [topic]},
        }
        if stage == "delete":
            vhost["topic_permissions"][f"{ns}-app"] = [{"exchange": "events", "state": "absent"}]
        doc = document({ns: vhost})
        doc["brokers"][BROKER]["users"] = {f"{ns}-app": {"tags": []}}
        return doc

    def address(self, ns: str, stage: str) -> str:
        if stage == "update":
            return str(Address(BROKER, "permission", (ns, f"{ns}-app")))
        return str(Address(BROKER, "topic_permission", (ns, f"{ns}-app", "events")))

    def cleanup(self, ns: str) -> None:
        _cleanup_estate(ns)


class TestRabbitMQOperatorPolicyConformance(Conformance):
    stages = ("create", "update", "delete")

    def manifest(self, ns: str, stage: str) -> dict[str, Any]:
        length = 500 if stage in ("update", "delete") else 1000
        vhost: dict[str, Any] = {
            "queues": {"jobs": {}},
            "operator_policies": {
                "cap": {"pattern": ".*", "apply_to": "queues", "definition": {"max-length": length}},
                "ttl": {"pattern": "^jobs$", "priority": 1, "definition": {"message-ttl": "1d"}},
            },
        }
        if stage == "delete":
            vhost["operator_policies"]["ttl"] = {"state": "absent"}
        return document({ns: vhost})

    def address(self, ns: str, stage: str) -> str:
        return str(Address(BROKER, "operator_policy", (ns, "cap" if stage == "update" else "ttl")))

    def cleanup(self, ns: str) -> None:
        _cleanup_estate(ns)


class TestRabbitMQShovelConformance(Conformance):
    stages = ("create", "update", "delete")

    def manifest(self, ns: str, stage: str) -> dict[str, Any]:
        key = "moved.v2" if stage in ("update", "delete") else "moved"
        local = f"amqp:///{ns}"
        vhost: dict[str, Any] = {
            "exchanges": {"out": {"type": "topic"}},
            "queues": {"in": {}},
            "shovels": {
                "move": {
                    "src-uri": local,
                    "src-queue": "in",
                    "dest-uri": local,
                    "dest-exchange": "out",
                    "dest-exchange-key": key,
                }
            },
            "federation_upstreams": {"peer": {"uri": "amqp://127.0.0.1", "max-hops": 1}},
        }
        if stage == "delete":
            vhost["federation_upstreams"]["peer"] = {"state": "absent"}
        return document({ns: vhost})

    def address(self, ns: str, stage: str) -> str:
        if stage == "update":
            return str(Address(BROKER, "shovel", (ns, "move")))
        return str(Address(BROKER, "federation_upstream", (ns, "peer")))

    def cleanup(self, ns: str) -> None:
        _cleanup_estate(ns)
