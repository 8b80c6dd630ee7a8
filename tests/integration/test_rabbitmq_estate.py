"""Users, permissions, topic permissions, limits, operator policies, shovels and federation upstreams
against the real RabbitMQ: create, update in place, drift made out of band, delete, plan empty after
every apply, and no secret in any output."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pika
import pytest
import yaml

from tests.cli import Result, planned, topoctl, write_manifest
from tests.integration.rabbitmq_support import AUTH, BROKER, URL, api, delete_vhost, document, seg, wait_for

pytestmark = pytest.mark.integration

PW1 = "first-Secret-1f3a"
PW2 = "second-Secret-9c2e"


@pytest.fixture
def ns() -> Iterator[str]:
    """A unique prefix for this test's users and vhost; everything named with it is removed after."""
    ns = f"it-est-{uuid.uuid4().hex[:8]}"
    yield ns
    with api() as client:
        delete_vhost(client, ns)
        for user in client.get("/api/users").json():
            if user["name"].startswith(ns):
                client.delete(f"/api/users/{seg(user['name'])}")


def manifest(tmp_path: Path, vhost: dict[str, Any] | None, users: dict[str, Any] | None = None, **broker: Any) -> Path:
    doc = document({} if vhost is None else vhost, **broker)
    if users is not None:
        doc["brokers"][BROKER]["users"] = users
    return write_manifest(tmp_path / f"m{uuid.uuid4().hex[:6]}.yaml", doc)


def run(*args: str | Path, env: dict[str, str] | None = None) -> Result:
    return topoctl(*args, env=env)


def plan(path: Path, env: dict[str, str] | None = None) -> Result:
    return run("plan", "-f", path, "--format", "json", "--detailed-exitcode", env=env)


def apply(path: Path, env: dict[str, str] | None = None, *flags: str) -> Result:
    result = run("apply", "-f", path, "--auto-approve", *flags, env=env)
    assert result.code == 0, str(result)
    return result


def empty(path: Path, env: dict[str, str] | None = None) -> None:
    result = run("plan", "-f", path, "--detailed-exitcode", env=env)
    assert result.code == 0 and "No changes." in result.stdout, f"plan after apply is not empty:\n{result}"


def logs_in(user: str, password: str) -> bool:
    with httpx.Client(base_url=URL, auth=(user, password), timeout=30) as c:
        return c.get("/api/whoami").status_code == 200


def no_secret(*texts: str, secrets: tuple[str, ...] = (PW1, PW2)) -> None:
    for text in texts:
        for secret in secrets:
            assert secret not in text, f"a secret leaked into:\n{text}"


# -- users ------------------------------------------------------------------------------------------


