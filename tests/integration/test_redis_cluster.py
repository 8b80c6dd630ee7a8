"""The Redis provider against a real 3-node Redis Cluster (`dev/brokers up redis-cluster`, which
this module runs itself: CI's `dev/brokers up` starts the single server only).

Keys spread over the nodes' slots; ACL users live on every node separately.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from redis.cluster import RedisCluster

from tests.cli import apply_ok as apply
from tests.cli import assert_empty, change_of, planned, topoctl, write_manifest
from tests.cli import plan_json as plan
from tests.integration.conformance import Conformance
from tests.integration.servers import dev_brokers_up

pytestmark = pytest.mark.integration
PORTS = (7000, 7001, 7002)
URL = f"redis://127.0.0.1:{PORTS[0]}"


def nodes() -> list[redis.Redis]:
    return [redis.Redis(port=p, decode_responses=True, socket_timeout=5) for p in PORTS]


@pytest.fixture(scope="module")
def cluster() -> Iterator[RedisCluster]:
    dev_brokers_up("redis-cluster")
    c = RedisCluster(host="127.0.0.1", port=PORTS[0], decode_responses=True)
    yield c
    c.close()


def _cleanup(ns: str) -> None:
    for node in nodes():
        for key in list(node.scan_iter(match=f"*{ns}*", count=1000)):
            node.delete(key)
        users = [u for u in node.acl_users() if ns in u]
        if users:
            node.acl_deluser(*users)


@pytest.fixture
def ns(cluster: RedisCluster) -> Iterator[str]:
    ns = f"c{uuid.uuid4().hex[:8]}"
    yield ns
    _cleanup(ns)


def manifest(ns: str, streams: dict[str, Any], cluster: bool = True, **extra: Any) -> dict[str, Any]:
    broker: dict[str, Any] = {"type": "redis", "connection": {"url": URL, "cluster": cluster}, "streams": streams}
    broker.update(extra)
    return {"version": 1, "brokers": {"rc": broker}}


def keys_spread(cluster: RedisCluster, ns: str, count: int) -> list[str]:
    """`count` keys of this namespace, on at least two different nodes."""
    keys = [f"{ns}:s{i}" for i in range(count)]
    owners = {cluster.get_node_from_key(k).name for k in keys}
    assert len(owners) >= 2, "the keys all hash to one node"
    return keys


def test_streams_and_groups_across_nodes(tmp_path: Path, cluster: RedisCluster, ns: str) -> None:
    keys = keys_spread(cluster, ns, 6)
    streams: dict[str, Any] = {k: {"groups": {"g": {"start": "0"}}} for k in keys}
    streams[keys[0]]["groups"]["g"]["dead_letter"] = {"max_deliveries": 2}
    m = write_manifest(tmp_path / "m.yaml", manifest(ns, streams))
    apply(m)
    assert all(cluster.type(k) == "stream" for k in [*keys, f"{keys[0]}:dlq"])
    assert all([g["name"] for g in cluster.xinfo_groups(k)] == ["g"] for k in keys)
    assert_empty(m)
    # Entries on two nodes; deleting those streams shows what is lost on each.
    cluster.xadd(keys[1], {"a": 1})
    cluster.xadd(keys[2], {"a": 1})
    cluster.xadd(keys[2], {"a": 2})
    gone = {**streams, keys[1]: {"state": "absent"}, keys[2]: {"state": "absent"}}
    result = plan(write_manifest(tmp_path / "gone.yaml", manifest(ns, gone)))
    assert "1 entry will be lost" in change_of(result, f"rc/stream/{keys[1]}")["reasons"]
    assert "2 entries will be lost" in change_of(result, f"rc/stream/{keys[2]}")["reasons"]
    apply(tmp_path / "gone.yaml", "--allow-destructive")
    assert not cluster.exists(keys[1]) and not cluster.exists(keys[2]) and cluster.exists(keys[3])
    assert_empty(tmp_path / "gone.yaml")


def test_users_are_set_on_every_node(tmp_path: Path, cluster: RedisCluster, ns: str) -> None:
    user = f"{ns}-svc"
    body = {
        "passwords": ["${SVC_PW}"],
        "keys": [f"~{ns}:*"],
        "commands": ["+@read", "+@stream", "-@dangerous", "+ping"],
    }
    m = write_manifest(tmp_path / "m.yaml", manifest(ns, {}, users={user: body}))
    env = {"SVC_PW": "cluster-svc-pw"}
    assert topoctl("apply", "-f", m, "--auto-approve", env=env).code == 0
    for port in PORTS:  # the user can log in on every node
        assert redis.Redis(port=port, username=user, password="cluster-svc-pw").ping()
    assert topoctl("plan", "-f", m, "--detailed-exitcode", env=env).code == 0
    # Lost on one node (ACLs are per node): the plan updates it, and then it is everywhere again.
    nodes()[1].acl_deluser(user)
    result = topoctl("plan", "-f", m, "--format", "json", "--detailed-exitcode", env=env)
    change = change_of(result, f"rc/user/{user}")
    assert change["action"] == "update"
    assert change["before"]["keys"] == "(differs between cluster nodes)"
    assert "cluster-svc-pw" not in result.stdout
    assert topoctl("apply", "-f", m, "--auto-approve", env=env).code == 0
    assert all(user in node.acl_users() for node in nodes())
    assert topoctl("plan", "-f", m, "--detailed-exitcode", env=env).code == 0


def test_prune_and_export_read_every_node(tmp_path: Path, cluster: RedisCluster, ns: str) -> None:
    keys = keys_spread(cluster, ns, 6)
    for key in keys:
        cluster.xgroup_create(key, "g", "$", mkstream=True)
    exported_conn = write_manifest(
        tmp_path / "conn.yaml",
        {"version": 1, "brokers": {"rc": {"type": "redis", "connection": {"url": URL, "cluster": True}}}},
    )
    result = topoctl("export", "--broker", "rc", "-f", exported_conn)
    assert result.code == 0, str(result)
    exported = tmp_path / "exported.yaml"
    exported.write_text(result.stdout, encoding="utf-8")
    targets = [t for k in keys for t in ("--target", f"rc/stream/{k}", "--target", f"rc/group/{k}")]
    empty = topoctl("plan", "-f", exported, "--detailed-exitcode", *targets)
    assert empty.code == 0, str(empty)
    assert all(f"{k}:" in result.stdout for k in keys)

    keep = keys[0]
    m = write_manifest(tmp_path / "m.yaml", manifest(ns, {keep: {"groups": {"g": {}}}}, prune={"prefix": f"{ns}:"}))
    assert planned(plan(m)) == {f"rc/stream/{k}": "delete" for k in keys[1:]}
    apply(m, "--allow-destructive")
    assert [k for k in keys if cluster.exists(k)] == [keep]


def test_a_cluster_node_without_cluster_true_says_so(tmp_path: Path, cluster: RedisCluster, ns: str) -> None:
    keys = keys_spread(cluster, ns, 6)
    m = write_manifest(tmp_path / "m.yaml", manifest(ns, {k: {} for k in keys}, cluster=False))
    result = topoctl("plan", "-f", m)
    assert result.code == 1, str(result)
    assert "set connection.cluster: true" in result.stderr and "Traceback" not in result.stderr


def test_groups_types_targets_and_staleness_on_a_cluster(tmp_path: Path, cluster: RedisCluster, ns: str) -> None:
    keys = keys_spread(cluster, ns, 4)
    cluster.set(keys[3], "a string")  # declared as a stream: a plan error, never overwritten
    streams = {k: {"groups": {"g": {"start": "0"}}} for k in keys}
    bad = write_manifest(tmp_path / "bad.yaml", manifest(ns, streams))
    result = topoctl("plan", "-f", bad)
    assert result.code == 1 and f"key '{keys[3]}' holds a string, not a stream" in result.stderr, str(result)
    assert cluster.get(keys[3]) == "a string"

    del streams[keys[3]]
    m = write_manifest(tmp_path / "m.yaml", manifest(ns, streams))
    target = ["--target", f"rc/group/{keys[0]}/g"]
    assert planned(topoctl("plan", "-f", m, "--format", "json", *target)) == {
        f"rc/stream/{keys[0]}": "create",
        f"rc/group/{keys[0]}/g": "create",
    }
    apply(m)
    # Positions move on and are never fixed; a group destroyed out of band comes back.
    cluster.xadd(keys[1], {"a": 1})
    cluster.xreadgroup("g", "w", {keys[1]: ">"})
    cluster.xgroup_destroy(keys[2], "g")
    assert planned(plan(m)) == {f"rc/group/{keys[2]}/g": "create"}
    apply(m)
    assert_empty(m)

    # Deleting a group with a pending entry counts it; a saved plan that said nothing was pending
    # is stale once something is.
    drop = {**streams, keys[1]: {"groups": {"g": {"state": "absent"}}}, keys[2]: {"groups": {"g": {"state": "absent"}}}}
    d = write_manifest(tmp_path / "drop.yaml", manifest(ns, drop))
    result = plan(d)
    assert (
        "1 pending entry (delivered, not acknowledged) will be lost"
        in change_of(result, f"rc/group/{keys[1]}/g")["reasons"]
    )
    saved = tmp_path / "plan.json"
    assert topoctl("plan", "-f", d, "-o", saved).code == 0
    cluster.xadd(keys[2], {"a": 1})
    cluster.xreadgroup("g", "w", {keys[2]: ">"})
    stale = topoctl("apply", saved, "--auto-approve", "--allow-destructive")
    assert stale.code == 1 and "saved plan is stale" in stale.stderr, str(stale)
    assert topoctl("apply", "-f", d, "--auto-approve", "--allow-destructive").code == 0
    assert cluster.xinfo_groups(keys[1]) == [] and cluster.xinfo_groups(keys[2]) == []


def test_the_connecting_user_is_not_locked_out_on_any_node(tmp_path: Path, cluster: RedisCluster, ns: str) -> None:
    before = [n.execute_command("ACL LIST") for n in nodes()]
    m = write_manifest(tmp_path / "m.yaml", manifest(ns, {}, users={"default": {"enabled": False}}))
    result = topoctl("apply", "-f", m, "--auto-approve")
    assert result.code == 1 and "disabling it would lock topoctl out" in result.stderr, str(result)
    assert [n.execute_command("ACL LIST") for n in nodes()] == before


class TestRedisClusterConformance(Conformance):
    stages = ("create", "update", "delete")

    @pytest.fixture
    def ns(self, cluster: RedisCluster) -> Iterator[str]:
        ns = f"cc{uuid.uuid4().hex[:8]}"
        yield ns
        _cleanup(ns)

    def manifest(self, ns: str, stage: str) -> dict[str, Any]:
        groups: dict[str, Any] = {"billing": {"dead_letter": {"max_deliveries": 3}}, "audit": {}}
        if stage == "delete":
            groups["audit"] = {"state": "absent"}
        commands = ["+@read"] if stage == "create" else ["+@read", "+@stream"]
        streams = {f"{ns}:orders": {"groups": groups}, f"{ns}:audit": {}, f"{ns}:x": {}}
        return manifest(ns, streams, users={f"{ns}-svc": {"keys": [f"~{ns}:*"], "commands": commands}})

    def address(self, ns: str, stage: str) -> str:
        return {"update": f"rc/user/{ns}-svc", "delete": f"rc/group/{ns}:orders/audit"}[stage]

    def cleanup(self, ns: str) -> None:
        _cleanup(ns)
