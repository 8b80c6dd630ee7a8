"""`topoctl export` against the real redis-server: streams, groups and users made with redis-py
(not topoctl) export to a manifest whose plan is empty; the graph of the export draws them."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.cli import topoctl
from tests.integration.export_support import assert_targets_cover, export_to_file
from tests.integration.test_redis_provider import REDIS_URL, cleanup, client

pytestmark = pytest.mark.integration
BROKER = "exp-redis"


@pytest.fixture
def ns() -> Iterator[str]:
    """A prefix for this test's keys and users; all holding it are deleted afterwards."""
    ns = f"x{uuid.uuid4().hex[:8]}"
    yield ns
    cleanup(ns)


def test_export_of_hand_built_streams_groups_and_users_plans_empty(tmp_path: Path, ns: str) -> None:
    r = client()
    r.xadd(f"{ns}:orders", {"a": 1})
    r.xgroup_create(f"{ns}:orders", "billing", "0")
    r.xgroup_create(f"{ns}:orders", "shipping", "$")
    r.xreadgroup("billing", "w1", {f"{ns}:orders": ">"})
    r.xgroup_create(f"{ns}:orders:dlq", "triage", "$", mkstream=True)
    r.xgroup_create(f"{ns}:empty", "tmp", "$", mkstream=True)
    r.xgroup_destroy(f"{ns}:empty", "tmp")
    r.execute_command(
        "ACL SETUSER",
        f"{ns}-svc",
        "on",
        ">svc-password-1",
        f"~{ns}:*",
        f"%R~{ns}:audit",
        "&events.*",
        "+@read",
        "-@dangerous",
        "+xadd",
        "+xack",
    )
    r.execute_command("ACL SETUSER", f"{ns}-off", "off", "resetchannels", "+ping")
    result, exported = export_to_file(tmp_path, BROKER, {"type": "redis", "connection": {"url": REDIS_URL}})
    assert "svc-password-1" not in result.stdout and "#" not in result.stdout.split("users:")[-1]

    body = yaml.safe_load(result.stdout)["brokers"][BROKER]
    assert body["streams"][f"{ns}:orders"] == {"groups": {"billing": {}, "shipping": {}}}
    assert body["streams"][f"{ns}:empty"] == {}
    svc = body["users"][f"{ns}-svc"]
    assert svc["enabled"] is True and "passwords" not in svc
    assert svc["keys"] == [f"~{ns}:*", f"%R~{ns}:audit"] and svc["channels"] == ["&events.*"]
    assert body["users"][f"{ns}-off"] == {"enabled": False, "keys": [], "channels": [], "commands": ["-@all", "+ping"]}
    assert "default" not in body["users"]  # only touched when declared: never exported

    # Narrowed to this test's objects: other tests create and delete keys on the same server.
    targets: list[str] = []
    for key in (f"{ns}:orders", f"{ns}:orders:dlq", f"{ns}:empty"):
        targets += ["--target", f"{BROKER}/stream/{key}", "--target", f"{BROKER}/group/{key}"]
    for user in (f"{ns}-svc", f"{ns}-off"):
        targets += ["--target", f"{BROKER}/user/{user}"]
    assert_targets_cover(exported, targets, lambda a: ns in "/".join(a.name))
    plan = topoctl("plan", "-f", exported, "--detailed-exitcode", *targets)
    assert plan.code == 0, f"the plan of the export is not empty:\n{plan}"
    graph = topoctl("graph", "-f", exported)
    assert graph.code == 0, str(graph)
    assert f"stream {ns}:orders" in graph.stdout and f"group {ns}:orders/billing" in graph.stdout