def test_a_user_lives_and_its_password_is_never_shown(tmp_path: Path, ns: str) -> None:
    user = f"{ns}-alice"
    users = {user: {"password": "${ALICE_PW}", "tags": ["monitoring"], "limits": {"max-connections": 4}}}
    path = manifest(tmp_path, None, users)
    env1, env2 = {"ALICE_PW": PW1}, {"ALICE_PW": PW2}

    first = plan(path, env1)
    assert planned(first) == {f"{BROKER}/user/{user}": "create"}
    no_secret(first.stdout, first.stderr)
    no_secret(str(apply(path, env1)))
    assert logs_in(user, PW1)
    empty(path, env1)

    # A new password: found through the salted hash, shown as changed, never shown.
    text = run("plan", "-f", path, env=env2)
    assert '~ password = "(sensitive value)" -> "(sensitive value changed)"' in text.stdout, str(text)
    markdown = run("plan", "-f", path, "--format", "markdown", env=env2)
    saved = tmp_path / "plan.json"
    assert run("plan", "-f", path, "-o", saved, env=env2).code == 0
    no_secret(text.stdout, markdown.stdout, saved.read_text(), plan(path, env2).stdout)
    applied = run("apply", str(saved), "--auto-approve", env=env2)  # a plan file holds no secret:
    assert applied.code == 0, str(applied)  # the apply takes it from the manifest again
    no_secret(str(applied))
    assert logs_in(user, PW2) and not logs_in(user, PW1)
    empty(path, env2)

    # Tags and limits update in place; a limit no longer declared is removed.
    users[user] = {"password": "${ALICE_PW}", "tags": ["monitoring", "policymaker"], "limits": {"max-channels": 7}}
    path = manifest(tmp_path, None, users)
    assert planned(plan(path, env2)) == {f"{BROKER}/user/{user}": "update"}
    apply(path, env2)
    empty(path, env2)
    with api() as client:
        assert client.get(f"/api/user-limits/{seg(user)}").json()[0]["value"] == {"max-channels": 7}
        # Drift out of band: the tags are put back behind topoctl's back, the password kept.
        live = client.get(f"/api/users/{seg(user)}").json()
        body = {"password_hash": live["password_hash"], "hashing_algorithm": live["hashing_algorithm"], "tags": ""}
        assert client.put(f"/api/users/{seg(user)}", json=body).status_code == 204
        assert client.put(f"/api/user-limits/{seg(user)}/max-connections", json={"value": 1}).status_code == 204
    drift = plan(path, env2)
    assert planned(drift) == {f"{BROKER}/user/{user}": "update"}
    assert sorted(f["field"] for f in drift.json["changes"][0]["fields"]) == ["limits", "tags"]
    apply(path, env2)
    assert logs_in(user, PW2), "updating the tags must keep the password"
    empty(path, env2)
    with api() as client:
        assert client.get(f"/api/user-limits/{seg(user)}").json()[0]["value"] == {"max-channels": 7}

    # Delete: destructive, refused without the flag.
    gone = manifest(tmp_path, None, {user: {"state": "absent"}})
    assert planned(plan(gone)) == {f"{BROKER}/user/{user}": "delete"}
    assert run("apply", "-f", gone, "--auto-approve").code == 1
    apply(gone, None, "--allow-destructive")
    assert not logs_in(user, PW2)
    empty(gone)


def test_the_connecting_user_can_never_be_deleted_or_locked_out(tmp_path: Path, ns: str) -> None:
    me = AUTH[0]
    for users, why in (
        ({me: {"state": "absent"}}, "deleting it would lock topoctl out"),
        ({me: {"password": "${OTHER}"}}, "not the one topoctl connects with"),
        ({me: {"tags": ["monitoring"]}}, "drop administrator"),
    ):
        result = run("plan", "-f", manifest(tmp_path, None, users), env={"OTHER": PW1})
        assert result.code == 1 and why in result.stderr, str(result)
        assert "Traceback" not in result.stderr
        no_secret(result.stderr)
    narrowed = {ns: {"permissions": {me: {"configure": "^x$", "write": ".*", "read": ".*"}}}}
    result = run("apply", "-f", manifest(tmp_path, narrowed), "--auto-approve")
    assert result.code == 1 and "must stay '.*'" in result.stderr, str(result)
    with api() as client:
        assert client.get(f"/api/vhosts/{seg(ns)}").status_code == 404, "a refused plan changed something"
        assert client.get(f"/api/users/{me}").status_code == 200

    # Pruning users: an undeclared user goes, the connecting user (guest here) never.
    other = f"{ns}-bob"
    with api() as client:
        assert client.put(f"/api/users/{seg(other)}", json={"password": PW1, "tags": ""}).status_code == 201
    pruning = manifest(tmp_path, None, {f"{ns}-kept": {"tags": []}}, prune={"kinds": ["users"], "prefix": ns})
    changes = planned(plan(pruning))
    assert changes == {f"{BROKER}/user/{ns}-kept": "create", f"{BROKER}/user/{other}": "delete"}
    everything = manifest(tmp_path, None, {}, prune={"kinds": ["users"]})
    assert f"{BROKER}/user/{me}" not in planned(plan(everything))


