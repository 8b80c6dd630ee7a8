"""Service Bus values: durations compared as durations, "forever", and the two reporting traps of
the service (a partitioned entity's 16-fold size; a max message size non-Premium tiers report)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from topoctl.model import Address, Resource
from topoctl.providers.azure_servicebus import values as v
from topoctl.providers.azure_servicebus.kinds import KINDS, QUEUE, RULE


@pytest.mark.parametrize(
    ("text", "ms"),
    [
        ("30s", 30_000),
        ("1m", 60_000),
        ("1h30m", 5_400_000),
        ("14d", 14 * 86_400_000),
        ("PT30S", 30_000),
        ("pt1m", 60_000),
        ("P14D", 14 * 86_400_000),
        ("P1DT2H3M4.5S", 86_400_000 + 2 * 3_600_000 + 3 * 60_000 + 4_500),
        ("forever", v.FOREVER),
        ("Forever", v.FOREVER),
        ("10675199d", v.FOREVER),
        ("P10675199DT2H48M5.4775807S", v.FOREVER),
    ],
)
def test_manifest_durations(text: str, ms: object) -> None:
    assert v.parse_sb_duration(text) == ms


@pytest.mark.parametrize("bad", [30, 1.5, True, "P1Y", "PT", "P", "1 minute", "PT0.0001S", "-5s"])
def test_durations_that_are_refused(bad: object) -> None:
    with pytest.raises(ValueError):
        v.parse_sb_duration(bad)


def test_plain_numbers_are_refused_with_a_hint() -> None:
    with pytest.raises(ValueError, match="write a unit"):
        v.parse_sb_duration(60)


def test_sdk_timedeltas_compare_as_durations() -> None:
    assert v.duration_from_sdk(timedelta(seconds=30)) == v.parse_sb_duration("30s")
    assert v.duration_from_sdk(timedelta(days=14)) == v.parse_sb_duration("P14D")
    # TimeSpan.MaxValue as the service sends it, and as the SDK rounds it on the way back.
    assert v.duration_from_sdk(timedelta(days=10675199, seconds=10085, microseconds=477581)) == v.FOREVER
    assert v.duration_from_sdk(timedelta(days=10675199, seconds=10085, microseconds=477539)) == v.FOREVER
    assert v.duration_from_sdk("P10675199DT2H48M5.4775807S") == v.FOREVER
    assert v.duration_from_sdk(None) is None


def test_durations_round_trip_to_the_sdk_and_back() -> None:
    for value in (1, 30_000, 86_400_000, v.FOREVER):
        assert v.duration_from_sdk(v.duration_to_sdk(value)) == value
    assert v.duration_to_sdk(v.FOREVER).days == 10675199


def test_exported_durations_parse_back() -> None:
    for value in (1, 999, 30_000, 90_000, 5_400_000, 14 * 86_400_000, v.FOREVER):
        assert v.parse_sb_duration(v.format_sb_duration(value)) == value


def test_partitioned_standard_entities_report_sixteen_times_their_size() -> None:
    # Recorded: a partitioned queue created with 3072 MB reports 49152 on a Standard namespace.
    assert v.reported_max_size(49152, partitioned=True, sku="Standard") == 3072
    assert v.reported_max_size(16384, partitioned=True, sku="Basic") == 1024
    assert v.reported_max_size(3072, partitioned=False, sku="Standard") == 3072
    # Premium does not multiply (its partitioning is the namespace's).
    assert v.reported_max_size(81920, partitioned=True, sku="Premium") == 81920
    # An unexpected report is left as it is, so the plan shows it instead of hiding a difference.
    assert v.reported_max_size(1000, partitioned=True, sku="Standard") == 1000


def test_forward_targets_of_this_namespace_read_as_names() -> None:
    assert v.entity_of("sb://ns.servicebus.windows.net/orders", "ns.servicebus.windows.net") == "orders"
    assert v.entity_of("sb://NS.servicebus.windows.net/a/b", "ns.servicebus.windows.net") == "a/b"
    other = "sb://other.servicebus.windows.net/orders"
    assert v.entity_of(other, "ns.servicebus.windows.net") == other
    assert v.entity_of("orders", "ns.servicebus.windows.net") == "orders"
    assert v.entity_of(None, "x") is None and v.entity_of("", "x") is None


def test_statuses_take_the_services_spelling() -> None:
    assert v.canonical_status("sendDISABLED", v.QUEUE_STATUSES) == "SendDisabled"
    assert v.canonical_status("ReceiveDisabled", v.TOPIC_STATUSES) is None


def _queue(attrs: dict[str, object], **info: object) -> Resource:
    return Resource(Address("bus", QUEUE, ("orders",)), attrs, info=info)


def test_immutable_queue_fields_replace_with_the_reason() -> None:
    kind = KINDS[QUEUE]
    changes = kind.field_changes(_queue({"requires_session": True}), _queue({"requires_session": False}))
    assert [c.forces_replacement for c in changes] == [True]
    reason = kind.replace_reason(changes[0])
    assert (
        reason
        == "requires_session cannot change in place (false -> true): the service cannot change it on an existing queue"
    )
    same = kind.field_changes(_queue({"lock_duration": 30_000}), _queue({"lock_duration": 30_000}))
    assert same == []


def test_entity_names_compare_case_insensitively_in_forward_targets() -> None:
    kind = KINDS[QUEUE]
    assert kind.field_changes(_queue({"forward_to": "Audit"}), _queue({"forward_to": "audit"})) == []
    assert kind.field_changes(_queue({"user_metadata": ""}), _queue({"user_metadata": None})) == []


def test_messages_at_risk_name_dead_letters() -> None:
    risk = KINDS[QUEUE].at_risk(_queue({}, messages=7, dead_letter_messages=2, forwarded_from=["bus/queue/a"]))
    assert risk == ["7 messages (of which 2 dead-lettered) will be lost", "bus/queue/a forwards here"]


def _rule(attrs: dict[str, object]) -> Resource:
    return Resource(Address("bus", RULE, ("t", "s", "r")), attrs)


def test_rules_are_compared_whole() -> None:
    kind = KINDS[RULE]
    changes = kind.field_changes(_rule({"filter": True}), _rule({"sql_filter": "a = 1"}))
    assert {(c.field, c.before, c.after) for c in changes} == {("filter", None, True), ("sql_filter", "a = 1", None)}
    assert kind.field_changes(_rule({"sql_filter": "a = 1"}), _rule({"sql_filter": "a = 1", "parameters": {}})) == []
    # The kept `$Default` (no attrs declared): only its existence is managed, whatever its filter.
    assert kind.field_changes(_rule({}), _rule({"sql_filter": "x = 1", "action": "SET y = 2"})) == []
