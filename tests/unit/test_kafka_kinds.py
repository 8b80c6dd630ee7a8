"""How topics and ACLs diff: partitions, replication factor, declared/unmanaged/pruned configs."""

from __future__ import annotations

from typing import Any

from tests.unit.kafka_support import acl_address, acl_attrs
from topoctl.engine.diff import diff
from topoctl.model import Action, Address, FieldChange, Resource
from topoctl.providers.kafka.kinds import KINDS, TopicKind

TOPIC = TopicKind()


def topic(attrs: dict[str, Any], info: dict[str, Any] | None = None, absent: bool = False) -> Resource:
    return Resource(Address("k", "topic", ("orders",)), attrs, info=info or {}, absent=absent)


LIVE = topic(
    {"partitions": 6, "replication_factor": 1, "config": {"retention.ms": "604800000", "segment.ms": "3600000"}},
    info={"partitions": 6, "messages": 12},
)


def plan_for(desired: Resource, observed: Resource = LIVE) -> Any:
    return diff([desired], [observed], lambda a: KINDS[a.kind])


def test_only_declared_fields_are_compared() -> None:
    changes = TOPIC.field_changes(topic({"config": {"retention.ms": "604800000"}}), LIVE)
    assert changes == [FieldChange("config.segment.ms", "3600000", None, unmanaged=True)]


def test_undeclared_live_config_is_a_note_not_an_update() -> None:
    plan = plan_for(topic({"partitions": 6, "config": {"retention.ms": "604800000"}}))
    assert plan.empty
    (note,) = plan.notes
    assert note.address == LIVE.address


def test_a_differing_declared_key_is_an_update_with_before_and_after() -> None:
    plan = plan_for(topic({"config": {"retention.ms": "86400000"}}))
    (change,) = plan.changes
    assert change.action == Action.UPDATE
    assert FieldChange("config.retention.ms", "604800000", "86400000") in change.fields


def test_null_removes_a_key_and_prune_config_removes_every_undeclared_key() -> None:
    removed = TOPIC.field_changes(topic({"config": {"segment.ms": None}}), LIVE)
    assert FieldChange("config.segment.ms", "3600000", None) in removed
    assert all(not f.unmanaged for f in removed if f.field == "config.segment.ms")
    # A null for a key that is not set is no change at all.
    assert (
        TOPIC.field_changes(
            topic({"config": {"flush.ms": None, "retention.ms": "604800000", "segment.ms": "3600000"}}), LIVE
        )
        == []
    )

    pruned = TOPIC.field_changes(topic({"prune_config": True, "config": {"retention.ms": "604800000"}}), LIVE)
    assert pruned == [FieldChange("config.segment.ms", "3600000", None)]
    (change,) = plan_for(topic({"prune_config": True})).changes
    assert change.action == Action.UPDATE and not change.destructive


def test_partition_increase_is_in_place() -> None:
    (change,) = plan_for(topic({"partitions": 8})).changes
    assert change.action == Action.UPDATE
    assert change.fields == (FieldChange("partitions", 6, 8),)


def test_partition_decrease_is_a_destructive_replace_with_its_reason_and_risk() -> None:
    (change,) = plan_for(topic({"partitions": 3})).changes
    assert change.action == Action.REPLACE and change.destructive
    assert (
        "partitions cannot decrease (6 -> 3): the topic is deleted and recreated;"
        " Kafka partitions only grow, so keep 6 or more to change the topic in place"
    ) in change.reasons
    assert "12 messages will be lost" in change.reasons


def test_replication_factor_change_is_an_update_that_shows_the_new_assignment() -> None:
    # The driver puts the replicas it chose in the observed topic's info (see reassign).
    observed = topic({"replication_factor": 1, "assignment": {"0": [1], "1": [2]}})
    target = {"0": [1, 2, 3], "1": [2, 3, 1]}
    observed = Resource(observed.address, observed.attrs, info={"assignment_target": target})
    (change,) = diff([topic({"replication_factor": 3})], [observed], lambda a: KINDS[a.kind]).changes
    assert change.action == Action.UPDATE and not change.destructive
    fields = {f.field: (f.before, f.after) for f in change.fields}
    assert fields["replication_factor"] == (1, 3)
    assert fields["assignment"] == ({"0": [1], "1": [2]}, {"0": [1, 2, 3], "1": [2, 3, 1]})
    assert any("2 partitions are reassigned" in n for n in change.notes)


def test_at_risk_without_a_message_count_mentions_the_partitions() -> None:
    observed = topic({"partitions": 2}, info={"partitions": 2})
    assert TOPIC.at_risk(observed) == ["all messages in its 2 partitions will be lost"]
    assert TOPIC.at_risk(topic({}, info={"partitions": 1, "messages": 0})) == []


def test_acls_never_update() -> None:
    attrs = acl_attrs()
    acl = Resource(acl_address(attrs), attrs)
    assert KINDS["acl"].field_changes(acl, acl) == []
    assert diff([acl], [acl], lambda a: KINDS[a.kind]).empty


def test_a_replace_shows_undeclared_live_configs_going_not_kept() -> None:
    desired = topic({"partitions": 2, "config": {"retention.ms": "1"}})
    observed = topic({"partitions": 4, "config": {"retention.ms": "1", "segment.ms": "5"}})
    changes = TOPIC.field_changes(desired, observed)
    assert FieldChange("config.segment.ms", "5", None) in changes
    assert not [c for c in changes if c.unmanaged]
    (change,) = plan_for(desired, observed).changes
    assert change.action == Action.REPLACE and not change.notes  # nothing claims to be kept