# -- permissions and limits --------------------------------------------------------------------------


def test_permissions_topic_permissions_and_vhost_limits(tmp_path: Path, ns: str) -> None:
    bob, carol = f"{ns}-bob", f"{ns}-carol"
    users = {bob: {"tags": []}}
    vhost: dict[str, Any] = {
        "limits": {"max-queues": 50, "max-connections": 20},
        "exchanges": {"events": {"type": "topic"}, "audit": {"type": "topic"}},
        "permissions": {bob: {"configure": "^$", "write": "^events$", "read": ".*"}},
        "topic_permissions": {
            bob: [
                {"exchange": "events", "write": "^orders\\.", "read": ".*"},
                {"exchange": "audit", "write": "", "read": ".*"},
            ]
        },
    }
    path = manifest(tmp_path, {ns: vhost}, users)
    apply(path)
    empty(path)
    with api() as client:
        assert client.get(f"/api/vhost-limits/{seg(ns)}").json()[0]["value"] == {
            "max-queues": 50,
            "max-connections": 20,
        }
        topics = client.get(f"/api/topic-permissions/{seg(ns)}/{seg(bob)}").json()
        assert {t["exchange"]: t["write"] for t in topics} == {"events": "^orders\\.", "audit": ""}

    # Updates in place; a limit left out is removed.
    vhost["limits"] = {"max-queues": 60}
    vhost["permissions"][bob]["read"] = "^bob\\."
    path = manifest(tmp_path, {ns: vhost}, users)
    assert planned(plan(path)) == {
        f"{BROKER}/vhost/{ns}": "update",
        f"{BROKER}/permission/{ns}/{bob}": "update",
    }
    apply(path)
    empty(path)
    with api() as client:
        assert client.get(f"/api/vhost-limits/{seg(ns)}").json()[0]["value"] == {"max-queues": 60}
        # Drift out of band.
        body = {"configure": ".*", "write": ".*", "read": ".*"}
        assert client.put(f"/api/permissions/{seg(ns)}/{seg(bob)}", json=body).status_code == 204
        topic = {"exchange": "audit", "write": ".*", "read": ".*"}
        assert client.put(f"/api/topic-permissions/{seg(ns)}/{seg(bob)}", json=topic).status_code == 204
        assert client.put(f"/api/vhost-limits/{seg(ns)}/max-connections", json={"value": 3}).status_code == 204
        # An undeclared user's permission, for the prune below.
        assert client.put(f"/api/users/{seg(carol)}", json={"password": PW1, "tags": ""}).status_code == 201
        assert client.put(f"/api/permissions/{seg(ns)}/{seg(carol)}", json=body).status_code == 201
    assert planned(plan(path)) == {
        f"{BROKER}/vhost/{ns}": "update",
        f"{BROKER}/permission/{ns}/{bob}": "update",
        f"{BROKER}/topic_permission/{ns}/{bob}/audit": "update",
    }
    apply(path)
    empty(path)
    with api() as client:
        assert client.get(f"/api/vhost-limits/{seg(ns)}").json()[0]["value"] == {"max-queues": 60}

    # One exchange's topic permission deleted, the other kept; prune by kind takes carol's permission
    # but never the connecting user's.
    vhost["topic_permissions"][bob][1] = {"exchange": "audit", "state": "absent"}
    vhost["prune"] = {"kinds": ["permissions", "topic_permissions"]}
    path = manifest(tmp_path, {ns: vhost}, users)
    assert planned(plan(path)) == {
        f"{BROKER}/topic_permission/{ns}/{bob}/audit": "delete",
        f"{BROKER}/permission/{ns}/{carol}": "delete",
    }
    apply(path, None, "--allow-destructive")
    empty(path)
    with api() as client:
        assert [t["exchange"] for t in client.get(f"/api/topic-permissions/{seg(ns)}/{seg(bob)}").json()] == ["events"]
        assert client.get(f"/api/permissions/{seg(ns)}/{seg(carol)}").status_code == 404
        assert client.get(f"/api/permissions/{seg(ns)}/{AUTH[0]}").status_code == 200

    # Deleting a user takes its permissions with it, and the plan says so.
    gone = manifest(tmp_path, {ns: {"exchanges": vhost["exchanges"]}}, {bob: {"state": "absent"}})
    result = plan(gone)
    (change,) = [c for c in result.json["changes"] if c["address"] == f"{BROKER}/user/{bob}"]
    assert change["action"] == "delete"
    assert any(f"also removes {BROKER}/permission/{ns}/{bob}" in r for r in change["reasons"]), change["reasons"]


