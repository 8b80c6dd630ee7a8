"""The NATS compiler: normalisation to ns/bytes, dead_letter expansion, semantic checks, prune."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from topoctl.errors import ManifestError
from topoctl.manifest.loader import load_manifest
from topoctl.model import Address, Resource
from topoctl.providers.base import PruneScope

B = "n"
S = 1_000_000_000  # one second in ns


def manifest(tmp_path: Path, **sections: Any) -> Path:
    doc = {"version": 1, "brokers": {B: {"type": "nats", **sections}}}
    path = tmp_path / "m.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


def compiled(tmp_path: Path, **sections: Any) -> dict[str, Resource]:
    spec = load_manifest([str(manifest(tmp_path, **sections))], env={}).brokers[B]
    return {str(r.address): r for r in spec.resources}


def prune_of(tmp_path: Path, **sections: Any) -> list[PruneScope]:
    return load_manifest([str(manifest(tmp_path, **sections))], env={}).brokers[B].compiled.prune


def error(tmp_path: Path, **sections: Any) -> ManifestError:
    with pytest.raises(ManifestError) as err:
        load_manifest([str(manifest(tmp_path, **sections))], env={})
    return err.value


def test_stream_fields_are_normalised_to_api_units(tmp_path: Path) -> None:
    rs = compiled(
        tmp_path,
        streams={
            "ORDERS": {
                "subjects": ["orders.>"],
                "max_age": "30d",
                "duplicate_window": "2m",
                "max_bytes": "1GiB",
                "max_msg_size": 1024,
                "replicas": 1,
                "metadata": {"owner": "shop"},
                "placement": {},
                "consumer_limits": {"inactive_threshold": "1h"},
                "republish": {"src": "a.>", "dest": "b.>", "headers_only": False},
                "sources": [{"name": "A", "opt_start_time": "2024-01-01T01:00:00+01:00", "domain": "hub"}],
            }
        },
    )
    assert rs["n/stream/ORDERS"].attrs == {
        "subjects": ["orders.>"],
        "max_age": 30 * 86400 * S,
        "duplicate_window": 120 * S,
        "max_bytes": 1 << 30,
        "max_msg_size": 1024,
        "replicas": 1,
        "metadata": {"owner": "shop"},
        "placement": None,
        "consumer_limits": {"inactive_threshold": 3600 * S},
        "republish": {"src": "a.>", "dest": "b.>"},
        "sources": [{"name": "A", "opt_start_time": "2024-01-01T00:00:00Z", "external": {"api": "$JS.hub.API"}}],
    }


def test_consumers_are_addressed_under_their_stream_and_depend_on_it(tmp_path: Path) -> None:
    rs = compiled(
        tmp_path,
        streams={"ORDERS": {"consumers": {"billing": {"ack_wait": "1s", "backoff": ["1s", "5s"], "max_deliver": 3}}}},
    )
    consumer = rs["n/consumer/ORDERS/billing"]
    assert consumer.attrs == {"ack_wait": S, "backoff": [S, 5 * S], "max_deliver": 3}
    assert consumer.depends_on == (Address(B, "stream", ("ORDERS",)),)
    assert rs["n/stream/ORDERS"].attrs == {}


def test_dead_letter_sets_max_deliver_and_composes_one_dlq_stream_per_source(tmp_path: Path) -> None:
    rs = compiled(
        tmp_path,
        streams={
            "ORDERS": {
                "consumers": {
                    "billing": {"max_deliver": 5, "dead_letter": {}},
                    "shipping": {"dead_letter": {"max_deliver": 2}},
                    "audit": {},
                }
            },
            "PAYMENTS": {"consumers": {"ledger": {"max_deliver": 4, "dead_letter": None}}},
        },
    )
    assert rs["n/stream/DLQ_ORDERS"].attrs == {
        "subjects": [
            "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.ORDERS.billing",
            "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.ORDERS.shipping",
            "$JS.EVENT.ADVISORY.CONSUMER.MSG_TERMINATED.ORDERS.billing",
            "$JS.EVENT.ADVISORY.CONSUMER.MSG_TERMINATED.ORDERS.shipping",
        ]
    }
    assert rs["n/stream/DLQ_PAYMENTS"].attrs["subjects"] == [
        "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.PAYMENTS.ledger",
        "$JS.EVENT.ADVISORY.CONSUMER.MSG_TERMINATED.PAYMENTS.ledger",
    ]
    assert rs["n/consumer/ORDERS/shipping"].attrs == {"max_deliver": 2}
    assert Address(B, "stream", ("DLQ_ORDERS",)) in rs["n/consumer/ORDERS/billing"].depends_on
    assert rs["n/consumer/ORDERS/audit"].depends_on == (Address(B, "stream", ("ORDERS",)),)


def test_dead_letter_stream_name_can_be_overridden_and_declared_to_set_its_limits(tmp_path: Path) -> None:
    rs = compiled(
        tmp_path,
        streams={
            "ORDERS": {"consumers": {"billing": {"max_deliver": 5, "dead_letter": {"stream": "FAILED"}}}},
            "FAILED": {"max_age": "14d"},
        },
    )
    assert rs["n/stream/FAILED"].attrs == {
        "max_age": 14 * 86400 * S,
        "subjects": [
            "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.ORDERS.billing",
            "$JS.EVENT.ADVISORY.CONSUMER.MSG_TERMINATED.ORDERS.billing",
        ],
    }
    assert "n/stream/DLQ_ORDERS" not in rs


@pytest.mark.parametrize(
    ("consumer", "message"),
    [
        ({"dead_letter": {}}, "dead_letter needs max_deliver"),
        ({"max_deliver": 3, "dead_letter": {"max_deliver": 4}}, "contradicts"),
        ({"max_deliver": 3, "ack_policy": "none", "dead_letter": {}}, "needs acknowledgements"),
        ({"max_deliver": 3, "dead_letter": {"stream": "ORDERS"}}, "cannot be the stream itself"),
        ({"backoff": ["1s"], "ack_wait": "30s", "max_deliver": 3}, "backoff[0] as ack_wait"),
        ({"backoff": ["1s", "2s"], "max_deliver": 2}, "greater than its number"),
        ({"deliver_subject": "x", "max_waiting": 3}, "does not apply to a push"),
        ({"idle_heartbeat": "5s"}, "does not apply to a pull"),
        ({"deliver_subject": "x", "flow_control": True}, "flow_control needs idle_heartbeat"),
        ({"filter_subject": "a", "filter_subjects": ["b"]}, "not both"),
        ({"opt_start_seq": 5}, "needs deliver_policy: by_start_sequence"),
        ({"deliver_policy": "by_start_time"}, "needs opt_start_time"),
        ({"metadata": {"_nats.level": "1"}}, "belong to the server"),
        ({"opt_start_time": "yesterday", "deliver_policy": "by_start_time"}, "not an RFC 3339"),
        ({"ack_wait": "soon"}, "not a duration"),
    ],
)
def test_consumer_mistakes_are_reported_with_their_line(tmp_path: Path, consumer: dict[str, Any], message: str) -> None:
    err = error(tmp_path, streams={"ORDERS": {"consumers": {"c": consumer}}})
    assert message in str(err)
    assert err.location and err.location.startswith(str(tmp_path / "m.yaml") + ":")


@pytest.mark.parametrize(
    ("streams", "message"),
    [
        ({"KV_sessions": {}}, "KV_* and OBJ_* streams belong"),
        ({"OBJ_x": {}}, "KV_* and OBJ_* streams belong"),
        ({"bad.name": {}}, "invalid stream name"),
        ({"A": {"state": "absent", "consumers": {"c": {}}}}, "declared absent"),
        ({"A": {"consumers": {"c": {"max_deliver": 2, "dead_letter": {}}}}, "DLQ_A": {"state": "absent"}}, "absent"),
        ({"A": {"mirror": {"filter_subject": "x"}}}, "schema"),
        ({"A": {"retention": "workqueue", "consumers": {"c": {"deliver_policy": "new"}}}}, "must deliver all"),
    ],
)
def test_stream_mistakes(tmp_path: Path, streams: dict[str, Any], message: str) -> None:
    err = error(tmp_path, streams=streams)
    if message != "schema":
        assert message in str(err)


def test_buckets_map_their_own_vocabulary(tmp_path: Path) -> None:
    rs = compiled(
        tmp_path,
        key_value={"sessions": {"history": 5, "ttl": "1h", "max_value_size": "64KiB", "compression": True}},
        object_stores={"artifacts": {"max_bytes": "1GiB", "compression": "none", "state": "present"}},
    )
    assert rs["n/kv_bucket/sessions"].attrs == {
        "history": 5,
        "ttl": 3600 * S,
        "max_value_size": 65536,
        "compression": "s2",
    }
    assert rs["n/object_store/artifacts"].attrs == {"max_bytes": 1 << 30, "compression": "none"}
    assert "maximum of 64" in str(error(tmp_path, key_value={"k": {"history": 65}}))
    assert "invalid bucket name" in str(error(tmp_path, key_value={"a.b": {}}))


def test_state_absent(tmp_path: Path) -> None:
    rs = compiled(
        tmp_path,
        streams={"OLD": {"state": "absent", "max_age": "1d"}, "A": {"consumers": {"gone": {"state": "absent"}}}},
        key_value={"k": {"state": "absent"}},
    )
    assert rs["n/stream/OLD"].absent and rs["n/stream/OLD"].attrs == {}
    assert rs["n/consumer/A/gone"].absent
    assert rs["n/kv_bucket/k"].absent


def test_prune_scopes(tmp_path: Path) -> None:
    assert prune_of(tmp_path, streams={"A": {}}) == []
    assert prune_of(tmp_path, streams={"A": {}}, prune=True) == [PruneScope()]
    scopes = prune_of(tmp_path, streams={"shop_A": {}, "other": {}}, prune={"prefix": "shop_"})
    assert scopes == [
        PruneScope(kinds=frozenset({"stream", "kv_bucket", "object_store"}), prefix="shop_"),
        PruneScope(kinds=frozenset({"consumer"}), parent=("shop_A",)),
    ]
    stream_scope = scopes[0]
    assert stream_scope.covers(Address(B, "stream", ("shop_B",)))
    assert not stream_scope.covers(Address(B, "stream", ("other2",)))
    assert not any(s.covers(Address(B, "consumer", ("other", "c"))) for s in scopes)
    assert any(s.covers(Address(B, "consumer", ("shop_A", "c"))) for s in scopes)


def test_every_declared_value_is_normalised_like_the_driver_reads_it(tmp_path: Path) -> None:
    """Compile a config, then read the same config back the way the server returns it."""
    from topoctl.providers.nats import fields as F

    rs = compiled(
        tmp_path,
        streams={"A": {"max_age": "1h", "republish": {"dest": "x.>", "headers_only": False}, "metadata": {"a": "b"}}},
    )
    desired = rs["n/stream/A"].attrs
    server = {
        "name": "A",
        "max_age": 3600 * S,
        "republish": {"src": "", "dest": "x.>"},
        "metadata": {"a": "b", "_nats.ver": "2.15.1", "_nats.level": "5"},
    }
    observed = F.observed_attrs(F.STREAM_FIELDS, server)
    assert {k: observed[k] for k in desired} == desired


def test_a_declared_zero_is_what_the_server_stores(tmp_path: Path) -> None:
    zeros = {k: 0 for k in ("max_msgs", "max_bytes", "max_msgs_per_subject", "max_msg_size", "max_consumers")}
    rs = compiled(
        tmp_path,
        streams={"S": {"subjects": ["s"], "replicas": 0, **zeros, "consumers": {"c": {"max_deliver": 0}}}},
        key_value={"kv": {"max_value_size": 0, "max_bytes": 0, "replicas": 0}},
        object_stores={"ob": {"max_bytes": 0, "replicas": 0}},
    )
    stream = rs["n/stream/S"].attrs
    assert all(stream[k] == -1 for k in zeros) and stream["replicas"] == 1
    assert rs["n/consumer/S/c"].attrs["max_deliver"] == -1
    assert dict(rs["n/kv_bucket/kv"].attrs) == {"max_value_size": -1, "max_bytes": -1, "replicas": 1}
    assert dict(rs["n/object_store/ob"].attrs) == {"max_bytes": -1, "replicas": 1}


@pytest.mark.parametrize(
    ("stream", "consumer", "field"),
    [
        ({"duplicate_window": 0}, {}, "duplicate_window"),
        ({}, {"ack_wait": "0s"}, "ack_wait"),
        ({}, {"max_ack_pending": 0}, "max_ack_pending"),
        ({}, {"max_waiting": 0}, "max_waiting"),
    ],
)
def test_a_zero_the_server_replaces_by_its_default_is_refused(
    tmp_path: Path, stream: dict[str, Any], consumer: dict[str, Any], field: str
) -> None:
    err = error(tmp_path, streams={"S": {"subjects": ["s"], **stream, "consumers": {"c": consumer}}})
    assert f"{field}: 0 lets the server pick its default" in str(err)
    assert "m.yaml:" in str(err)


def test_a_mirror_may_declare_no_duplicate_window(tmp_path: Path) -> None:
    rs = compiled(tmp_path, streams={"M": {"mirror": {"name": "O"}, "duplicate_window": 0}})
    assert rs["n/stream/M"].attrs["duplicate_window"] == 0


def test_republish_without_src_is_the_servers_default_src(tmp_path: Path) -> None:
    rs = compiled(
        tmp_path,
        streams={"S": {"subjects": ["s"], "republish": {"src": ">", "dest": "r.>"}}},
        key_value={"kv": {"republish": {"dest": "k.>"}}},
    )
    assert rs["n/stream/S"].attrs["republish"] == {"dest": "r.>"}
    assert rs["n/kv_bucket/kv"].attrs["republish"] == {"dest": "k.>"}


def test_kv_mirror_and_sources_name_buckets_and_map_keys_like_the_clients(tmp_path: Path) -> None:
    rs = compiled(
        tmp_path,
        key_value={
            "m": {"mirror": {"name": "a"}},
            "s": {
                "sources": [
                    {"name": "KV_a"},
                    {"name": "b", "subject_transforms": [{"src": "$KV.b.x.>", "dest": "$KV.s.x.>"}]},
                    {"name": "s", "external": {"api": "$JS.hub.API"}},
                ]
            },
        },
    )
    assert rs["n/kv_bucket/m"].attrs["mirror"] == {"name": "KV_a"}
    assert rs["n/kv_bucket/s"].attrs["sources"] == [
        {"name": "KV_a", "subject_transforms": [{"src": "$KV.a.>", "dest": "$KV.s.>"}]},
        {"name": "KV_b", "subject_transforms": [{"src": "$KV.b.x.>", "dest": "$KV.s.x.>"}]},
        {"name": "KV_s", "external": {"api": "$JS.hub.API"}},  # the same bucket in another domain
    ]


def test_kv_source_with_filter_subject_is_refused(tmp_path: Path) -> None:
    err = error(tmp_path, key_value={"s": {"sources": [{"name": "a", "filter_subject": "$KV.a.x"}]}})
    assert "subject_transforms" in str(err) and "m.yaml:" in str(err)


def test_server_stream_names_are_refused(tmp_path: Path) -> None:
    err = error(tmp_path, streams={"$MQTT_sess": {"subjects": ["x"]}})
    assert "belong to the server" in str(err) and "m.yaml:" in str(err)
    err = error(
        tmp_path,
        streams={"S": {"subjects": ["s"], "consumers": {"c": {"dead_letter": {"max_deliver": 2, "stream": "$X"}}}}},
    )
    assert "invalid dead letter stream name" in str(err)


@pytest.mark.parametrize(
    ("sections", "message"),
    [
        ({"streams": {"M": {"subjects": ["m"], "mirror": {"name": "O"}}}}, "a mirror has no subjects of its own"),
        ({"streams": {"M": {"mirror": {"name": "O"}, "sources": [{"name": "P"}]}}}, "a mirror has no sources"),
        ({"streams": {"S": {"subjects": ["s"], "max_msgs": -5}}}, "max_msgs must be -1 (unlimited) or more"),
        ({"key_value": {"kv": {"max_value_size": -2}}}, "max_value_size must be -1 (unlimited) or more"),
        (
            {
                "streams": {
                    "S": {
                        "subjects": ["s"],
                        "consumers": {
                            "c": {"deliver_policy": "by_start_time", "opt_start_time": "2024-13-01T00:00:00Z"}
                        },
                    }
                }
            },
            "not an RFC 3339 timestamp: '2024-13-01T00:00:00Z'",
        ),
    ],
)
def test_what_the_server_would_refuse_is_a_manifest_error(
    tmp_path: Path, sections: dict[str, Any], message: str
) -> None:
    err = error(tmp_path, **sections)
    assert message in str(err) and "m.yaml:" in str(err)


@pytest.mark.parametrize(
    ("field", "value"),
    [("max_age", "1h"), ("discard", "old"), ("deny_delete", False), ("deny_purge", False), ("allow_rollup_hdrs", True)],
)
def test_a_sealed_stream_cannot_declare_what_sealing_overrides(tmp_path: Path, field: str, value: Any) -> None:
    err = error(tmp_path, streams={"S": {"subjects": ["s"], "sealed": True, field: value}})
    assert f"a sealed stream has {field}" in str(err) and "m.yaml:" in str(err)
    # What sealing sets anyway may be declared.
    compiled(tmp_path, streams={"S": {"subjects": ["s"], "sealed": True, "discard": "new", "deny_delete": True}})


def test_a_push_consumer_delivering_into_its_own_stream_is_refused(tmp_path: Path) -> None:
    err = error(tmp_path, streams={"S": {"subjects": ["s.>"], "consumers": {"c": {"deliver_subject": "s.push"}}}})
    assert "deliver_subject 's.push' is one of the stream's subjects (s.>)" in str(err)
    assert "m.yaml:" in str(err)


@pytest.mark.parametrize(
    ("stream", "message"),
    [
        (
            {"allow_msg_schedules": True, "discard": "new"},
            "message scheduling (allow_msg_schedules) cannot use discard new",
        ),
        ({"allow_msg_counter": True, "discard": "new"}, "a counter stream (allow_msg_counter) cannot use discard new"),
        (
            {"allow_msg_ttl": True, "subject_delete_marker_ttl": "100ms"},
            "subject_delete_marker_ttl must be at least 1s",
        ),
    ],
)
def test_stream_combinations_the_server_refuses(tmp_path: Path, stream: dict[str, Any], message: str) -> None:
    err = error(tmp_path, streams={"S": {"subjects": ["s"], **stream}})
    assert message in str(err) and "m.yaml:" in str(err)


def test_two_streams_capturing_the_same_subject_are_refused(tmp_path: Path) -> None:
    err = error(tmp_path, streams={"A": {"subjects": ["orders.>"]}, "B": {"subjects": ["x", "orders.paid"]}})
    assert "subject 'orders.paid' of stream 'B' overlaps 'orders.>' of stream 'A'" in str(err)
    assert "m.yaml:" in str(err)
    err = error(tmp_path, streams={"A": {"subjects": ["a.b"]}, "W": {"subjects": ["*.b"]}})
    assert "overlaps" in str(err)
    # Distinct subjects, and a stream's own overlapping subjects (the server's business), pass.
    compiled(tmp_path, streams={"A": {"subjects": ["a.>"]}, "B": {"subjects": ["b.>", "*"]}})


def test_dead_letters_of_a_stream_that_removes_failed_messages_are_warned_about(tmp_path: Path) -> None:
    consumers = {"c": {"max_deliver": 3, "dead_letter": {}, "filter_subject": "w.c"}, "d": {"filter_subject": "w.d"}}
    streams = {"W": {"subjects": ["w.>"], "retention": "workqueue", "consumers": consumers}}
    spec = load_manifest([str(manifest(tmp_path, streams=streams))], env={}).brokers[B]
    [warning] = spec.compiled.warnings
    assert (
        warning.startswith(f"{tmp_path / 'm.yaml'}:")
        and "a workqueue stream removes a message once it is terminated" in warning
    )
    limits = {"L": {"subjects": ["l"], "consumers": {"c": {"max_deliver": 3, "dead_letter": {}}}}}
    assert load_manifest([str(manifest(tmp_path, streams=limits))], env={}).brokers[B].compiled.warnings == []


def test_no_subjects_is_the_streams_own_name_unless_it_mirrors_or_sources(tmp_path: Path) -> None:
    rs = compiled(
        tmp_path,
        streams={
            "S": {"subjects": []},
            "M": {"subjects": [], "sources": [{"name": "S"}]},
            "D": {"subjects": [], "consumers": {"c": {"max_deliver": 2, "dead_letter": {"stream": "D2"}}}},
            "D2": {"subjects": []},
        },
    )
    assert rs["n/stream/S"].attrs["subjects"] == ["S"]
    assert rs["n/stream/M"].attrs["subjects"] == []
    assert rs["n/stream/D2"].attrs["subjects"] == [
        f"$JS.EVENT.ADVISORY.CONSUMER.{k}.D.c" for k in ("MAX_DELIVERIES", "MSG_TERMINATED")
    ]


@pytest.mark.parametrize(
    "consumers",
    [
        {"a": {"filter_subject": "w.a.>"}, "b": {"filter_subjects": ["w.b", "w.a.x"]}},
        {"a": {"filter_subject": "w.a"}, "b": {}},
        {"a": {}, "b": {}},
    ],
)
def test_workqueue_consumers_with_overlapping_filters_are_refused(tmp_path: Path, consumers: dict[str, Any]) -> None:
    err = error(tmp_path, streams={"W": {"subjects": ["w.>"], "retention": "workqueue", "consumers": consumers}})
    assert "of workqueue stream 'W' overlap" in str(err) and "m.yaml:" in str(err)


def test_workqueue_consumers_with_distinct_filters_pass(tmp_path: Path) -> None:
    consumers = {"a": {"filter_subject": "w.a.>"}, "b": {"filter_subjects": ["w.b", "w.c"]}, "c": {"state": "absent"}}
    compiled(tmp_path, streams={"W": {"subjects": ["w.>"], "retention": "workqueue", "consumers": consumers}})


@pytest.mark.parametrize(
    ("consumer", "message"),
    [
        ({"inactive_threshold": 0}, "inactive_threshold: 0 takes the stream's consumer_limits.inactive_threshold"),
        ({"inactive_threshold": "40m"}, "inactive_threshold is over the stream's consumer_limits.inactive_threshold"),
        ({"max_ack_pending": 60}, "max_ack_pending is over the stream's consumer_limits.max_ack_pending"),
    ],
)
def test_consumers_are_held_to_their_streams_consumer_limits(
    tmp_path: Path, consumer: dict[str, Any], message: str
) -> None:
    limits = {"inactive_threshold": "30m", "max_ack_pending": 50}
    err = error(tmp_path, streams={"S": {"subjects": ["s"], "consumer_limits": limits, "consumers": {"c": consumer}}})
    assert message in str(err) and "m.yaml:" in str(err)
    within = {"c": {"inactive_threshold": "10m", "max_ack_pending": 50}}
    compiled(tmp_path, streams={"S": {"subjects": ["s"], "consumer_limits": limits, "consumers": within}})


def test_null_declares_the_server_s_unset_value(tmp_path: Path) -> None:
    consumer = {"deliver_subject": "p", "deliver_group": None, "description": None, "filter_subject": None}
    consumers = {"push": consumer, "pull": {"deliver_group": None, "max_deliver": None}}
    streams = {"S": {"subjects": ["s"], "description": None, "max_age": None, "metadata": None, "consumers": consumers}}
    rs = compiled(tmp_path, streams=streams, key_value={"kv": {"ttl": None, "max_bytes": None}})
    assert rs["n/stream/S"].attrs == {"subjects": ["s"], "description": "", "max_age": 0, "metadata": {}}
    push = rs["n/consumer/S/push"].attrs
    assert push == {"deliver_subject": "p", "deliver_group": "", "description": "", "filter_subject": ""}
    # A push-only setting declared unset is no setting: fine on a pull consumer.
    assert rs["n/consumer/S/pull"].attrs == {"deliver_group": "", "max_deliver": -1}
    assert rs["n/kv_bucket/kv"].attrs == {"ttl": 0, "max_bytes": -1}
    # Switching filter forms: the one cleared, the other declared.
    both = {"S": {"subjects": ["s.>"], "consumers": {"c": {"filter_subject": None, "filter_subjects": ["s.a", "s.b"]}}}}
    assert compiled(tmp_path, streams=both)["n/consumer/S/c"].attrs["filter_subjects"] == ["s.a", "s.b"]


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"streams": {"S": {"subjects": ["s"], "consumers": {"c": {"ack_wait": None}}}}}, "ack_wait"),
        ({"streams": {"S": {"subjects": None}}}, "subjects"),
        ({"streams": {"S": {"storage": None}}}, "storage"),
    ],
)
def test_null_is_refused_where_the_server_has_no_unset_state(
    tmp_path: Path, section: dict[str, Any], message: str
) -> None:
    err = error(tmp_path, **section)
    assert message in str(err) and "m.yaml:" in str(err)


def test_a_stream_may_not_capture_the_subjects_of_a_declared_bucket(tmp_path: Path) -> None:
    err = error(tmp_path, streams={"ALL": {"subjects": ["$KV.>"]}}, key_value={"sessions": {}})
    assert "subject '$KV.>' of stream 'ALL' overlaps '$KV.sessions.>' of KV bucket 'sessions'" in str(err)
    err = error(tmp_path, streams={"ALL": {"subjects": ["$O.files.*.x"]}}, object_stores={"files": {}})
    assert "of object store 'files'" in str(err)
    # A KV read replica has no subjects of its own; an absent bucket none either.
    compiled(tmp_path, streams={"ALL": {"subjects": ["$KV.>"]}}, key_value={"r": {"mirror": {"name": "o"}}})
    compiled(tmp_path, streams={"ALL": {"subjects": ["$KV.>"]}}, key_value={"gone": {"state": "absent"}})


@pytest.mark.parametrize(
    ("sections", "message"),
    [
        ({"streams": {"S" * 256: {}}}, "stream name is 256 characters long; the server allows 255"),
        ({"streams": {"S": {"consumers": {"c" * 300: {}}}}}, "consumer name is 300 characters long"),
        ({"key_value": {"k" * 253: {}}}, "the bucket's stream name is 256 characters long"),
        ({"streams": {"S": {"description": "x" * 4097}}}, "description is longer than the 4096 characters"),
        ({"streams": {"S": {"consumers": {"c": {"metadata": {"k": "v" * 131072}}}}}}, "metadata is larger than"),
    ],
)
def test_names_and_texts_longer_than_the_server_takes_are_refused(
    tmp_path: Path, sections: dict[str, Any], message: str
) -> None:
    err = error(tmp_path, **sections)
    assert message in str(err) and "m.yaml:" in str(err)
    compiled(tmp_path, streams={"S" * 255: {"description": "x" * 4096}})


@pytest.mark.parametrize("name", ["KV_sessions", "OBJ_files", "$MQTT_msgs"])
def test_system_streams_cannot_be_declared_deleted_or_used_as_dead_letter_streams(tmp_path: Path, name: str) -> None:
    for streams in (
        {name: {"subjects": ["x"]}},
        {name: {"state": "absent"}},
        {"S": {"subjects": ["s"], "consumers": {"c": {"dead_letter": {"max_deliver": 2, "stream": name}}}}},
    ):
        err = error(tmp_path, streams=streams)
        assert "m.yaml:" in str(err) and name in str(err)
