"""Replication factor changes by partition reassignment: which replicas each partition gets. Pure.

Kafka changes a partition's replicas only through a reassignment (AlterPartitionReassignments): the
controller adds the new replicas, waits until they are in sync, then drops the removed ones. So a
changed `replication_factor` is an update, never a replace, once the plan has chosen the new
replica list of every partition. The choice here moves as little as possible:

* a partition that already has the declared number of replicas (and no reassignment pending) is
  left alone;
* an increase keeps every current replica, in order (the first stays the preferred leader), and
  adds brokers of racks the partition does not use yet first, then the least loaded brokers;
* a decrease keeps the preferred leader and drops replicas that are out of sync first, then ones
  whose rack the partition uses twice, then those on the most loaded brokers;
* a reassignment already in progress towards the declared number of replicas (an apply that was
  interrupted, or one started by hand) keeps its target, so the next apply finishes it.

Load is the number of replicas each broker holds over the whole cluster, updated as replicas are
placed, so fifty partitions going from one replica to three spread evenly.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class PartitionState:
    """One partition as the cluster shows it: metadata replicas and ISR, and (when a reassignment is
    in progress) the replicas being added and removed (ListPartitionReassignments)."""

    replicas: tuple[int, ...]
    isr: tuple[int, ...] = ()
    adding: tuple[int, ...] = ()
    removing: tuple[int, ...] = ()

    @property
    def settled(self) -> tuple[int, ...]:
        """The replicas it has for good: during a reassignment the metadata lists the new ones too."""
        return tuple(r for r in self.replicas if r not in self.adding)

    @property
    def target(self) -> tuple[int, ...]:
        """The replicas it will have when the pending reassignment is done."""
        return tuple(r for r in self.replicas if r not in self.removing)

    @property
    def reassigning(self) -> bool:
        return bool(self.adding or self.removing)

    @property
    def in_sync(self) -> bool:
        return set(self.replicas) <= set(self.isr)


def settled_factor(partitions: Mapping[int, PartitionState]) -> int:
    """The topic's replication factor as a plan shows it: the most replicas any partition has for good."""
    return max((len(p.settled) for p in partitions.values()), default=0)


def needs_work(partitions: Mapping[int, PartitionState], factor: int) -> bool:
    return any(len(p.settled) != factor or p.reassigning for p in partitions.values())


def broker_load(topics: Mapping[str, Mapping[int, PartitionState]]) -> dict[int, int]:
    """Replicas per broker over the cluster (what each will hold once pending reassignments end)."""
    load: dict[int, int] = {}
    for partitions in topics.values():
        for state in partitions.values():
            for broker in state.target:
                load[broker] = load.get(broker, 0) + 1
    return load


def new_assignment(
    partitions: Mapping[int, PartitionState],
    factor: int,
    racks: Mapping[int, str | None],
    load: dict[int, int],
) -> dict[int, list[int]]:
    """The replica list of every partition that must change for `factor` replicas, by partition.
    `racks` maps each live broker to its `broker.rack` (None without one); `load` is updated in
    place with the placements made, so several topics can share it. Raises ValueError when there
    are fewer live brokers than `factor`."""
    if factor > len(racks):
        raise ValueError(f"{factor} replicas need {factor} brokers, the cluster has {len(racks)}")
    out: dict[int, list[int]] = {}
    for index in sorted(partitions):
        state = partitions[index]
        pending = state.target
        if state.reassigning and len(pending) == factor and all(b in racks for b in pending):
            out[index] = list(pending)  # finish what is in progress rather than start over
            continue
        if len(state.settled) == factor and not state.reassigning:
            continue
        current = [b for b in state.settled if b in racks] or list(state.settled)
        for broker in pending:
            load[broker] = load.get(broker, 0) - 1  # the pending target is replaced by ours
        chosen = _shrink(current, factor, state.isr, racks, load) if len(current) > factor else list(current)
        while len(chosen) < factor:
            chosen.append(_pick(chosen, racks, load))
        for broker in chosen:
            load[broker] = load.get(broker, 0) + 1
        if chosen != list(state.replicas) or state.reassigning:
            out[index] = chosen
    return out


def _shrink(
    current: list[int], factor: int, isr: tuple[int, ...], racks: Mapping[int, str | None], load: Mapping[int, int]
) -> list[int]:
    kept = list(current)
    while len(kept) > factor:
        # Never the first (the preferred leader); then out-of-sync first, a rack used twice, the busiest.
        def drop_score(broker: int) -> tuple[bool, bool, int, int]:
            rack = racks.get(broker)
            doubled = rack is not None and sum(1 for b in kept if racks.get(b) == rack) > 1
            return (broker not in isr, doubled, load.get(broker, 0), broker)

        kept.remove(max(kept[1:], key=drop_score))
    return kept


def _pick(chosen: list[int], racks: Mapping[int, str | None], load: Mapping[int, int]) -> int:
    used = {racks.get(b) for b in chosen}
    candidates = [b for b in racks if b not in chosen]

    def score(broker: int) -> tuple[bool, int, int]:
        rack = racks[broker]
        return (rack is not None and rack in used, load.get(broker, 0), broker)

    return min(candidates, key=score)


def to_json(assignment: Mapping[int, list[int]]) -> dict[str, list[int]]:
    """Partition numbers as JSON object keys (strings), in partition order."""
    return {str(p): list(assignment[p]) for p in sorted(assignment)}


def from_json(value: object) -> dict[int, list[int]]:
    if not isinstance(value, Mapping):
        return {}
    return {int(p): [int(b) for b in replicas] for p, replicas in value.items() if isinstance(replicas, list)}