# -- operator policies --------------------------------------------------------------------------------


def test_operator_policies_and_the_key_they_fight_over(tmp_path: Path, ns: str) -> None:
    vhost: dict[str, Any] = {
        "queues": {"jobs": {"type": "quorum"}},
        "policies": {"limits": {"pattern": "^jobs$", "apply_to": "queues", "definition": {"max-length": 1000}}},
        "operator_policies": {
            "cap": {"pattern": ".*", "apply_to": "queues", "definition": {"max-length": 100, "delivery-limit": 5}}
        },
    }
    path = manifest(tmp_path, {ns: vhost})
    result = apply(path)
    assert "operator policy 'cap' and policy 'limits'" in result.stderr and "max-length" in result.stderr
    empty(path)

    def effective() -> dict[str, Any]:
        with api() as client:
            return dict(client.get(f"/api/queues/{seg(ns)}/jobs").json().get("effective_policy_definition") or {})

    # Verified on the broker: both apply, and for the key they share the smaller value wins.
    wait_for(lambda: effective() == {"max-length": 100, "delivery-limit": 5}, "the merged policy definition")

    vhost["operator_policies"]["cap"]["definition"] = {"max-length": 10_000}
    path = manifest(tmp_path, {ns: vhost})
    assert planned(plan(path)) == {f"{BROKER}/operator_policy/{ns}/cap": "update"}
    apply(path)
    empty(path)
    wait_for(lambda: effective() == {"max-length": 1000}, "the user policy's smaller value")
    with api() as client:  # drift
        body = {"pattern": ".*", "apply-to": "queues", "priority": 0, "definition": {"max-length": 1}}
        assert client.put(f"/api/operator-policies/{seg(ns)}/cap", json=body).status_code == 204
    assert planned(plan(path)) == {f"{BROKER}/operator_policy/{ns}/cap": "update"}
    apply(path)

    vhost["operator_policies"]["cap"] = {"state": "absent"}
    path = manifest(tmp_path, {ns: vhost})
    assert planned(plan(path)) == {f"{BROKER}/operator_policy/{ns}/cap": "delete"}
    apply(path, None, "--allow-destructive")
    empty(path)
    with api() as client:
        assert client.get(f"/api/operator-policies/{seg(ns)}/cap").status_code == 404


# -- shovels and federation ----------------------------------------------------------------------------


def _amqp(vhost: str) -> pika.BlockingConnection:
    return pika.BlockingConnection(pika.ConnectionParameters("127.0.0.1", 5672, vhost, pika.PlainCredentials(*AUTH)))


def _count(vhost: str, queue: str) -> int:
    with _amqp(vhost) as connection:
        return int(connection.channel().queue_declare(queue, passive=True).method.message_count)


