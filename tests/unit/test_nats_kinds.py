"""What the JetStream kinds plan: in place, replace, one-way flags, version rules, at-risk notes."""

from __future__ import annotations

from typing import Any

import pytest

from topoctl.model import Address, Resource
from topoctl.providers.nats.kinds import KINDS

STREAM, CONSUMER, KV = KINDS["stream"], KINDS["consumer"], KINDS["kv_bucket"]


def res(kind: str, attrs: dict[str, Any], **info: Any) -> Resource:
    return Resource(Address("n", kind, ("X",) if kind != "consumer" else ("X", "c")), attrs, info=info)


def forced(spec: Any, field: str, before: Any, after: Any, **info: Any) -> bool:
    changes = spec.field_changes(res(spec.kind, {field: after}), res(spec.kind, {field: before}, **info))
    assert len(changes) == 1, changes
    return bool(changes[0].forces_replacement)


@pytest.mark.parametrize(
    ("field", "before", "after", "replace"),
    [
        ("max_age", 1, 2, False),
        ("subjects", ["a"], ["a", "b"], False),
        ("storage", "file", "memory", True),
        ("retention", "limits", "interest", False),
        ("retention", "interest", "workqueue", True),
        ("retention", "workqueue", "limits", True),
        ("deny_delete", False, True, False),
        ("deny_delete", True, False, True),
        ("deny_purge", True, False, True),
        ("sealed", False, True, False),
        ("sealed", True, False, True),
        ("allow_msg_ttl", False, True, False),
        ("allow_msg_ttl", True, False, True),
        ("allow_msg_schedules", True, False, True),
        ("allow_msg_counter", False, True, True),
        ("persist_mode", "default", "async", True),
        ("mirror", {"name": "A"}, {"name": "B"}, True),
        ("mirror", None, {"name": "B"}, True),
        ("mirror", {"name": "A"}, None, False),
        ("max_consumers", -1, 10, False),
        ("allow_direct", False, True, False),
    ],
)
def test_stream_mutability(field: str, before: Any, after: Any, replace: bool) -> None:
    assert forced(STREAM, field, before, after, server_version="2.15.1") is replace


def test_max_consumers_is_frozen_before_2_14() -> None:
    assert forced(STREAM, "max_consumers", -1, 10, server_version="2.10.22") is True
    assert forced(STREAM, "max_consumers", -1, 10, server_version="2.14.0") is False


@pytest.mark.parametrize(
    ("field", "before", "after", "replace"),
    [
        ("ack_wait", 1, 2, False),
        ("max_deliver", 3, 5, False),
        ("backoff", [1], [1, 2], False),
        ("filter_subject", "a", "b", False),
        ("max_ack_pending", 1, 2, False),
        ("ack_policy", "explicit", "all", True),
        ("deliver_policy", "all", "new", True),
        ("opt_start_seq", 1, 2, True),
        ("replay_policy", "instant", "original", True),
        ("idle_heartbeat", 0, 5, True),
        ("flow_control", False, True, True),
        ("max_waiting", 512, 10, True),
        ("mem_storage", False, True, True),
        ("deliver_subject", "", "push.here", True),
        ("deliver_subject", "push.here", "", True),
        ("deliver_subject", "push.a", "push.b", False),
    ],
)
def test_consumer_mutability(field: str, before: Any, after: Any, replace: bool) -> None:
    assert forced(CONSUMER, field, before, after) is replace


def test_kv_storage_is_frozen_history_is_not() -> None:
    assert forced(KV, "storage", "file", "memory") is True
    assert forced(KV, "history", 1, 5) is False


def test_only_declared_fields_are_compared() -> None:
    desired = res("stream", {"max_age": 5})
    observed = res("stream", {"max_age": 5, "max_msgs": 10, "storage": "file", "metadata": {}})
    assert STREAM.field_changes(desired, observed) == []


def test_replace_reasons_name_the_rule() -> None:
    (change,) = STREAM.field_changes(res("stream", {"deny_delete": False}), res("stream", {"deny_delete": True}))
    assert "one-way" in STREAM.replace_reason(change)
    (change,) = CONSUMER.field_changes(
        res("consumer", {"deliver_subject": "x"}), res("consumer", {"deliver_subject": ""})
    )
    assert "pull consumer cannot become a push" in CONSUMER.replace_reason(change)


