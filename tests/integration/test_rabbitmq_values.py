"""Argument and policy values against the real RabbitMQ, compared by what they mean to the broker.

Stream retention: `x-max-age` / `max-age` in months and years (`1M` is 30 days, `1Y` 365 days to
the broker) equal a manifest's `30d` / `365d`, so the plan is empty and nothing is replaced (a
replace of a stream deletes its messages). Extremes: the largest and smallest values the broker
accepts export to a manifest that plans empty, and plan empty as written."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.cli import apply_ok, assert_empty, change_of, plan_json, topoctl
from tests.integration.rabbitmq_support import (
    AUTH,
    BROKER,
    manifest_file,
    placeholders,
    publish,
    queue,
    seg,
    wait_for,
)

pytestmark = pytest.mark.integration


def _ok(response: httpx.Response) -> None:
    assert response.status_code in (200, 201, 204), f"{response.request.url}: {response.status_code} {response.text}"


def _stream(client: httpx.Client, vhost: str, name: str, age: str) -> None:
    body = {"durable": True, "arguments": {"x-queue-type": "stream", "x-max-age": age}}
    _ok(client.put(f"/api/queues/{seg(vhost)}/{seg(name)}", json=body))


def test_months_and_years_set_behind_topoctls_back_equal_days_in_the_manifest(
    tmp_path: Path, client: httpx.Client, vhost: str
) -> None:
    _ok(client.put(f"/api/vhosts/{seg(vhost)}", json={}))
    _stream(client, vhost, "s.month", "1M")
    _stream(client, vhost, "s.year", "1Y")
    policy = {"pattern": "^s\\.", "apply-to": "queues", "priority": 1, "definition": {"max-age": "2M"}}
    _ok(client.put(f"/api/policies/{seg(vhost)}/retention", json=policy))
    publish(client, vhost, "s.month", 3)
    wait_for(lambda: (queue(client, vhost, "s.month") or {}).get("messages") == 3, "the stream's 3 messages")

    path = manifest_file(
        tmp_path,
        {
            vhost: {
                "queues": {
                    "s.month": {"type": "stream", "arguments": {"x-max-age": "30d"}},
                    "s.year": {"type": "stream", "arguments": {"x-max-age": "365d"}},
                },
                "policies": {
                    "retention": {
                        "pattern": "^s\\.",
                        "apply_to": "queues",
                        "priority": 1,
                        "definition": {"max-age": "60d"},
                    }
                },
            }
        },
    )
    assert_empty(path)
    apply_ok(path, "--allow-destructive")  # nothing to do, even when destruction is allowed
    month = queue(client, vhost, "s.month")
    assert month is not None and month["arguments"]["x-max-age"] == "1M"  # not replaced
    assert month.get("messages") == 3
    assert (queue(client, vhost, "s.year") or {})["arguments"]["x-max-age"] == "1Y"
    live_policy = client.get(f"/api/policies/{seg(vhost)}/retention").json()
    assert live_policy["definition"] == {"max-age": "2M"}  # not rewritten


def test_the_brokers_own_units_in_the_manifest_apply_and_plan_empty(
    tmp_path: Path, client: httpx.Client, vhost: str
) -> None:
    def manifest(month: str, year: str, policy: str) -> Path:
        return manifest_file(
            tmp_path,
            {
                vhost: {
                    "queues": {
                        "s.month": {"type": "stream", "arguments": {"x-max-age": month}},
                        "s.year": {"type": "stream", "arguments": {"x-max-age": year}},
                    },
                    "policies": {"retention": {"pattern": "^s\\.", "definition": {"max-age": policy}}},
                }
            },
        )

    written = manifest("1M", "1Y", "2M")
    apply_ok(written)
    assert_empty(written)
    assert_empty(manifest("720h", "365d", "60d"))  # the same lengths, other units

    longer = plan_json(manifest("31d", "1Y", "2M"))
    assert longer.code == 2, str(longer)
    change = change_of(longer, f"{BROKER}/queue/{seg(vhost)}/s.month")
    assert change["action"] == "replace"
    assert change["before"]["arguments"] == {"x-max-age": "30D"}
    assert change["after"]["arguments"] == {"x-max-age": "31D"}
    assert [c["address"] for c in longer.json["changes"]] == [f"{BROKER}/queue/{seg(vhost)}/s.month"]


def test_an_export_of_months_and_years_plans_empty(tmp_path: Path, client: httpx.Client, vhost: str) -> None:
    _ok(client.put(f"/api/vhosts/{seg(vhost)}", json={}))
    _stream(client, vhost, "s.month", "1M")
    _stream(client, vhost, "s.year", "1Y")
    policy = {"pattern": "^s\\.", "apply-to": "queues", "definition": {"max-age": "2M"}}
    _ok(client.put(f"/api/policies/{seg(vhost)}/retention", json=policy))
    connection = manifest_file(tmp_path, {}, name="connection.yaml")
    exported = topoctl("export", "--broker", BROKER, "-f", connection)
    assert exported.code == 0, str(exported)
    path = tmp_path / "exported.yaml"
    path.write_text(exported.stdout, encoding="utf-8")
    mine = yaml.safe_load(exported.stdout)["brokers"][BROKER]["vhosts"][vhost]
    assert mine["queues"]["s.month"]["arguments"] == {"x-max-age": "30d"}
    assert mine["queues"]["s.year"]["arguments"] == {"x-max-age": "365d"}
    assert mine["policies"]["retention"] == {"pattern": "^s\\.", "apply_to": "queues", "definition": {"max-age": "60d"}}
    targets = [arg for kind in ("queue", "policy") for arg in ("--target", f"{BROKER}/{kind}/{seg(vhost)}")]
    # The export writes the literal password as a placeholder (an export carries no secret).
    env = {**placeholders(exported.stderr), "IT_RABBIT_PASSWORD": AUTH[1]}
    plan = topoctl("plan", "-f", path, "--detailed-exitcode", *targets, env=env)
    assert plan.code == 0, f"the plan of the export is not empty:\n{plan}"


def test_the_extremes_the_broker_accepts_export_and_plan_empty(
    tmp_path: Path, client: httpx.Client, vhost: str
) -> None:
    long_max = 2**63 - 1
    _ok(client.put(f"/api/vhosts/{seg(vhost)}", json={}))
    queues = {
        # RabbitMQ takes any non-negative integer here, beyond a long too.
        "big": {"x-max-length-bytes": long_max, "x-message-ttl": 0},
        "bigger": {"x-max-length-bytes": 2**64, "x-message-ttl": 2**32},
        "odd": {"x-max-length-bytes": (2**53 + 1) * 1024, "x-expires": 2**32 - 1},
        "zero": {"x-max-length-bytes": 0, "x-max-length": 0},
    }
    for name, arguments in queues.items():
        _ok(client.put(f"/api/queues/{seg(vhost)}/{name}", json={"durable": True, "arguments": arguments}))
    _stream(client, vhost, "s.long", "1000000000000000000000000Y")
    _stream(client, vhost, "s.zeros", "007D")
    policy = {"pattern": "^zz", "definition": {"max-length-bytes": long_max, "message-ttl": 0, "max-age": "99999Y"}}
    _ok(client.put(f"/api/policies/{seg(vhost)}/limits", json=policy))

    connection = manifest_file(tmp_path, {}, name="connection.yaml")
    exported = topoctl("export", "--broker", BROKER, "-f", connection)
    assert exported.code == 0, str(exported)
    path = tmp_path / "exported.yaml"
    path.write_text(exported.stdout, encoding="utf-8")
    targets = [arg for kind in ("queue", "policy") for arg in ("--target", f"{BROKER}/{kind}/{seg(vhost)}")]
    env = {**placeholders(exported.stderr), "IT_RABBIT_PASSWORD": AUTH[1]}
    plan = topoctl("plan", "-f", path, "--detailed-exitcode", *targets, env=env)
    assert plan.code == 0, f"the plan of the export is not empty:\n{plan}"

    # The same values written as the broker holds them.
    as_written: dict[str, dict[str, Any]] = {name: {"arguments": arguments} for name, arguments in queues.items()}
    as_written["s.long"] = {"type": "stream", "arguments": {"x-max-age": "1000000000000000000000000Y"}}
    as_written["s.zeros"] = {"type": "stream", "arguments": {"x-max-age": "007D"}}
    policies = {"limits": {"pattern": "^zz", "definition": policy["definition"]}}
    assert_empty(manifest_file(tmp_path, {vhost: {"queues": as_written, "policies": policies}}))
