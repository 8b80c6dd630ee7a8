"""Reading server configs into attrs: defaults, `_nats.` metadata, nested zero values, times;
and the schema covering every field the provider manages."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from topoctl.providers.nats import buckets as B
from topoctl.providers.nats import fields as F

SCHEMA = json.loads((Path(__file__).resolve().parents[2] / "topoctl" / "schemas" / "nats.schema.json").read_text())


def test_server_omitted_and_empty_keys_are_left_out_and_compare_as_their_empty_value() -> None:
    raw = {"name": "A", "subjects": ["a"], "consumer_limits": {}, "sealed": False, "max_msgs": -1, "max_age": 5}
    observed = F.observed_attrs(F.STREAM_FIELDS, {**raw, "metadata": {"_nats.ver": "2.15.1"}})
    # A plan deleting the stream lists what is set, not every default.
    assert observed == {"subjects": ["a"], "max_age": 5}
    full = F.with_empties(F.STREAM_FIELDS, observed)
    assert (full["description"], full["sources"], full["mirror"], full["consumer_limits"]) == ("", [], None, None)
    assert (full["sealed"], full["persist_mode"], full["metadata"], full["max_msgs"]) == (False, "default", {}, -1)
    assert full["max_age"] == 5


def test_a_declared_default_is_no_change_against_a_sparse_observed_config() -> None:
    from topoctl.model import Address, Resource
    from topoctl.providers.nats.kinds import KINDS

    observed = F.observed_attrs(F.STREAM_FIELDS, {"name": "A", "subjects": ["a"], "sealed": False})
    address = Address("n", "stream", ("A",))
    desired = Resource(address, {"subjects": ["a"], "sealed": False, "description": "", "max_msgs": -1})
    assert KINDS["stream"].field_changes(desired, Resource(address, observed)) == []
    consumer = Address("n", "consumer", ("A", "c"))
    wanted = Resource(consumer, {"deliver_subject": "", "filter_subjects": [], "metadata": {}})
    assert KINDS["consumer"].field_changes(wanted, Resource(consumer, {"ack_policy": "explicit"})) == []


def test_system_metadata_is_not_user_metadata() -> None:
    raw = {"metadata": {"_nats.ver": "2.15.1", "_nats.level": "5", "team": "a"}}
    assert F.observed_attrs(F.CONSUMER_FIELDS, raw)["metadata"] == {"team": "a"}


def test_nested_zero_values_are_dropped_on_both_sides() -> None:
    assert F.prune_zero({"src": "", "dest": "x", "headers_only": False, "tags": []}) == {"dest": "x"}
    raw = {"sources": [{"name": "A", "filter_subject": "", "opt_start_seq": 0, "subject_transforms": []}]}
    assert F.observed_attrs(F.STREAM_FIELDS, raw)["sources"] == [{"name": "A"}]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-01-01T00:00:00Z", "2024-01-01T00:00:00Z"),
        ("2024-01-01T01:30:00+01:30", "2024-01-01T00:00:00Z"),
        ("2024-01-01T00:00:00.123456789Z", "2024-01-01T00:00:00.123456789Z"),
        ("2024-01-01T00:00:00.500Z", "2024-01-01T00:00:00.5Z"),
    ],
)
def test_times_are_normalised_as_the_server_prints_them(text: str, expected: str) -> None:
    assert F.normalise_time(text) == expected


def test_overlay_keeps_server_metadata_and_removes_null_keys() -> None:
    config = {"name": "A", "metadata": {"_nats.ver": "2.15.1", "old": "x"}, "mirror": {"name": "M"}, "max_msgs": 5}
    B.overlay(config, {"metadata": {"team": "a"}, "mirror": None, "max_age": 7})
    assert config == {"name": "A", "metadata": {"_nats.ver": "2.15.1", "team": "a"}, "max_msgs": 5, "max_age": 7}


def test_kv_create_config_is_the_go_client_template_with_the_declared_settings() -> None:
    config = B.kv_create_config("s", {"history": 5, "ttl": 30 * 10**9, "storage": "memory", "limit_marker_ttl": 10})
    assert config["subjects"] == ["$KV.s.>"]
    assert config["max_msgs_per_subject"] == 5
    assert config["storage"] == "memory"
    assert config["duplicate_window"] == 30 * 10**9  # never longer than the ttl
    assert config["allow_msg_ttl"] is True and config["subject_delete_marker_ttl"] == 10
    assert (config["deny_delete"], config["allow_rollup_hdrs"], config["discard"]) == (True, True, "new")
    obj = B.obj_create_config("a", {"max_bytes": 100})
    assert obj["subjects"] == ["$O.a.C.>", "$O.a.M.>"] and obj["max_bytes"] == 100


# Each schema definition and the field table of what it declares.
DEFINITIONS = [
    ("stream", F.STREAM_FIELDS),
    ("consumer", F.CONSUMER_FIELDS),
    ("kv", F.KV_FIELDS),
    ("object_store", F.OBJECT_STORE_FIELDS),
]


@pytest.mark.parametrize(("definition", "table"), DEFINITIONS)
def test_the_schema_declares_every_managed_field_and_nothing_else(definition: str, table: dict[str, F.Field]) -> None:
    properties = set(SCHEMA["$defs"][definition]["properties"])
    sugar = {"consumers", "dead_letter", "state"}
    assert properties - sugar == set(table)
    for name, f in table.items():
        if f.choices:
            prop = SCHEMA["$defs"][definition]["properties"][name]
            assert set(f.choices) <= set(prop.get("enum") or prop["anyOf"][1]["enum"])


def test_republish_src_filled_in_by_the_server_is_not_drift() -> None:
    raw = {"republish": {"src": ">", "dest": "r.>"}}
    assert F.observed_attrs(F.STREAM_FIELDS, raw)["republish"] == {"dest": "r.>"}
    assert F.observed_attrs(F.KV_FIELDS, raw)["republish"] == {"dest": "r.>"}
    own: dict[str, Any] = {"republish": {"src": "a.>", "dest": "r.>", "headers_only": True}}
    assert F.observed_attrs(F.STREAM_FIELDS, own)["republish"] == own["republish"]


@pytest.mark.parametrize(("definition", "table"), DEFINITIONS)
def test_the_schema_accepts_null_exactly_where_it_clears_a_setting(definition: str, table: dict[str, F.Field]) -> None:
    import jsonschema

    for name, f in table.items():
        prop = {**SCHEMA["$defs"][definition]["properties"][name], "$defs": SCHEMA["$defs"]}
        assert jsonschema.Draft202012Validator(prop).is_valid(None) is F.clearable(f), name


def test_what_null_means_per_field() -> None:
    clearable = {n for n, f in F.CONSUMER_FIELDS.items() if F.clearable(f)}
    assert {"deliver_group", "description", "filter_subject", "filter_subjects", "metadata", "backoff"} <= clearable
    # The server would put its own default in place of these, a choice has no unset state.
    assert not {"ack_wait", "max_ack_pending", "max_waiting", "ack_policy", "deliver_policy"} & clearable
    streams = {n for n, f in F.STREAM_FIELDS.items() if F.clearable(f)}
    assert {"description", "metadata", "max_age", "max_bytes", "republish", "placement", "mirror"} <= streams
    assert not {"subjects", "storage", "retention", "duplicate_window", "replicas", "sealed"} & streams
