"""Replication factor changes on a live cluster: reading what the partitions need, reassigning them.

Read: the metadata already has every partition's replicas and ISR. Only when a topic whose
replication factor the manifest declares has a partition out of sync (a reassignment may be
running) is one ListPartitionReassignments sent, and only when some partition needs new
replicas is the cluster described (DescribeCluster, for the brokers' racks). A plan that changes
no replication factor costs nothing more.

Apply: one AlterPartitionReassignments for every partition of the wave, then the metadata is
polled until each partition has exactly its new replicas, all in sync. The controller copies the
data to the new replicas before it drops any old one, so no message is lost, and producers and
consumers carry on meanwhile. Progress goes to the `topoctl.progress` logger. A wait cut short
(Ctrl-C, SIGTERM, the time limit) leaves the reassignment running on the broker: the next plan
shows it, the next apply waits for it again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from confluent_kafka import KafkaException

from topoctl.model import JSON, Change, Resource
from topoctl.providers.kafka import reassign
from topoctl.providers.kafka.kinds import ASSIGNMENT, ASSIGNMENT_TARGET, REASSIGNING, TOPIC
from topoctl.providers.kafka.kpy import AdminProblem

if TYPE_CHECKING:
    from topoctl.providers.kafka.driver import KafkaDriver

PROGRESS = logging.getLogger("topoctl.progress")
# How long apply waits for new replicas to catch up: copying a big topic takes a while.
REASSIGN_TIMEOUT_S = 1800.0
_POLL_S = 0.25
_PROGRESS_EVERY_S = 5.0


def partition_states(meta: Any) -> dict[int, reassign.PartitionState]:
    return {int(p): reassign.PartitionState(tuple(pm.replicas), tuple(pm.isrs)) for p, pm in meta.partitions.items()}


def observe(
    driver: KafkaDriver, metadata: Any, desired: Sequence[Resource], observed: list[Resource]
) -> list[Resource]:
    """`observed` with, on each declared topic whose partitions need other replicas, the settled
    replication factor, the live `assignment` (in attrs: a saved plan is stale once it moves) and
    the chosen target (in info)."""
    factors = {
        r.address.name[0]: r.attrs["replication_factor"]
        for r in desired
        if r.kind == TOPIC
        and r.broker == driver.name
        and not r.absent
        and isinstance(r.attrs.get("replication_factor"), int)
        and r.address.name[0] in metadata.topics
    }
    if not factors:
        return observed
    states = {name: partition_states(metadata.topics[name]) for name in factors}
    out_of_sync = {name: [p for p, s in parts.items() if not s.in_sync] for name, parts in states.items()}
    out_of_sync = {name: ps for name, ps in out_of_sync.items() if ps}
    if out_of_sync:
        try:
            pending = driver.extra.list_reassignments(out_of_sync)
        except AdminProblem as exc:
            raise driver._error(str(exc)) from None
        for (name, p), r in pending.items():
            if name in states and p in states[name]:
                old = states[name][p]
                states[name][p] = reassign.PartitionState(r.replicas or old.replicas, old.isr, r.adding, r.removing)
    needing = sorted(name for name, factor in factors.items() if reassign.needs_work(states[name], factor))
    if not needing:
        return observed
    racks = _racks(driver)
    everything = {name: partition_states(meta) for name, meta in metadata.topics.items()}
    everything.update(states)
    load = reassign.broker_load(everything)
    changed: dict[str, tuple[dict[str, JSON], dict[str, JSON]]] = {}
    for name in needing:
        parts = states[name]
        try:
            target = reassign.new_assignment(parts, factors[name], racks, load)
        except ValueError:
            continue  # more replicas than brokers: the driver's plan-time check says so
        attrs: dict[str, JSON] = {
            "replication_factor": reassign.settled_factor(parts),
            ASSIGNMENT: reassign.to_json({p: list(s.settled) for p, s in parts.items()}),
        }
        info: dict[str, JSON] = {ASSIGNMENT_TARGET: reassign.to_json(target)}
        moving = sorted(p for p, s in parts.items() if s.reassigning)
        if moving:
            info[REASSIGNING] = moving
        changed[name] = (attrs, info)
    out = []
    for resource in observed:
        extra = changed.get(resource.address.name[0]) if resource.kind == TOPIC else None
        if extra is None:
            out.append(resource)
            continue
        attrs, info = extra
        out.append(
            Resource(resource.address, {**resource.attrs, **attrs}, resource.depends_on, info={**resource.info, **info})
        )
    return out


def _racks(driver: KafkaDriver) -> dict[int, str | None]:
    try:
        cluster = driver.admin.describe_cluster(request_timeout=driver._timeout_s).result()
    except KafkaException as exc:
        raise driver._error(f"cannot describe the cluster (for its brokers' racks): {driver._text(exc)}") from None
    return {int(node.id): (node.rack or None) for node in cluster.nodes}


def targets_of(change: Change) -> dict[int, list[int]] | None:
    """The new replicas a topic update asks for, or None when it changes no replicas."""
    for field in change.fields:
        if field.field == ASSIGNMENT and not field.unmanaged:
            return reassign.from_json(field.after)
    return None


def apply(
    driver: KafkaDriver, changes: Sequence[Change], done: Callable[[Change], None], failures: list[str]
) -> list[Change]:
    """Reassign the partitions of the topic updates that ask for it and wait until they are in sync.
    The changes whose other fields (partitions, configs) are still to apply are returned; a change
    whose reassignment failed or did not finish is not (it is reported done when it started)."""
    wanted: dict[str, dict[int, list[int]]] = {}
    rest: list[Change] = []
    for change in changes:
        target = targets_of(change)
        factor_changes = any(f.field == "replication_factor" for f in change.fields)
        if target:
            wanted[change.address.name[0]] = target
        elif factor_changes:
            failures.append(
                f"cannot change replication_factor of topic {change.address.name[0]!r}: the plan does not say "
                "which replicas to add or remove (make a new plan)"
            )
            continue
        rest.append(change)
    if not wanted:
        return rest
    flat = {(name, p): replicas for name, parts in wanted.items() for p, replicas in parts.items()}
    try:
        refused = driver.extra.alter_reassignments(flat)
    except AdminProblem as exc:
        failures.append(driver._text(exc))
        return [c for c in rest if c.address.name[0] not in wanted]
    bad = sorted({name for name, _ in refused})
    for name in bad:
        reasons = sorted({f"partition {p}: {why}" for (n, p), why in refused.items() if n == name})
        failures.append(f"cannot reassign topic {name!r}: {'; '.join(reasons[:5])}")
    started = {name: parts for name, parts in wanted.items() if name not in bad}
    unfinished = _wait(driver, started)
    out = []
    for change in rest:
        name = change.address.name[0]
        if name in bad:
            if any(n == name for n, _ in flat if (n, _) not in refused):
                done(change)  # some of its partitions are moving: it took effect in part
            continue
        if name in unfinished:
            done(change)
            failures.append(unfinished[name])
            continue
        out.append(change)
    return out


def _wait(driver: KafkaDriver, started: Mapping[str, Mapping[int, list[int]]]) -> dict[str, str]:
    """Poll metadata until every partition has its target replicas, all in sync. The topics that
    did not get there, with what to tell the user."""
    total = sum(len(parts) for parts in started.values())
    pending = {(name, p): set(replicas) for name, parts in started.items() for p, replicas in parts.items()}
    deadline = time.monotonic() + REASSIGN_TIMEOUT_S
    began = time.monotonic()
    shown = began
    why = ""
    while pending:
        try:
            metadata = driver.admin.list_topics(timeout=driver._timeout_s)
        except KafkaException:
            metadata = None
        if metadata is not None:
            for key in list(pending):
                name, p = key
                meta = metadata.topics.get(name)
                pm = meta.partitions.get(p) if meta is not None else None
                if pm is not None and set(pm.replicas) == pending[key] and pending[key] <= set(pm.isrs):
                    del pending[key]
        if not pending:
            break
        now = time.monotonic()
        if now - shown >= _PROGRESS_EVERY_S:
            shown = now
            done_count = total - len(pending)
            PROGRESS.info(
                "%s: reassigning partitions: %d of %d in sync (%.0fs)", driver.name, done_count, total, now - began
            )
        if driver.stopping.is_set():
            why = "the apply was stopped while waiting"
            break
        if now > deadline:
            why = f"the new replicas were not in sync after {REASSIGN_TIMEOUT_S:.0f}s"
            break
        time.sleep(_POLL_S)
    if pending:
        done_count = total - len(pending)
        PROGRESS.info("%s: reassigning partitions: %d of %d in sync; stopped waiting", driver.name, done_count, total)
    else:
        PROGRESS.info("%s: reassigned %d partitions in %.1fs", driver.name, total, time.monotonic() - began)
    out: dict[str, str] = {}
    for name in sorted({n for n, _ in pending}):
        left = sorted(p for n, p in pending if n == name)
        out[name] = (
            f"topic {name!r}: {why}; partition{'s' if len(left) != 1 else ''} {', '.join(map(str, left))} "
            "still catching up. The reassignment goes on in the broker: `topoctl plan` shows it, "
            "`topoctl apply` waits for it and applies the rest"
        )
    return out
