"""What the server would refuse in a plan, found from what the plan read (conflicts.review): a
replace must be able to create its stream again before its delete runs, and a create or new
subject may not overlap a live stream the plan keeps."""

from __future__ import annotations

from typing import Any

from topoctl.model import Address, Resource
from topoctl.providers.base import PruneScope
from topoctl.providers.nats.conflicts import review, subjects_after
from topoctl.providers.nats.kinds import CONSUMER, KV_BUCKET, OBJECT_STORE, STREAM

B = "n"


def stream(name: str, source: str | None = "m.yaml:7", absent: bool = False, **attrs: Any) -> Resource:
    return Resource(Address(B, STREAM, (name,)), attrs, absent=absent, source=source)


def live_stream(name: str, **attrs: Any) -> Resource:
    return Resource(Address(B, STREAM, (name,)), {"storage": "file", **attrs}, info={"server_version": "2.15.1"})


def consumer(stream_name: str, name: str, live: bool = False, **attrs: Any) -> Resource:
    depends = (Address(B, STREAM, (stream_name,)),)
    return Resource(Address(B, CONSUMER, (stream_name, name)), attrs, depends, source=None if live else "m.yaml:9")


def subjects_of(*resources: Resource, **extra: list[str]) -> dict[str, list[str]]:
    out = {r.address.name[0]: list(r.attrs.get("subjects") or []) for r in resources if r.kind == STREAM}
    return {**out, **extra}


def problems(
    desired: list[Resource],
    observed: list[Resource],
    prune: list[PruneScope] | None = None,
    extra: dict[str, list[str]] | None = None,
) -> list[str]:
    """The problems found; `extra`: subjects of live streams that are not among `observed`."""
    return review(B, desired, prune or [], observed, subjects_of(*observed, **(extra or {}))).problems


PB_W = live_stream("PB_W", subjects=["pb.w.>"])
OTHER = live_stream("OTHER", subjects=["pb.w2.>"])


def test_a_replace_whose_create_the_server_would_refuse_is_a_plan_error_naming_both_streams() -> None:
    want = stream("PB_W", subjects=["pb.w.>", "pb.w2.>"], storage="memory")
    found = review(B, [want], [], [PB_W, OTHER], subjects_of(PB_W, OTHER))
    [problem] = found.problems
    assert "stream 'PB_W' (declared at m.yaml:7): cannot replace it" in problem
    assert "subject 'pb.w2.>' overlaps 'pb.w2.>' of live stream 'OTHER' (not in the manifest)" in problem
    assert "10065" in problem
    assert found.replacing == {"PB_W": want}
    assert found.replacing_subjects == {"PB_W": ["pb.w.>", "pb.w2.>"]}


def test_a_replace_without_overlap_passes_and_is_remembered_for_apply() -> None:
    want = stream("PB_W", subjects=["pb.w.>"], storage="memory")
    found = review(B, [want], [], [PB_W, OTHER], subjects_of(PB_W, OTHER))
    assert found.problems == []
    assert set(found.replacing) == {"PB_W"}


def test_an_update_is_not_a_replace() -> None:
    want = stream("PB_W", subjects=["pb.w.>"], max_age=60_000_000_000)
    found = review(B, [want], [], [PB_W], subjects_of(PB_W))
    assert found.problems == [] and found.replacing == {}


def test_a_replace_overlapping_a_stream_the_plan_deletes_is_still_refused() -> None:
    # The other stream's delete could fail after this one is gone, or be left out by --target.
    want = stream("PB_W", subjects=["pb.w.>", "pb.w2.>"], storage="memory")
    gone = stream("OTHER", absent=True)
    [problem] = problems([want, gone], [PB_W, OTHER])
    assert "cannot replace it" in problem and "of live stream 'OTHER'" in problem
    assert problems([want], [PB_W, OTHER], prune=[PruneScope()])


def test_a_create_or_a_new_subject_overlapping_a_live_undeclared_stream_is_a_plan_error() -> None:
    [problem] = problems([stream("NEW", subjects=["pb.w2.x"])], [OTHER])
    assert "stream 'NEW' (declared at m.yaml:7): cannot create it: subject 'pb.w2.x' overlaps 'pb.w2.>'" in problem
    [problem] = problems([stream("PB_W", subjects=["pb.w.>", "pb.*.x"])], [PB_W, OTHER])
    assert "cannot give it these subjects: subject 'pb.*.x' overlaps 'pb.w2.>' of live stream 'OTHER'" in problem