def test_at_risk_notes() -> None:
    assert STREAM.at_risk(res("stream", {}, messages=3, consumers=2)) == [
        "3 messages will be lost",
        "its 2 consumers go with it",
    ]
    assert STREAM.at_risk(res("stream", {}, messages=0, consumers=0)) == []
    assert KV.at_risk(res("kv_bucket", {}, messages=1, bytes=20)) == ["1 value will be lost, 20 bytes"]
    assert CONSUMER.at_risk(res("consumer", {}, num_pending=4, num_ack_pending=1)) == [
        "its delivery position is lost (4 messages not yet delivered, 1 message awaiting ack)"
    ]
    assert CONSUMER.at_risk(res("consumer", {}, num_pending=0, num_ack_pending=0)) == []


@pytest.mark.parametrize(
    ("declared", "live", "cleared"),
    [
        ({"filter_subject": "a"}, {"filter_subject": "", "filter_subjects": ["a", "b"]}, ("filter_subjects", [])),
        ({"filter_subjects": ["a", "b"]}, {"filter_subject": "a", "filter_subjects": []}, ("filter_subject", "")),
    ],
)
def test_declaring_one_filter_form_clears_the_other(
    declared: dict[str, Any], live: dict[str, Any], cleared: tuple[str, Any]
) -> None:
    changes = CONSUMER.field_changes(res("consumer", declared), res("consumer", live))
    assert sorted((c.field, repr(c.after)) for c in changes) == sorted(
        [*((k, repr(v)) for k, v in declared.items()), (cleared[0], repr(cleared[1]))]
    )
    assert not any(c.forces_replacement for c in changes)
    # Nothing to clear: no extra change.
    same = {**live, **declared, cleared[0]: cleared[1]}
    assert CONSUMER.field_changes(res("consumer", declared), res("consumer", same)) == []


def test_every_duration_and_size_has_a_display_unit() -> None:
    from topoctl.providers.nats import fields as F

    tables = {"stream": F.STREAM_FIELDS, "consumer": F.CONSUMER_FIELDS, "kv_bucket": F.KV_FIELDS}
    for kind, table in tables.items():
        units = dict(KINDS[kind].units)  # type: ignore[attr-defined]
        for name, f in table.items():
            if f.type in (F.DURATION, F.DURATIONS):
                assert units.pop(name) == "ns", (kind, name)
            elif f.type == F.SIZE:
                assert units.pop(name) == "bytes", (kind, name)
        assert units == ({"consumer_limits.inactive_threshold": "ns"} if kind == "stream" else {})


def test_mirror_replace_reasons_say_what_the_server_allows() -> None:
    [change] = STREAM.field_changes(
        res("stream", {"mirror": {"name": "B"}}), res("stream", {"mirror": {"name": "A", "filter_subject": "x"}})
    )
    assert change.forces_replacement
    assert (
        STREAM.replace_reason(change)
        == "a mirror cannot change in place (only `mirror: null`, promoting the stream, can)"
    )
    [change] = STREAM.field_changes(res("stream", {"mirror": {"name": "B"}}), res("stream", {"subjects": ["s"]}))
    assert STREAM.replace_reason(change) == "a stream cannot become a mirror in place"


def test_lowering_a_limit_of_a_stream_holding_messages_is_called_out() -> None:
    observed = res("stream", {"max_msgs": 100, "max_age": 0}, messages=40)
    desired = res("stream", {"max_msgs": 10, "max_age": 3600, "max_bytes": -1, "retention": "interest"})
    assert STREAM.notes(desired, observed) == [
        "lowering max_age removes at once what is over the new limit (40 messages stored)",
        "lowering max_msgs removes at once what is over the new limit (40 messages stored)",
        "interest retention removes the messages no consumer still has to deliver",
    ]
    # Raising a limit, or an empty stream: nothing to say.
    assert STREAM.notes(res("stream", {"max_msgs": 1000}), observed) == []
    assert STREAM.notes(desired, res("stream", {"max_msgs": 100}, messages=0)) == []
    assert KV.notes(res("kv_bucket", {"history": 1}), res("kv_bucket", {"history": 5}, messages=3)) == [
        "lowering history removes at once what is over the new limit (3 values stored)"
    ]
