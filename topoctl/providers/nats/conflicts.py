"""What the server would refuse in a plan, found from what the plan read (pure).

A replace is a delete and then a create. If the server refuses the create (another stream already
captures one of the subjects: 10065), the delete has already taken the stream, its messages and
its consumers. So before any plan is shown, every stream, KV bucket and object store the plan
creates, replaces or gives new subjects is checked against the subjects of every live stream
(bucket streams `KV_*`/`OBJ_*`, dead-letter streams and the server's own `$` streams included),
and against the other declared ones.

What the engine guarantees about order (topoctl/engine/order.py): all deletes of a plan run in
waves before all creates and updates, and an apply stops after the first wave that failed. So a
live stream that the plan deletes (`state: absent`, a prune) frees its subjects before any create
runs, and a create or update that needs them is fine. A replace is held to more: it may not
overlap any other live stream at all, since the delete of that other stream could fail after the
replaced stream is already gone (and `--target` could leave that delete out of the plan).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from topoctl.model import JSON, Address, Resource
from topoctl.providers.base import PruneScope, covering
from topoctl.providers.nats import fields as F
from topoctl.providers.nats.buckets import KV_PREFIX, OBJ_PREFIX, SERVER_PREFIX, bucket_subjects
from topoctl.providers.nats.kinds import CONSUMER, KINDS, KV_BUCKET, OBJECT_STORE, STREAM, unchanged
from topoctl.providers.nats.subjects import SubjectIndex, subjects_overlap

StepKind = Literal["create", "update", "replace"]
STREAM_KINDS = (STREAM, KV_BUCKET, OBJECT_STORE)


def stream_name(address: Address) -> str:
    """The JetStream stream behind a stream, KV bucket or object store address."""
    name = address.name[0]
    if address.kind == KV_BUCKET:
        return KV_PREFIX + name
    if address.kind == OBJECT_STORE:
        return OBJ_PREFIX + name
    return name


def describe(stream: str) -> str:
    """A live stream as a user knows it: a bucket by its bucket name."""
    if stream.startswith(SERVER_PREFIX):
        return f"server stream {stream!r}"
    if stream.startswith(KV_PREFIX):
        return f"KV bucket {stream[len(KV_PREFIX) :]!r}"
    if stream.startswith(OBJ_PREFIX):
        return f"object store {stream[len(OBJ_PREFIX) :]!r}"
    return f"stream {stream!r}"


def label(resource: Resource) -> str:
    """A declared stream, bucket or object store, with where it is declared."""
    where = f" (declared at {resource.source})" if resource.source else ""
    return describe(stream_name(resource.address)) + where


_TABLES = {STREAM: F.STREAM_FIELDS, KV_BUCKET: F.KV_FIELDS, OBJECT_STORE: F.OBJECT_STORE_FIELDS}


def action_of(want: Resource, have: Resource | None) -> StepKind | None:
    """What the engine will plan for a present desired resource: the same KindSpec decides.

    Most declared objects match (a plan of thousands of them changes a few): when every declared
    value equals the live one, there is nothing to ask the kind. (A consumer that declares one
    filter form while the other is live is an update the kind would find; it is no replace.)"""
    if have is None:
        return "create"
    if unchanged(want, have, _TABLES.get(want.kind, F.CONSUMER_FIELDS)):
        return None
    changes = [c for c in KINDS[want.kind].field_changes(want, have) if not c.unmanaged]
    if any(c.forces_replacement for c in changes):
        return "replace"
    return "update" if changes else None


def subjects_after(want: Resource, action: StepKind | None, live: Sequence[str]) -> list[str]:
    """The subjects the stream behind `want` captures once the plan is applied."""
    attrs = want.attrs
    name = want.address.name[0]
    fresh = action in ("create", "replace")
    if want.kind == STREAM:
        declared = attrs.get("subjects")
        if isinstance(declared, list) and declared:
            return [str(s) for s in declared]
        if not fresh:
            return list(live)
        # Created without subjects, mirror or sources, a stream captures its own name.
        return [] if attrs.get("mirror") or attrs.get("sources") else [name]
    if fresh:
        return bucket_subjects(want.kind, name, attrs)
    if want.kind == KV_BUCKET and "mirror" in attrs and attrs["mirror"] is None and not live:
        return bucket_subjects(KV_BUCKET, name, {})  # a promoted read replica takes its own subjects
    return list(live)


@dataclass
class Review:
    """The refusals found, and what the driver needs to guard the replaces again at apply time."""

    problems: list[str] = field(default_factory=list)
    # stream name -> the desired stream, KV bucket or object store the plan replaces
    replacing: dict[str, Resource] = field(default_factory=dict)
    # stream name -> its subjects after the replace
    replacing_subjects: dict[str, list[str]] = field(default_factory=dict)
    # desired consumers replaced on their own (their stream stays as it is): dry-run their create
    consumer_replaces: list[Resource] = field(default_factory=list)


def review(
    broker: str,
    desired: Sequence[Resource],
    prune: Sequence[PruneScope],
    observed: Sequence[Resource],
    live_subjects: Mapping[str, Sequence[str]],
) -> Review:
    """Check the plan that `desired` makes against what was read.

    `observed` is what the driver read (streams, buckets, consumers); `live_subjects` maps every
    live stream, the server's own included, to its subjects.
    """
    out = Review()
    have = {r.address: r for r in observed}
    mine = [r for r in desired if r.broker == broker]
    wanted = {r.address: r for r in mine}

    actions: dict[str, StepKind | None] = {}
    after: dict[str, list[str]] = {}
    declared: dict[str, Resource] = {}
    for want in mine:
        if want.kind not in STREAM_KINDS or want.absent:
            continue
        name = stream_name(want.address)
        action = action_of(want, have.get(want.address))
        declared[name] = want
        actions[name] = action
        after[name] = subjects_after(want, action, live_subjects.get(name, ()))
        if action == "replace":
            out.replacing[name] = want
            out.replacing_subjects[name] = after[name]

    # Live streams whose delete runs, in an earlier wave, before any create or update.
    going = {stream_name(a) for a, r in wanted.items() if r.absent and a in have and a.kind in STREAM_KINDS}
    pruned = covering(prune)
    going |= {
        stream_name(r.address)
        for r in observed
        if r.kind in STREAM_KINDS and r.address not in wanted and pruned(r.address)
    }
    going |= set(out.replacing)

    # Only what the plan creates, replaces or changes is checked (a no-change plan of thousands of
    # streams builds no index at all).
    changing = [name for name in declared if actions[name] is not None]
    live, future = SubjectIndex(), SubjectIndex()
    if changing:
        for name, subjects in live_subjects.items():
            for subject in subjects:
                live.insert(str(subject), name)
        for name, subjects in after.items():
            for subject in subjects:
                future.insert(subject, name)

    # (stream, other stream, "live" or "declared") -> "subject 'x' overlaps 'y'", in order found
    clashes: dict[tuple[str, str, str], list[str]] = {}
    for name in changing:
        action = actions[name]
        for subject in after[name]:
            for other, theirs in live.overlapping(subject):
                if other == name or (action != "replace" and other in going):
                    continue
                if action != "replace" and other in declared and not _overlaps_any(subject, after[other]):
                    continue  # the other stream's update lets it go first, in the same apply
                clashes.setdefault((name, other, "live"), []).append(f"subject {subject!r} overlaps {theirs!r}")
            for other, theirs in future.overlapping(subject):
                seen = {(other, name, "declared"), (name, other, "live"), (other, name, "live")}
                if other == name or seen & clashes.keys():
                    continue
                clashes.setdefault((name, other, "declared"), []).append(f"subject {subject!r} overlaps {theirs!r}")

    for (name, other, where), found in clashes.items():
        want, action = declared[name], actions[name]
        what = " and ".join(found)
        whose = describe(other) + ("" if other in declared else " (not in the manifest)")
        if where == "declared":
            out.problems.append(
                f"{label(want)}: {what} of {label(declared[other])}: a message may be stored by one stream only "
                "(the server refuses the second, 10065)"
            )
        elif action == "replace":
            out.problems.append(
                f"{label(want)}: cannot replace it: {what} of live {whose}, so the server would refuse (10065) "
                "to create it again once it is deleted, and its messages and consumers would be gone. Remove the "
                "overlap first (change or delete the other stream in an apply of its own), then replace this one"
            )
        else:
            verb = "create it" if action == "create" else "give it these subjects"
            out.problems.append(f"{label(want)}: cannot {verb}: {what} of live {whose}; the server refuses it (10065)")

    out.problems += _workqueue_overlaps(mine, observed, have, wanted, prune, actions)
    for want in mine:
        if want.kind != CONSUMER or want.absent or want.address not in have:
            continue
        stream = want.address.name[0]
        if actions.get(stream, "missing") is None and action_of(want, have[want.address]) == "replace":
            out.consumer_replaces.append(want)
    return out


def _overlaps_any(subject: str, others: Sequence[str]) -> bool:
    return any(subjects_overlap(subject, other) for other in others)


def _filters(attrs: Mapping[str, JSON]) -> list[str]:
    many, one = attrs.get("filter_subjects"), attrs.get("filter_subject")
    return [str(f) for f in many] if isinstance(many, list) and many else [str(one or ">")]


def _workqueue_overlaps(
    mine: Sequence[Resource],
    observed: Sequence[Resource],
    have: Mapping[Address, Resource],
    wanted: Mapping[Address, Resource],
    prune: Sequence[PruneScope],
    actions: Mapping[str, StepKind | None],
) -> list[str]:
    """A workqueue message goes to one consumer: the server refuses a consumer whose filters overlap
    another's (10100). Declared consumers are checked against each other when the manifest is
    compiled; here, against the live consumers the manifest does not declare and the plan keeps."""
    streams = {r.address.name[0]: r for r in observed if r.kind == STREAM}
    if not any(r.attrs.get("retention") == "workqueue" for r in streams.values()):
        return []
    kept: dict[str, list[Resource]] = {}
    pruned = covering(prune)
    for r in observed:
        if r.kind != CONSUMER or r.address in wanted or pruned(r.address):
            continue
        kept.setdefault(r.address.name[0], []).append(r)
    problems = []
    for want in mine:
        if want.kind != CONSUMER or want.absent:
            continue
        stream, consumer = want.address.name
        live_stream = streams.get(stream)
        if live_stream is None or live_stream.attrs.get("retention") != "workqueue" or stream not in kept:
            continue
        if actions.get(stream) == "replace":
            continue  # the undeclared consumers go with the stream
        old = have.get(want.address)
        if old is not None and action_of(want, old) is None:
            continue
        for mine_filter in _filters(want.attrs):
            for other in kept[stream]:
                clash = [f for f in _filters(other.attrs) if subjects_overlap(mine_filter, f)]
                if clash:
                    where = f" (declared at {want.source})" if want.source else ""
                    problems.append(
                        f"consumer {stream}/{consumer}{where}: its filter {mine_filter!r} overlaps {clash[0]!r} "
                        f"of live consumer {stream}/{other.address.name[1]} (not in the manifest) on workqueue stream "
                        f"{stream!r}: the server refuses it (10100)"
                    )
    return problems