def test_a_create_may_take_the_subjects_of_a_stream_the_plan_deletes_first() -> None:
    new = stream("NEW", subjects=["pb.w2.>"])
    assert problems([new, stream("OTHER", absent=True)], [OTHER]) == []
    assert problems([new], [OTHER], prune=[PruneScope()]) == []
    assert problems([new], [OTHER], prune=[PruneScope(prefix="OTH")]) == []
    assert problems([new], [OTHER], prune=[PruneScope(prefix="X")]) != []


def test_a_create_may_take_subjects_a_declared_stream_gives_up_in_the_same_apply() -> None:
    other = live_stream("OTHER", subjects=["pb.w2.>", "keep"])
    assert problems([stream("NEW", subjects=["pb.w2.>"]), stream("OTHER", subjects=["keep"])], [other]) == []
    # Declared without subjects, it keeps its live ones: still a conflict.
    assert problems([stream("NEW", subjects=["pb.w2.>"]), stream("OTHER", description="x")], [other]) != []


def test_bucket_and_server_streams_count_too() -> None:
    kv = Resource(Address(B, KV_BUCKET, ("sessions",)), {})
    [problem] = problems([stream("NEW", subjects=["$KV.>"])], [kv], extra={"KV_sessions": ["$KV.sessions.>"]})
    assert "overlaps '$KV.sessions.>' of live KV bucket 'sessions'" in problem
    [problem] = problems([stream("NEW", subjects=["$MQTT.>"])], [], extra={"$MQTT_msgs": ["$MQTT.msgs.>"]})
    assert "of live server stream '$MQTT_msgs'" in problem
    dlq = live_stream("DLQ_ORDERS", subjects=["$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.ORDERS.billing"])
    [problem] = problems([stream("NEW", subjects=["$JS.EVENT.ADVISORY.CONSUMER.*.ORDERS.>"])], [dlq])
    assert "of live stream 'DLQ_ORDERS'" in problem


def test_a_new_bucket_is_checked_with_its_stream_subjects() -> None:
    bucket = Resource(Address(B, OBJECT_STORE, ("files",)), {}, source="m.yaml:20")
    [problem] = problems([bucket], [live_stream("GREEDY", subjects=["$O.>"])])
    assert problem.startswith("object store 'files' (declared at m.yaml:20): cannot create it")


def test_a_new_stream_without_subjects_captures_its_name() -> None:
    assert subjects_after(stream("orders"), "create", []) == ["orders"]
    assert subjects_after(stream("M", mirror={"name": "orders"}), "create", []) == []
    assert subjects_after(stream("orders"), "update", ["a.>"]) == ["a.>"]
    [problem] = problems([stream("orders")], [live_stream("ALL", subjects=["*"])])
    assert "subject 'orders' overlaps '*' of live stream 'ALL'" in problem
    [problem] = problems([stream("orders"), stream("O2", subjects=["orders"])], [])
    assert "stream 'O2' (declared at m.yaml:7)" in problem and "stream 'orders'" in problem


def test_undeclared_live_consumers_of_a_workqueue_stream_are_checked() -> None:
    wq = live_stream("WQ", subjects=["wq.>"], retention="workqueue")
    live = consumer("WQ", "old", live=True, filter_subject="wq.a")
    want = consumer("WQ", "new", filter_subject="wq.*")
    [problem] = problems([stream("WQ", subjects=["wq.>"]), want], [wq, live])
    assert (
        "consumer WQ/new (declared at m.yaml:9): its filter 'wq.*' overlaps 'wq.a' of live consumer WQ/old" in problem
    )
    assert problems([stream("WQ", subjects=["wq.>"]), want], [wq, live], prune=[PruneScope()]) == []
    assert problems([stream("WQ", subjects=["wq.>"]), consumer("WQ", "new", filter_subject="wq.b")], [wq, live]) == []


def test_consumers_replaced_on_their_own_are_dry_run() -> None:
    s = stream("S", subjects=["s.>"])
    have = [live_stream("S", subjects=["s.>"]), consumer("S", "c", live=True, ack_policy="explicit")]
    found = review(B, [s, consumer("S", "c", ack_policy="all")], [], have, subjects_of(*have))
    assert [str(c.address) for c in found.consumer_replaces] == ["n/consumer/S/c"]
    # Recreated after its replaced stream: checked against that stream, which does not exist yet.
    found = review(
        B, [stream("S", subjects=["s.>"], storage="memory"), consumer("S", "c", ack_policy="all")], [], have, {}
    )
    assert found.consumer_replaces == []
