"""The shared provider conformance suite, run against the real local redis-server.

Streams and groups have nothing Redis can change in place or must replace (a group's position is
runtime state), so "update" is a user's command rules and "replace" is left out.
"""

from __future__ import annotations

from typing import Any

from tests.integration.conformance import Conformance
from tests.integration.test_redis_provider import REDIS_URL, cleanup


class TestRedisConformance(Conformance):
    stages = ("create", "update", "delete")

    def manifest(self, ns: str, stage: str) -> dict[str, Any]:
        groups: dict[str, Any] = {"billing": {"start": "0", "dead_letter": {"max_deliveries": 3}}, "audit": {}}
        if stage == "delete":
            groups["audit"] = {"state": "absent"}
        commands = ["+@read", "-@dangerous"] if stage == "create" else ["+@read", "+@stream", "-@dangerous"]
        broker = {
            "type": "redis",
            "connection": {"url": REDIS_URL},
            "streams": {f"{ns}:orders": {"groups": groups}, f"{ns}:audit": {"maxlen": 1000}},
            "users": {f"{ns}-svc": {"keys": [f"~{ns}:*"], "commands": commands}},
        }
        return {"version": 1, "brokers": {"conf": broker}}

    def address(self, ns: str, stage: str) -> str:
        return {
            "update": f"conf/user/{ns}-svc",
            "delete": f"conf/group/{ns}:orders/audit",
        }[stage]

    def cleanup(self, ns: str) -> None:
        cleanup(ns)
