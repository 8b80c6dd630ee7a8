"""NATS export leaves out what the server fills in when a create leaves it out (docs/export.md:
"only what differs from the broker's defaults")."""

from __future__ import annotations

from typing import Any

import pytest

from topoctl.model import Address, Resource
from topoctl.providers.nats.export import export_broker, server_defaults
from topoctl.providers.nats.kinds import CONSUMER, STREAM

S = 1_000_000_000


@pytest.mark.parametrize(
    ("attrs", "window"),
    [
        ({}, 120 * S),
        ({"max_age": 30 * S}, 30 * S),  # the server shortens its default to max_age
        ({"max_age": 3600 * S}, 120 * S),
    ],
)
def test_a_streams_default_duplicate_window_depends_on_its_max_age(attrs: dict[str, Any], window: int) -> None:
    assert server_defaults(STREAM, attrs, {}) == {"duplicate_window": window}


def test_a_mirror_or_sourcing_stream_has_no_default_window() -> None:
    assert server_defaults(STREAM, {"mirror": {"name": "O"}}, {}) == {}
    assert server_defaults(STREAM, {"sources": [{"name": "O"}]}, {}) == {}


@pytest.mark.parametrize(
    ("attrs", "limits", "expected"),
    [
        ({}, {}, {"ack_wait": 30 * S, "max_ack_pending": 1000, "inactive_threshold": 0, "max_waiting": 512}),
        (
            {"ack_policy": "none", "deliver_subject": "d"},
            {},
            {"ack_wait": 0, "max_ack_pending": 0, "inactive_threshold": 0},
        ),
        (
            {"backoff": [S, 5 * S]},
            {"max_ack_pending": 50, "inactive_threshold": 600 * S},
            {"ack_wait": S, "max_ack_pending": 50, "inactive_threshold": 600 * S, "max_waiting": 512},
        ),
        (
            {"priority_policy": "pinned_client"},
            {},
            {
                "ack_wait": 30 * S,
                "max_ack_pending": 1000,
                "inactive_threshold": 0,
                "max_waiting": 512,
                "priority_timeout": 120 * S,
            },
        ),
    ],
)
def test_consumer_defaults(attrs: dict[str, Any], limits: dict[str, Any], expected: dict[str, Any]) -> None:
    assert server_defaults(CONSUMER, attrs, {"consumer_limits": limits} if limits else {}) == expected


def test_defaults_are_left_out_and_chosen_values_written() -> None:
    observed = [
        Resource(Address("n", STREAM, ("S",)), {"subjects": ["s"], "duplicate_window": 120 * S}),
        Resource(Address("n", STREAM, ("T",)), {"subjects": ["t"], "duplicate_window": 60 * S}),
        Resource(Address("n", CONSUMER, ("S", "a")), {"ack_wait": 30 * S, "max_ack_pending": 1000, "max_waiting": 512}),
        Resource(Address("n", CONSUMER, ("S", "b")), {"ack_wait": 45 * S, "max_ack_pending": 10, "max_waiting": 512}),
    ]
    assert export_broker("n", observed) == {
        "streams": {
            "S": {"subjects": ["s"], "consumers": {"a": {}, "b": {"ack_wait": "45s", "max_ack_pending": 10}}},
            "T": {"subjects": ["t"], "duplicate_window": "1m"},
        }
    }
