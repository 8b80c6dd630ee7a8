"""The Service Bus provider end to end: topoctl's CLI -> the driver -> the real azure-servicebus SDK
-> HTTP -> the management API double (tests/azure_servicebus_double). Nothing of topoctl is mocked;
what the double itself stands for (and what it cannot show) is in docs/azure-servicebus.md."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.azure_servicebus_double import ServiceBusDouble
from tests.azure_servicebus_double.fixtures import ENV, manifest, premium, sb  # noqa: F401 - fixtures
from tests.cli import apply_ok, assert_empty, change_of, plan_json, planned, topoctl
from topoctl.providers.azure_servicebus.driver import _plain_http_transport


def admin(double: ServiceBusDouble) -> Any:
    """The SDK's administration client on the double, to change things behind topoctl's back."""
    from azure.servicebus.management import ServiceBusAdministrationClient

    return ServiceBusAdministrationClient.from_connection_string(
        double.connection_string(), transport=_plain_http_transport()
    )


SHOP: dict[str, Any] = {
    "queues": {
        "orders": {"lock_duration": "30s", "dead_letter": {"max_deliveries": 5, "forward_to": "orders-dlq"}},
        "orders-dlq": {"default_message_time_to_live": "14d", "auto_delete_on_idle": "forever"},
        "billing": {"requires_duplicate_detection": True, "duplicate_detection_history_time_window": "1h"},
    },
    "topics": {
        "events": {
            "default_message_time_to_live": "P7D",
            "subscriptions": {
                "to-billing": {
                    "forward_to": "billing",
                    "rules": {
                        "created": {
                            "sql_filter": "type = @t AND amount > @min",
                            "parameters": {"@t": "created", "@min": 10},
                        },
                        "eu": {
                            "correlation_filter": {"label": "order", "properties": {"region": "eu", "vip": True}},
                            "action": "SET priority = 'high'",
                        },
                    },
                },
                "audit": {"lock_duration": "PT2M"},
            },
        }
    },
}


def test_a_namespace_is_built_then_the_plan_is_empty_and_the_export_plans_empty(
    tmp_path: Path,
    sb: ServiceBusDouble,  # noqa: F811
) -> None:
    path = manifest(tmp_path / "shop.yaml", SHOP)
    first = planned(plan_json(path))
    assert set(first.values()) == {"create"} and len(first) == 9, first  # with audit's kept $Default
    apply_ok(path)
    assert_empty(path)

    # What the service holds is what the manifest says, in its own terms.
    orders = sb.entity("orders")
    assert orders.props["LockDuration"] == "PT30S"
    assert orders.props["MaxDeliveryCount"] == "5"
    assert orders.props["DeadLetteringOnMessageExpiration"] == "true"
    assert orders.props["ForwardDeadLetteredMessagesTo"] == f"sb://{sb.host}/orders-dlq"
    sub = sb.entity("events", "to-billing")
    assert sorted(sub.rules) == ["created", "eu"]  # the service's $Default went with the create
    assert sb.entity("events", "audit").rules["$default"].filter_type == "TrueFilter"  # kept: no rules declared
    eu = sub.rules["eu"]
    assert eu.filter_type == "CorrelationFilter" and ("region", "string", "eu") in eu.filter_values
    assert ("vip", "boolean", "true") in eu.filter_values

    exported = topoctl("export", "--broker", "bus", "-f", path)
    assert exported.code == 0, str(exported)
    assert sb.key not in exported.stdout and "${" + ENV + "}" in exported.stdout
    again = tmp_path / "export.yaml"
    again.write_text(exported.stdout, encoding="utf-8")
    assert_empty(again)


def test_updates_change_only_declared_fields_and_send_the_whole_entity_back(
    tmp_path: Path,
    sb: ServiceBusDouble,  # noqa: F811
) -> None:
    admin(sb).create_queue("orders", max_delivery_count=3, user_metadata="owned by ops", lock_duration="PT45S")
    path = manifest(tmp_path / "m.yaml", {"queues": {"orders": {"lock_duration": "1m"}}})
    change = change_of(plan_json(path), "bus/queue/orders")
    assert change["action"] == "update"
    assert [(f["field"], f["before"], f["after"]) for f in change["fields"]] == [("lock_duration", 45000, 60000)]
    sb.requests.clear()
    apply_ok(path)
    assert_empty(path)
    q = sb.entity("orders")
    assert (q.props["LockDuration"], q.props["MaxDeliveryCount"], q.props["UserMetadata"]) == (
        "PT1M",
        "3",
        "owned by ops",
    )
    puts = [r for r in sb.requests if r.method == "PUT"]
    assert len(puts) == 1 and puts[0].headers.get("If-Match") == "*"
    # Not sent back: the max message size a Standard namespace reports but refuses (values.py).
    assert b"MaxMessageSizeInKilobytes" not in puts[0].body and b"<MaxDeliveryCount>3<" in puts[0].body


def test_the_sdks_naive_update_hits_both_reporting_traps_which_topoctl_avoids(
    tmp_path: Path,
    sb: ServiceBusDouble,  # noqa: F811
) -> None:
    from azure.core.exceptions import HttpResponseError

    path = manifest(
        tmp_path / "m.yaml",
        {"queues": {"big": {"enable_partitioning": True, "max_size_in_megabytes": 2048, "lock_duration": "30s"}}},
    )
    apply_ok(path)
    assert_empty(path)  # reported 32768 (16 partitions of 2048) compares as the declared 2048
    client = admin(sb)
    reported = client.get_queue("big")
    assert (reported.max_size_in_megabytes, reported.max_message_size_in_kilobytes) == (32768, 256)
    with pytest.raises(HttpResponseError, match="32768 is invalid"):
        client.update_queue(reported)  # get -> update as is: refused by the (double of the) service

    changed = manifest(
        tmp_path / "m2.yaml",
        {"queues": {"big": {"enable_partitioning": True, "max_size_in_megabytes": 2048, "lock_duration": "1m"}}},
    )
    apply_ok(changed)
    assert_empty(changed)
    assert sb.entity("big").props["MaxSizeInMegabytes"] == "2048"


def test_max_message_size_is_premium_only(
    tmp_path: Path,
    sb: ServiceBusDouble,  # noqa: F811
) -> None:
    path = manifest(tmp_path / "m.yaml", {"queues": {"large": {"max_message_size_in_kilobytes": 2048}}})
    result = plan_json(path)
    assert result.code == 1 and "max_message_size_in_kilobytes needs a Premium namespace (this one is Standard)" in (
        result.stderr
    ), str(result)
    assert "m.yaml:" in result.stderr


def test_premium_max_message_size_updates_in_place(tmp_path: Path, premium: ServiceBusDouble) -> None:  # noqa: F811
    path = manifest(tmp_path / "m.yaml", {"queues": {"large": {"max_message_size_in_kilobytes": "2MiB"}}})
    apply_ok(path)
    assert_empty(path)
    bigger = manifest(tmp_path / "m2.yaml", {"queues": {"large": {"max_message_size_in_kilobytes": 10240}}})
    assert planned(plan_json(bigger)) == {"bus/queue/large": "update"}
    apply_ok(bigger)
    assert_empty(bigger)
    assert premium.entity("large").props["MaxMessageSizeInKilobytes"] == "10240"


def test_a_field_the_service_cannot_change_is_a_destructive_replace_with_its_reason(
    tmp_path: Path,
    sb: ServiceBusDouble,  # noqa: F811
) -> None:
    apply_ok(manifest(tmp_path / "m.yaml", {"queues": {"jobs": {}}}))
    sb.set_counts("jobs", active=4, dead_letter=1)
    path = manifest(tmp_path / "m2.yaml", {"queues": {"jobs": {"requires_session": True}}})
    text = topoctl("plan", "-f", path)
    assert "-/+" in text.stdout and "# forces replacement" in text.stdout
    reason = (
        "requires_session cannot change in place (false -> true): the service cannot change it on an existing queue"
    )
    assert reason in text.stdout
    assert "5 messages (of which 1 dead-lettered) will be lost" in text.stdout
    refused = topoctl("apply", "-f", path, "--auto-approve")
    assert refused.code == 1 and "--allow-destructive" in refused.stderr
    assert sb.entity("jobs").props["RequiresSession"] == "false"
    apply_ok(path, "--allow-destructive")
    assert_empty(path)
    assert sb.entity("jobs").props["RequiresSession"] == "true"


def test_default_rule_never_makes_a_perpetual_diff(tmp_path: Path, sb: ServiceBusDouble) -> None:  # noqa: F811
    def stage(name: str, sub: dict[str, Any]) -> Path:
        return manifest(tmp_path / f"{name}.yaml", {"topics": {"t": {"subscriptions": {"s": sub}}}})

    plain = stage("plain", {})
    apply_ok(plain)
    assert_empty(plain)
    assert list(sb.entity("t", "s").rules) == ["$default"]

    filtered = stage("filtered", {"rules": {"big": {"sql_filter": "amount > 100"}}})
    assert planned(plan_json(filtered)) == {"bus/rule/t/s/$Default": "delete", "bus/rule/t/s/big": "create"}
    apply_ok(filtered, "--allow-destructive")
    assert_empty(filtered)
    assert list(sb.entity("t", "s").rules) == ["big"]

    both = stage("both", {"default_rule": True, "rules": {"big": {"sql_filter": "amount > 100"}}})
    assert planned(plan_json(both)) == {"bus/rule/t/s/$Default": "create"}
    apply_ok(both)
    assert_empty(both)

    # A new subscription with rules: the service's $Default is removed in the same apply.
    fresh = manifest(
        tmp_path / "fresh.yaml", {"topics": {"t2": {"subscriptions": {"s": {"rules": {"r": {"filter": False}}}}}}}
    )
    assert "bus/rule/t2/s/$Default" not in planned(plan_json(fresh))
    apply_ok(fresh)
    assert_empty(fresh)
    assert list(sb.entity("t2", "s").rules) == ["r"]

    # $Default declared with a filter of its own: updated in place, also on a new subscription.
    own = manifest(
        tmp_path / "own.yaml",
        {"topics": {"t3": {"subscriptions": {"s": {"rules": {"$Default": {"sql_filter": "region = 'eu'"}}}}}}},
    )
    apply_ok(own)
    assert_empty(own)
    rule = sb.entity("t3", "s").rules["$default"]
    assert (rule.filter_type, dict(rule.filter_fields)["SqlExpression"]) == ("SqlFilter", "region = 'eu'")


def test_rules_update_in_place(tmp_path: Path, sb: ServiceBusDouble) -> None:  # noqa: F811
    def stage(name: str, rule: dict[str, Any]) -> Path:
        return manifest(tmp_path / f"{name}.yaml", {"topics": {"t": {"subscriptions": {"s": {"rules": {"r": rule}}}}}})

    apply_ok(stage("a", {"sql_filter": "a = 1"}))
    switched = stage("b", {"correlation_filter": {"correlation_id": "c-1"}, "action": "SET b = 2"})
    change = change_of(plan_json(switched), "bus/rule/t/s/r")
    assert change["action"] == "update"
    assert {f["field"] for f in change["fields"]} == {"sql_filter", "correlation_filter", "action"}
    apply_ok(switched)
    assert_empty(switched)
    rule = sb.entity("t", "s").rules["r"]
    assert rule.filter_type == "CorrelationFilter" and rule.action_type == "SqlRuleAction"


def test_a_saved_plan_is_stale_when_a_queue_to_delete_got_messages(
    tmp_path: Path,
    sb: ServiceBusDouble,  # noqa: F811
) -> None:
    apply_ok(manifest(tmp_path / "m.yaml", {"queues": {"old": {}, "keep": {}}}))
    sb.set_counts("old", active=2)
    delete = manifest(tmp_path / "m2.yaml", {"queues": {"old": {"state": "absent"}, "keep": {}}})
    saved = tmp_path / "plan.json"
    made = topoctl("plan", "-f", delete, "-o", saved, "--format", "json")
    assert made.code == 0, str(made)
    assert json.loads(saved.read_text())["changes"][0]["exposure"] == {"bus/queue/old": {"messages": 2}}
    sb.set_counts("old", active=9)
    stale = topoctl("apply", saved, "--auto-approve", "--allow-destructive")
    assert stale.code == 1 and "saved plan is stale" in stale.stderr and "messages 2 -> 9" in stale.stderr
    assert "old" in sb.namespace.entities


def test_target_prune_and_forwarding_order(tmp_path: Path, sb: ServiceBusDouble) -> None:  # noqa: F811
    client = admin(sb)
    client.create_queue("stray")
    client.create_topic("t")
    client.create_subscription("t", "stray-sub")
    body = {
        "prune": True,
        "queues": {"a": {"forward_to": "b"}, "b": {}},
        "topics": {"t": {"subscriptions": {"s": {}}}},
    }
    path = manifest(tmp_path / "m.yaml", body)
    targeted = planned(topoctl("plan", "-f", path, "--target", "bus/queue/a", "--format", "json"))
    assert targeted == {"bus/queue/a": "create", "bus/queue/b": "create"}  # a forwards to b: b comes along
    full = planned(plan_json(path))
    assert full["bus/queue/stray"] == "delete" and full["bus/subscription/t/stray-sub"] == "delete"
    assert "bus/rule/t/s/$Default" in full  # the kept $Default is declared, never pruned
    apply_ok(path, "--allow-destructive")
    assert_empty(path)
    assert sorted(sb.namespace.entities) == ["a", "b", "t"]


def test_names_are_case_insensitive(tmp_path: Path, sb: ServiceBusDouble) -> None:  # noqa: F811
    admin(sb).create_queue("Orders", lock_duration="PT30S")
    path = manifest(tmp_path / "m.yaml", {"queues": {"orders": {"lock_duration": "30s"}}})
    assert_empty(path)


def test_plan_errors_before_anything_changes(tmp_path: Path, sb: ServiceBusDouble) -> None:  # noqa: F811
    admin(sb).create_topic("shared")
    path = manifest(
        tmp_path / "m.yaml",
        {"queues": {"shared": {}, "a": {"forward_to": "nowhere"}, "b": {"max_size_in_megabytes": 81920}}},
    )
    result = topoctl("apply", "-f", path, "--auto-approve")
    assert result.code == 1 and "Traceback" not in result.stderr
    assert "bus/queue/shared: the namespace has a topic of that name" in result.stderr
    assert "forward_to 'nowhere' is neither declared nor a queue or topic of the namespace" in result.stderr
    assert "max_size_in_megabytes 81920 is not offered on Standard namespaces" in result.stderr
    assert sorted(sb.namespace.entities) == ["shared"]


def test_connection_problems_are_one_line_without_the_key(tmp_path: Path, sb: ServiceBusDouble) -> None:  # noqa: F811
    path = manifest(tmp_path / "m.yaml", {"queues": {"q": {}}})
    wrong = sb.connection_string(key="d3Jvbmcta2V5")
    bad = topoctl("plan", "-f", path, env={ENV: wrong})
    assert bad.code == 1 and "not authorised (HTTP 401): InvalidSignature" in bad.stderr, str(bad)
    assert "d3Jvbmcta2V5" not in bad.stderr + bad.stdout and "Traceback" not in bad.stderr
    sb.add_key("reader", "cmVhZGVy", frozenset({"Listen"}))
    reader = topoctl("plan", "-f", path, env={ENV: sb.connection_string("reader", "cmVhZGVy")})
    assert reader.code == 1 and "'Manage' claim(s) are required" in reader.stderr
    down = sb.connection_string().replace(f":{sb.port}", ":9")
    unreachable = topoctl("plan", "-f", path, env={ENV: down})
    assert (
        unreachable.code == 1
        and "cannot connect" in unreachable.stderr
        and "sb+http://127.0.0.1:9" in unreachable.stderr
    )
    assert sb.key not in unreachable.stderr


def test_a_failed_apply_says_what_was_done(tmp_path: Path, sb: ServiceBusDouble) -> None:  # noqa: F811
    path = manifest(tmp_path / "m.yaml", {"queues": {"a": {}, "b": {}}})
    quota = "SubCode=40300. The maximum number of entities (1) has been reached."
    sb.fail_once("PUT", "/b", 403, quota)
    result = topoctl("apply", "-f", path, "--auto-approve", "--parallelism", "1")
    assert result.code == 1
    assert f"cannot create queue b: HTTP 403: {quota[:-1]}" in result.stderr, result.stderr
    assert "1 of 2 changes applied; 1 failed" in result.stderr
    apply_ok(path)
    assert_empty(path)


def test_replacing_a_topic_recreates_its_subscriptions_and_rules(
    tmp_path: Path,
    sb: ServiceBusDouble,  # noqa: F811
) -> None:
    def stage(name: str, partitioned: bool) -> Path:
        subs = {"keep": {}, "ruled": {"rules": {"r": {"sql_filter": "a = 1"}}}}
        return manifest(
            tmp_path / f"{name}.yaml", {"topics": {"t": {"enable_partitioning": partitioned, "subscriptions": subs}}}
        )

    apply_ok(stage("a", False))
    sb.set_counts("t", "ruled", active=3)
    b = stage("b", True)
    assert planned(plan_json(b)) == {
        "bus/topic/t": "replace",
        "bus/subscription/t/keep": "replace",
        "bus/subscription/t/ruled": "replace",
        "bus/rule/t/keep/$Default": "replace",
        "bus/rule/t/ruled/r": "replace",
    }
    text = topoctl("plan", "-f", b).stdout
    assert "its 2 subscriptions, holding 3 messages, go with it" in text
    apply_ok(b, "--allow-destructive")
    assert_empty(b)
    assert sorted(sb.entity("t", "ruled").rules) == ["r"] and sorted(sb.entity("t", "keep").rules) == ["$default"]