def test_shovels_and_federation_upstreams_with_secret_uris(tmp_path: Path, ns: str) -> None:
    mover = f"{ns}-mover"
    users = {mover: {"password": "${MOVER_PW}", "tags": []}}
    uri = f"amqp://{mover}:${{MOVER_PW}}@127.0.0.1:5672/{seg(ns)}"
    vhost: dict[str, Any] = {
        "exchanges": {"orders": {"type": "topic"}, "fed": {"type": "topic"}},
        "queues": {"inbox": {}, "outbox": {}},
        "bindings": [{"source": "orders", "destination": "outbox", "routing_key": "#"}],
        "permissions": {mover: {"configure": ".*", "write": ".*", "read": ".*"}},
        "shovels": {
            "move": {
                "src-uri": uri,
                "src-queue": "inbox",
                "dest-uri": f"amqp:///{seg(ns)}",
                "dest-exchange": "orders",
                "dest-exchange-key": "moved",
                "ack-mode": "on-confirm",
                "reconnect-delay": "2s",
            }
        },
        "federation_upstreams": {"self": {"uri": uri, "exchange": "orders", "max-hops": 1, "expires": "1h"}},
        "policies": {
            "fed": {"pattern": "^fed$", "apply_to": "exchanges", "definition": {"federation-upstream": "self"}}
        },
    }
    path = manifest(tmp_path, {ns: vhost}, users)
    env1, env2 = {"MOVER_PW": PW1}, {"MOVER_PW": PW2}
    first = run("plan", "-f", path, env=env1)
    assert 'src-uri           = "amqp://' in first.stdout and ":***@127.0.0.1" in first.stdout, str(first)
    no_secret(first.stdout)
    no_secret(str(apply(path, env1)))
    empty(path, env1)

    # The shovel really moves: published to inbox, it ends up in outbox (through orders).
    with _amqp(ns) as connection:
        channel = connection.channel()
        for i in range(5):
            channel.basic_publish("", "inbox", f"m{i}".encode())
    wait_for(lambda: _count(ns, "outbox") == 5, "the shovel to move 5 messages", timeout=60)

    with api() as client:

        def link_running() -> bool:
            links = client.get(f"/api/federation-links/{seg(ns)}").json()
            return any(link.get("upstream") == "self" and link.get("status") == "running" for link in links)

        wait_for(link_running, "the federation link", timeout=60)

    # A new password in the URIs: a change, shown without the secret anywhere.
    text = run("plan", "-f", path, env=env2)
    assert 'src-uri = "(sensitive value)" -> "(sensitive value changed)"' in text.stdout, str(text)
    assert 'uri = "(sensitive value)" -> "(sensitive value changed)"' in text.stdout
    markdown = run("plan", "-f", path, "--format", "markdown", env=env2)
    no_secret(text.stdout, markdown.stdout, plan(path, env2).stdout)
    no_secret(str(apply(path, env2)))
    empty(path, env2)
    with api() as client:
        assert client.get(f"/api/parameters/shovel/{seg(ns)}/move").json()["value"]["src-uri"] == uri.replace(
            "${MOVER_PW}", PW2
        )
        # Drift: the shovel's value changed behind topoctl's back (a key added, one changed).
        value = dict(client.get(f"/api/parameters/shovel/{seg(ns)}/move").json()["value"])
        value["dest-exchange-key"] = "other"
        value["src-prefetch-count"] = 10
        assert client.put(f"/api/parameters/shovel/{seg(ns)}/move", json={"value": value}).status_code == 204
        upstream = dict(client.get(f"/api/parameters/federation-upstream/{seg(ns)}/self").json()["value"])
        upstream["max-hops"] = 3
        body = {"value": upstream}
        assert client.put(f"/api/parameters/federation-upstream/{seg(ns)}/self", json=body).status_code == 204
    drift = plan(path, env2)
    changes = {c["address"]: c for c in drift.json["changes"]}
    assert set(changes) == {f"{BROKER}/shovel/{ns}/move", f"{BROKER}/federation_upstream/{ns}/self"}
    change = changes[f"{BROKER}/shovel/{ns}/move"]
    assert change["action"] == "update"
    assert {f["field"]: f["after"] for f in change["fields"]} == {
        "dest-exchange-key": "moved",
        "src-prefetch-count": None,
    }
    fields = changes[f"{BROKER}/federation_upstream/{ns}/self"]["fields"]
    assert [(f["field"], f["before"], f["after"]) for f in fields] == [("max-hops", 3, 1)]
    no_secret(drift.stdout)
    apply(path, env2)
    empty(path, env2)

    vhost["shovels"]["move"] = {"state": "absent"}
    vhost["federation_upstreams"]["self"] = {"state": "absent"}
    del vhost["policies"]
    path = manifest(tmp_path, {ns: vhost}, users)
    changes = planned(plan(path, env2))
    assert changes[f"{BROKER}/shovel/{ns}/move"] == "delete"
    assert changes[f"{BROKER}/federation_upstream/{ns}/self"] == "delete"
    apply(path, env2, "--allow-destructive")
    empty(path, env2)
    with api() as client:
        assert client.get(f"/api/parameters/shovel/{seg(ns)}/move").status_code == 404


