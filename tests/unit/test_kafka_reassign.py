"""Choosing new replicas for a replication factor change (topoctl.providers.kafka.reassign)."""

from __future__ import annotations

import pytest

from topoctl.providers.kafka.reassign import (
    PartitionState,
    broker_load,
    needs_work,
    new_assignment,
    settled_factor,
)

RACKS = {1: "a", 2: "b", 3: "a"}
NO_RACKS: dict[int, str | None] = {1: None, 2: None, 3: None, 4: None}


def state(*replicas: int, isr: tuple[int, ...] | None = None) -> PartitionState:
    return PartitionState(tuple(replicas), tuple(replicas) if isr is None else isr)


def test_increase_keeps_current_replicas_first_and_adds_another_rack_first() -> None:
    parts = {0: state(1), 1: state(3)}
    target = new_assignment(parts, 2, RACKS, broker_load({"t": parts}))
    # Both partitions sit on rack a: the second replica goes to the only broker of rack b.
    assert target == {0: [1, 2], 1: [3, 2]}


def test_increase_spreads_load_without_racks() -> None:
    parts = {p: state(1) for p in range(6)}
    target = new_assignment(parts, 2, NO_RACKS, broker_load({"t": parts}))
    assert all(replicas[0] == 1 for replicas in target.values())
    added = [replicas[1] for replicas in target.values()]
    assert sorted(added) == [2, 2, 3, 3, 4, 4]


def test_decrease_keeps_the_preferred_leader_and_drops_out_of_sync_replicas_first() -> None:
    parts = {0: state(2, 1, 3, isr=(2, 1)), 1: state(3, 2, 1)}
    target = new_assignment(parts, 2, RACKS, broker_load({"t": parts}))
    assert target[0] == [2, 1]  # 3 is not in sync
    assert target[1][0] == 3 and len(target[1]) == 2
    # Partition 1 keeps racks apart: 3 (a) with 2 (b), not with 1 (a).
    assert target[1] == [3, 2]


def test_partitions_already_right_are_left_alone() -> None:
    parts = {0: state(1, 2), 1: state(2)}
    # Broker 3 (rack a, holding nothing) rather than 1 (rack a, holding a replica already).
    assert new_assignment(parts, 2, RACKS, broker_load({"t": parts})) == {1: [2, 3]}


def test_a_pending_reassignment_to_the_declared_factor_is_finished_not_redone() -> None:
    moving = PartitionState((1, 2, 3), (1,), adding=(2, 3))
    parts = {0: moving}
    assert moving.settled == (1,) and moving.target == (1, 2, 3)
    assert settled_factor(parts) == 1
    assert needs_work(parts, 3)
    assert new_assignment(parts, 3, RACKS, broker_load({"t": parts})) == {0: [1, 2, 3]}


def test_a_pending_reassignment_elsewhere_is_replaced() -> None:
    moving = PartitionState((1, 2), (1,), adding=(2,))
    target = new_assignment({0: moving}, 3, RACKS, {})
    assert sorted(target[0]) == [1, 2, 3] and target[0][0] == 1


def test_more_replicas_than_brokers_is_refused() -> None:
    with pytest.raises(ValueError, match="the cluster has 3"):
        new_assignment({0: state(1)}, 4, RACKS, {})


def test_needs_work() -> None:
    assert not needs_work({0: state(1, 2), 1: state(2, 3)}, 2)
    assert needs_work({0: state(1, 2), 1: state(2)}, 2)
