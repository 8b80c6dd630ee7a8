"""NATS JetStream routing (pure): stream capture, transforms, sources, mirrors, buckets, consumers."""

from __future__ import annotations

from typing import Any

import pytest

from topoctl.errors import RouteError
from topoctl.model import Address, Resource
from topoctl.providers.nats.routing import ROUTER, NatsTopology, subject_matches, transform
from topoctl.routing.model import Message, Request

B = "edge"


def stream(name: str, **attrs: Any) -> Resource:
    return Resource(Address(B, "stream", (name,)), attrs)


def consumer(stream_name: str, name: str, **attrs: Any) -> Resource:
    return Resource(Address(B, "consumer", (stream_name, name)), attrs)


def where(resources: list[Resource], subject: str) -> list[str]:
    found = NatsTopology(B, resources).route(Message(B, None, subject))
    return ["/".join(d.address.name) for d in found.destinations]


@pytest.mark.parametrize(
    ("pattern", "subject", "matches"),
    [
        ("orders.*", "orders.paid", True),
        ("orders.*", "orders.paid.eu", False),
        ("orders.>", "orders.paid.eu", True),
        ("orders.>", "orders", False),
        (">", "a", True),
        ("*.paid", "orders.paid", True),
        ("orders", "orders", True),
    ],
)
def test_subject_matching(pattern: str, subject: str, matches: bool) -> None:
    assert subject_matches(pattern, subject) is matches


def test_capture_and_consumer_filters() -> None:
    topology = [
        stream("ORDERS", subjects=["orders.>"]),
        consumer("ORDERS", "all"),
        consumer("ORDERS", "paid", filter_subject="orders.paid"),
        consumer("ORDERS", "some", filter_subjects=["orders.created", "orders.*.eu"]),
        consumer("GONE", "orphan"),  # its stream does not exist: goes with it
    ]
    assert where(topology, "orders.paid") == ["ORDERS", "ORDERS/all", "ORDERS/paid"]
    assert where(topology, "orders.x.eu") == ["ORDERS", "ORDERS/all", "ORDERS/some"]
    assert where(topology, "invoices.paid") == []


def test_a_stream_without_subjects_captures_its_name_unless_it_mirrors_or_sources() -> None:
    assert where([stream("EVENTS")], "EVENTS") == ["EVENTS"]
    assert where([stream("COPY", mirror={"name": "EVENTS"})], "COPY") == []


def test_buckets_capture_their_api_subjects() -> None:
    kv = Resource(Address(B, "kv_bucket", ("sessions",)), {"history": 5})
    replica = Resource(Address(B, "kv_bucket", ("copy",)), {"mirror": {"name": "sessions"}})
    objects = Resource(Address(B, "object_store", ("files",)), {})
    topology = [kv, replica, objects]
    assert where(topology, "$KV.sessions.user1") == ["sessions"]
    assert where(topology, "$KV.copy.user1") == []
    assert where(topology, "$O.files.C.abc") == ["files"]


@pytest.mark.parametrize(
    ("src", "dest", "subject", "out"),
    [
        ("orders.*", "t.{{wildcard(1)}}", "orders.paid", "t.paid"),
        ("orders.*.*", "t.{{ wildcard(2) }}.{{wildcard(1)}}", "orders.paid.eu", "t.eu.paid"),
        ("orders.*", "t.$1", "orders.paid", "t.paid"),
        ("orders.>", "t.>", "orders.a.b", "t.a.b"),
        ("", "all.>", "x.y", "all.x.y"),
        ("orders.*", "t.{{wildcard(1)}}", "invoices.paid", None),
        ("orders.*", "", "orders.paid", "orders.paid"),
    ],
)
def test_subject_transforms(src: str, dest: str, subject: str, out: str | None) -> None:
    assert transform(src, dest, subject) == out


def test_mapping_functions_not_modelled_are_said() -> None:
    with pytest.raises(RouteError, match="partition"):
        transform("orders.*", "p.{{partition(3,1)}}", "orders.x")
    with pytest.raises(RouteError, match="wildcard 2"):
        transform("orders.*", "t.{{wildcard(2)}}", "orders.x")


def test_transform_sources_and_mirrors() -> None:
    topology = [
        stream("ORDERS", subjects=["orders.*"], subject_transform={"src": "orders.*", "dest": "t.{{wildcard(1)}}"}),
        consumer("ORDERS", "paid", filter_subject="t.paid"),
        stream("PAID", sources=[{"name": "ORDERS", "filter_subject": "t.paid"}]),
        stream(
            "RENAMED",
            sources=[{"name": "ORDERS", "subject_transforms": [{"src": "t.*", "dest": "x.{{wildcard(1)}}"}]}],
        ),
        consumer("RENAMED", "created", filter_subject="x.created"),
        stream("MIRROR", mirror={"name": "ORDERS"}),
        stream("REMOTE", sources=[{"name": "ORDERS", "external": {"api": "$JS.hub.API"}}]),
    ]
    assert where(topology, "orders.paid") == ["MIRROR", "ORDERS", "ORDERS/paid", "PAID", "RENAMED"]
    assert where(topology, "orders.created") == ["MIRROR", "ORDERS", "RENAMED", "RENAMED/created"]
    found = NatsTopology(B, topology).route(Message(B, None, "orders.created"))
    renamed = next(d for d in found.destinations if d.address.name == ("RENAMED", "created"))
    assert [h.via for h in renamed.path] == ["captured", "sourced", "filter"]


@pytest.mark.parametrize(
    ("subject", "error"),
    [("", "non-empty"), ("a b", "white space"), ("a..b", "empty token"), ("a.*", "wildcards"), ("a.>", "wildcards")],
)
def test_subjects_a_client_cannot_publish_to_are_refused(subject: str, error: str) -> None:
    with pytest.raises(RouteError, match=error):
        ROUTER.message(B, Request(subject=subject))


@pytest.mark.parametrize(
    ("request_", "error"),
    [
        (Request(), "--subject"),
        (Request(subject="a", routing_key="k"), "--routing-key is not for a NATS"),
        (Request(subject="a", headers=("a=1",)), "subject alone"),
        (Request(subject="a", source="other"), "broker's name"),
    ],
)
def test_request_errors(request_: Request, error: str) -> None:
    with pytest.raises(RouteError, match=error):
        ROUTER.message(B, request_)
