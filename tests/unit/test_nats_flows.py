"""`topoctl graph` edges for NATS: KV buckets mirrored or sourced from other buckets."""

from __future__ import annotations

from topoctl.model import Address, Resource
from topoctl.providers.nats.flows import NODE_KINDS, flows


def test_kv_mirror_and_sources_are_drawn_between_buckets() -> None:
    def kv(name: str, **attrs: object) -> Resource:
        return Resource(Address("n", "kv_bucket", (name,)), attrs)

    desired = [
        kv("origin"),
        kv("replica", mirror={"name": "KV_origin"}),
        kv("all", sources=[{"name": "KV_origin"}, {"name": "KV_far", "external": {"api": "$JS.hub.API"}}]),
    ]
    edges = {(str(f.source), str(f.target), f.label) for f in flows(desired)}
    assert edges == {
        ("n/kv_bucket/origin", "n/kv_bucket/replica", "mirror"),
        ("n/kv_bucket/origin", "n/kv_bucket/all", "source"),
    }
    assert "kv_bucket" in NODE_KINDS