def test_an_error_from_the_broker_never_shows_a_secret(tmp_path: Path, ns: str) -> None:
    # A URI topoctl cannot judge (the port is not a number) but the broker refuses, echoing it.
    vhost = {
        "queues": {"q": {}},
        "shovels": {
            "s": {"src-uri": "amqp://u:${PW}@host:port/x", "src-queue": "q", "dest-uri": "amqp://", "dest-queue": "q"}
        },
    }
    result = run("apply", "-f", manifest(tmp_path, {ns: vhost}), "--auto-approve", env={"PW": PW1})
    assert result.code == 1, str(result)
    assert "not a valid URI" in result.stderr and "***" in result.stderr, str(result)
    no_secret(result.stdout, result.stderr)


# -- export --------------------------------------------------------------------------------------------


def test_export_of_the_new_kinds_plans_empty_once_its_placeholders_are_set(tmp_path: Path, ns: str) -> None:
    bob = f"{ns}-bob"
    uri = f"amqp://{bob}:${{BOB_PW}}@127.0.0.1:5672/{seg(ns)}"
    vhost: dict[str, Any] = {
        "limits": {"max-queues": 10},
        "queues": {"a": {}, "b": {}},
        "permissions": {bob: {"configure": "^$", "write": ".*", "read": ".*"}},
        "topic_permissions": {bob: [{"exchange": "amq.topic", "write": "^x", "read": ".*"}]},
        "operator_policies": {"cap": {"pattern": "^a$", "definition": {"max-length": 5}}},
        "shovels": {
            "ab": {"src-uri": uri, "src-queue": "a", "dest-uri": "amqp://", "dest-queue": "b", "reconnect-delay": 60}
        },
        "federation_upstreams": {"up": {"uri": [uri, "amqp://127.0.0.1"], "message-ttl": "1h"}},
    }
    users = {bob: {"password": "${BOB_PW}", "tags": ["monitoring"], "limits": {"max-channels": 3}}}
    env = {"BOB_PW": PW1}
    apply(manifest(tmp_path, {ns: vhost}, users), env)

    connection = write_manifest(
        tmp_path / "c.yaml",
        {
            "version": 1,
            "brokers": {
                BROKER: {"type": "rabbitmq", "connection": {"url": URL, "username": AUTH[0], "password": AUTH[1]}}
            },
        },
    )
    exported = run("export", "--broker", BROKER, "-f", connection)
    assert exported.code == 0, str(exported)
    no_secret(exported.stdout, exported.stderr)
    doc = yaml.safe_load(exported.stdout)
    section = doc["brokers"][BROKER]
    # The broker is shared: keep this test's vhost and users.
    section["vhosts"] = {ns: section["vhosts"][ns]}
    section["users"] = {k: v for k, v in section["users"].items() if k.startswith(ns)}
    assert AUTH[0] not in section["users"]
    mine = section["vhosts"][ns]
    password_var = str(section["users"][bob]["password"])[2:-1]
    shovel_var = mine["shovels"]["ab"]["src-uri"].split(":${", 1)[1].split("}", 1)[0]
    upstream_var = mine["federation_upstreams"]["up"]["uri"][0].split(":${", 1)[1].split("}", 1)[0]
    for name in (password_var, shovel_var, upstream_var):
        assert f"set {name} before planning the export" in exported.stderr
    path = write_manifest(tmp_path / "exported.yaml", doc)
    targets: list[str] = []
    for kind in (
        "vhost",
        "queue",
        "permission",
        "topic_permission",
        "operator_policy",
        "shovel",
        "federation_upstream",
    ):
        targets += ["--target", f"{BROKER}/{kind}/{seg(ns)}"]
    targets += ["--target", f"{BROKER}/user/{bob}"]
    env_all = {password_var: PW1, shovel_var: PW1, upstream_var: PW1, "IT_RABBIT_PASSWORD": AUTH[1]}
    result = run("plan", "-f", path, "--detailed-exitcode", *targets, env=env_all)
    assert result.code == 0 and "No changes." in result.stdout, str(result)
    # With a wrong value, the placeholder is a change, not a silent pass.
    wrong = run(
        "plan",
        "-f",
        path,
        "--format",
        "json",
        *targets,
        env={**{k: PW2 for k in env_all}, "IT_RABBIT_PASSWORD": AUTH[1]},
    )
    assert {c["address"] for c in wrong.json["changes"]} == {
        f"{BROKER}/user/{bob}",
        f"{BROKER}/shovel/{ns}/ab",
        f"{BROKER}/federation_upstream/{ns}/up",
    }


def test_plan_reads_users_only_when_the_manifest_needs_them(tmp_path: Path, ns: str) -> None:
    """A manifest without users or permissions plans as a user that may not list them."""
    viewer = f"{ns}-viewer"
    with api() as client:
        assert client.put(f"/api/vhosts/{seg(ns)}").status_code == 201
        assert client.put(f"/api/users/{seg(viewer)}", json={"password": PW1, "tags": "policymaker"}).status_code == 201
        body = {"configure": ".*", "write": ".*", "read": ".*"}
        assert client.put(f"/api/permissions/{seg(ns)}/{seg(viewer)}", json=body).status_code == 201
        assert httpx.get(f"{URL}/api/users", auth=(viewer, PW1)).status_code in (401, 403)
    doc = document({ns: {"queues": {"q": {}}}})
    doc["brokers"][BROKER]["connection"] = {"url": URL, "username": viewer, "password": "${VIEWER_PW}"}
    path = write_manifest(tmp_path / "viewer.yaml", doc)
    result = run("plan", "-f", path, "--format", "json", env={"VIEWER_PW": PW1})
    assert result.code == 0, str(result)
    assert json.loads(result.stdout)["summary"]["create"] == 1


def test_the_estate_example_applies_and_plans_empty(tmp_path: Path, ns: str) -> None:
    example = Path(__file__).resolve().parents[2] / "examples" / "rabbitmq-estate.yaml"
    text = example.read_text().replace("shop-estate", ns).replace("shop-billing", f"{ns}-billing")
    doc = yaml.safe_load(text.replace("shop-mover", f"{ns}-mover"))
    path = write_manifest(tmp_path / "estate.yaml", doc)
    env = {"SHOP_BILLING_PASSWORD": PW1, "SHOP_MOVER_PASSWORD": PW2}
    no_secret(str(apply(path, env)))
    empty(path, env)
    assert logs_in(f"{ns}-billing", PW1)
    with api() as client:

        def drained() -> bool:
            shovels = client.get(f"/api/shovels/{seg(ns)}").json()
            return any(s["name"] == "legacy-drain" and s["state"] == "running" for s in shovels)

        wait_for(drained, "the legacy-drain shovel to run", timeout=60)
