"""`topoctl route` for NATS against the real nats-server: random streams (subjects, a subject
transform, sources with filters or transforms) and consumers (filter subjects) are created, read back
through the driver (what `route --live` sees), and random subjects are published. The streams that
stored each message (read back by sequence, sources included) and the consumers that deliver it
must be exactly those `route` predicted.

Configurations the server refuses (overlapping subjects, a filter outside the stream) are left out
of the comparison, as they would be out of a real topology.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import nats
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.integration.routing_support import Tally, examples_against_a_real_broker
from topoctl.model import Address
from topoctl.providers.nats.driver import NatsDriver
from topoctl.providers.nats.routing import NatsTopology
from topoctl.routing.model import Message

pytestmark = pytest.mark.integration

NATS_URL = os.environ.get("NATS_URL", "nats://127.0.0.1:4222")
BROKER = "prop-edge"
TOKENS = ("a", "b")


def pattern() -> st.SearchStrategy[str]:
    """A pattern below the test's own first token: `a.*`, `b.>`, `*`, ..."""
    middle = st.lists(st.sampled_from((*TOKENS, "*")), min_size=1, max_size=2)
    return st.tuples(middle, st.booleans()).map(lambda t: ".".join(t[0] + ([">"] if t[1] else [])))


literal = st.lists(st.sampled_from(TOKENS), min_size=1, max_size=3).map(".".join)


@dataclass
class Spec:
    streams: list[dict[str, Any]]  # subjects, transform (src, dest) or None, sources [(index, filter, transform)]
    consumers: list[tuple[int, list[str]]]  # stream index, filter subjects
    messages: list[str]


@st.composite
def specs(draw: st.DrawFn) -> Spec:
    streams: list[dict[str, Any]] = []
    stored: list[list[str]] = []  # per stream: patterns of the subjects it stores (after its transform)
    for i in range(draw(st.integers(1, 3))):
        subjects = draw(st.lists(pattern(), min_size=0 if i else 1, max_size=2, unique=True))
        transform = None
        if subjects and "*" in subjects[0].split(".") and draw(st.booleans()):
            transform = (subjects[0], f"t{i}.{{{{wildcard(1)}}}}")
        holds = [f"t{i}.*" if transform is not None and p == subjects[0] else p for p in subjects]
        sources = []
        for origin in range(i):
            if not stored[origin] or not draw(st.booleans()):
                continue
            theirs = draw(st.sampled_from(stored[origin]))
            how = draw(st.sampled_from(("all", "filter", "transform")))
            filter_subject = draw(st.just(theirs) | _instance(theirs) | pattern()) if how == "filter" else None
            transform_pair = None
            if how == "transform":
                src = theirs if "*" in theirs.split(".") and ">" not in theirs else draw(_instance(theirs))
                dest = f"s{i}." + ("{{wildcard(1)}}" if "*" in src.split(".") else "x")
                transform_pair = (src, dest)
                holds.append(f"s{i}.*")
            elif filter_subject is not None:
                holds.append(filter_subject)
            else:
                holds += stored[origin]
            sources.append((origin, filter_subject, transform_pair))
        streams.append({"subjects": subjects, "transform": transform, "sources": sources})
        stored.append(holds)
    consumers = []
    for _ in range(draw(st.integers(0, 3))):
        index = draw(st.integers(0, len(streams) - 1))
        near = (
            st.sampled_from(stored[index]).flatmap(lambda p: st.just(p) | _instance(p)) if stored[index] else pattern()
        )
        consumers.append((index, draw(st.lists(near | pattern(), max_size=2, unique=True))))
    patterns = [p for s in streams for p in s["subjects"]] + [f for _, fs in consumers for f in fs]
    instances = st.sampled_from(patterns).flatmap(_instance) if patterns else literal
    return Spec(streams, consumers, draw(st.lists(literal | instances, min_size=2, max_size=8)))


def _instance(pattern: str) -> st.SearchStrategy[str]:
    """A literal subject the pattern matches (`*` one token, `>` one or two)."""
    parts = []
    for token in pattern.split("."):
        if token == "*":
            parts.append(st.sampled_from(TOKENS).map(lambda t: [t]))
        elif token == ">":
            parts.append(st.lists(st.sampled_from(TOKENS), min_size=1, max_size=2))
        else:
            parts.append(st.just([token]))
    return st.tuples(*parts).map(lambda ts: ".".join(t for group in ts for t in group))


TALLY = Tally("nats")


@pytest.fixture(scope="module")
def driver() -> Iterator[NatsDriver]:
    d = NatsDriver(BROKER, {"servers": [NATS_URL]})
    yield d
    d.close()
    TALLY.save()


async def _api(nc: Any, subject: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    reply = await nc.request(f"$JS.API.{subject}", json.dumps(body or {}).encode(), timeout=5)
    return dict(json.loads(reply.data))


def _full(tag: str, relative: str) -> str:
    return f"{tag}.{relative}"


async def _build(nc: Any, spec: Spec, tag: str) -> tuple[list[str], list[tuple[str, str]]]:
    """Creates what the server accepts; returns the stream names and (stream, consumer) pairs made."""
    made: list[str] = []
    names = [f"{tag}S{i}" for i in range(len(spec.streams))]
    for name, s in zip(names, spec.streams, strict=True):
        config: dict[str, Any] = {"name": name, "storage": "memory", "subjects": [_full(tag, p) for p in s["subjects"]]}
        if s["transform"] is not None:
            src, dest = s["transform"]
            config["subject_transform"] = {"src": _full(tag, src), "dest": _full(tag, dest)}
        sources = []
        for origin, filter_subject, transform in s["sources"]:
            if names[origin] not in made:
                continue
            entry: dict[str, Any] = {"name": names[origin]}
            if filter_subject is not None:
                entry["filter_subject"] = _full(tag, filter_subject)
            if transform is not None:
                entry["subject_transforms"] = [{"src": _full(tag, transform[0]), "dest": _full(tag, transform[1])}]
            sources.append(entry)
        if sources:
            config["sources"] = sources
        if not config["subjects"] and not sources:
            continue
        if "error" not in await _api(nc, f"STREAM.CREATE.{name}", config):
            made.append(name)
    consumers: list[tuple[str, str]] = []
    for n, (index, filters) in enumerate(spec.consumers):
        stream = names[index]
        if stream not in made:
            continue
        config = {"durable_name": f"c{n}", "ack_policy": "none", "deliver_policy": "all"}
        if len(filters) == 1:
            config["filter_subject"] = _full(tag, filters[0])
        elif filters:
            config["filter_subjects"] = [_full(tag, f) for f in filters]
        reply = await _api(nc, f"CONSUMER.CREATE.{stream}.c{n}", {"stream_name": stream, "config": config})
        if "error" not in reply:
            consumers.append((stream, f"c{n}"))
    return made, consumers


async def _stored(nc: Any, stream: str) -> set[str]:
    info = await _api(nc, f"STREAM.INFO.{stream}")
    out = set()
    state = info.get("state") or {}
    for seq in range(state.get("first_seq", 1), state.get("last_seq", 0) + 1):
        msg = (await _api(nc, f"STREAM.MSG.GET.{stream}", {"seq": seq})).get("message") or {}
        headers = base64.b64decode(msg.get("hdrs") or "").decode()
        for line in headers.split("\r\n"):
            if line.lower().startswith("x-id:"):
                out.add(line.split(":", 1)[1].strip())
    return out


async def _delivered(nc: Any, stream: str, consumer: str) -> set[str]:
    info = await _api(nc, f"CONSUMER.INFO.{stream}.{consumer}")
    pending = int(info.get("num_pending") or 0)
    if not pending:
        return set()
    sub = await nc.jetstream().pull_subscribe_bind(consumer, stream=stream)
    msgs = await sub.fetch(pending, timeout=3)
    await sub.unsubscribe()
    return {m.headers["X-Id"] for m in msgs}


@examples_against_a_real_broker
@given(spec=specs())
def test_route_predicts_streams_and_consumers(driver: NatsDriver, spec: Spec) -> None:
    tag = f"r{uuid.uuid4().hex[:8]}"

    async def scenario() -> None:
        nc = await nats.connect(NATS_URL, connect_timeout=3, allow_reconnect=False)
        made: list[str] = []
        try:
            made, consumers = await _build(nc, spec, tag)
            if not made:
                return
            mine = [r for r in await asyncio.to_thread(driver.read, [], []) if r.address.name[0].startswith(tag)]
            topology = NatsTopology(BROKER, mine)
            TALLY.topologies += 1
            predicted: dict[str, set[str]] = {}
            js = nc.jetstream()
            for n, relative in enumerate(spec.messages):
                subject = _full(tag, relative)
                route = topology.route(Message(BROKER, None, subject))
                predicted[str(n)] = {"/".join(Address.parse(a).name) for a in route.addresses}
                with contextlib.suppress(nats.js.errors.NoStreamResponseError):  # no stream captures it
                    await js.publish(subject, b"m", headers={"X-Id": str(n)}, timeout=3)
            # Sources copy asynchronously: wait until every stream holds what was predicted for it.
            expected = {s: {k for k, where in predicted.items() if s in where} for s in made}
            deadline = time.monotonic() + 15  # sources copy asynchronously
            stored = {s: await _stored(nc, s) for s in made}
            while any(not expected[s] <= stored[s] for s in made) and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
                stored = {s: await _stored(nc, s) for s in made}
            await asyncio.sleep(0.1)
            stored = {s: await _stored(nc, s) for s in made}
            got: dict[str, set[str]] = {}
            for s, ids in stored.items():
                for i in ids:
                    got.setdefault(i, set()).add(s)
            for stream, consumer in consumers:
                for i in await _delivered(nc, stream, consumer):
                    got.setdefault(i, set()).add(f"{stream}/{consumer}")
            tally = Tally("one")
            for n, relative in enumerate(spec.messages):
                tally.compare(f"{relative} in {spec}", predicted[str(n)], got.get(str(n), set()))
                TALLY.routed += bool(predicted[str(n)])
            TALLY.cases += tally.cases
            TALLY.disagreements += tally.disagreements
            tally.check()
        finally:
            for name in made:
                await _api(nc, f"STREAM.DELETE.{name}")
            await nc.close()

    asyncio.run(scenario())


def test_transforms_sources_mirrors_defaults_and_buckets_route_as_the_server_stores(driver: NatsDriver) -> None:
    """Every capture feature at least once, whatever the random topologies happened to draw."""
    tag = f"r{uuid.uuid4().hex[:8]}"
    t, src, xf, mirror, default, bucket = (f"{tag}T", f"{tag}SRC", f"{tag}XF", f"{tag}M", f"{tag}D", f"{tag}kv")
    streams: list[dict[str, Any]] = [
        {
            "name": t,
            "subjects": [f"{tag}.orders.*"],
            "subject_transform": {"src": f"{tag}.orders.*", "dest": f"{tag}.t.{{{{wildcard(1)}}}}"},
        },
        {"name": src, "sources": [{"name": t, "filter_subject": f"{tag}.t.paid"}]},
        {
            "name": xf,
            "sources": [
                {"name": t, "subject_transforms": [{"src": f"{tag}.t.*", "dest": f"{tag}.x.{{{{wildcard(1)}}}}"}]}
            ],
        },
        {"name": mirror, "mirror": {"name": t}},
        {"name": default},
    ]
    consumers = [(t, "paid", f"{tag}.t.paid"), (xf, "created", f"{tag}.x.created"), (mirror, "all", None)]
    subjects = [f"{tag}.orders.paid", f"{tag}.orders.created", f"{tag}.orders.x.y", default, f"$KV.{bucket}.k1"]

    async def scenario() -> None:
        nc = await nats.connect(NATS_URL, connect_timeout=3, allow_reconnect=False)
        try:
            for config in streams:
                reply = await _api(nc, f"STREAM.CREATE.{config['name']}", {"storage": "memory", **config})
                assert "error" not in reply, reply
            for stream, name, filter_subject in consumers:
                config = {"durable_name": name, "ack_policy": "none", "deliver_policy": "all"}
                if filter_subject:
                    config["filter_subject"] = filter_subject
                reply = await _api(nc, f"CONSUMER.CREATE.{stream}.{name}", {"stream_name": stream, "config": config})
                assert "error" not in reply, reply
            js = nc.jetstream()
            await js.create_key_value(bucket=bucket, storage=nats.js.api.StorageType.MEMORY)
            mine = [r for r in await asyncio.to_thread(driver.read, [], []) if tag in r.address.name[0]]
            topology = NatsTopology(BROKER, mine)
            predicted = {}
            for n, subject in enumerate(subjects):
                route = topology.route(Message(BROKER, None, subject))
                predicted[str(n)] = {"/".join(Address.parse(a).name) for a in route.addresses}
                with contextlib.suppress(nats.js.errors.NoStreamResponseError):
                    await js.publish(subject, b"m", headers={"X-Id": str(n)}, timeout=3)
            names = [s["name"] for s in streams] + [f"KV_{bucket}"]
            deadline = time.monotonic() + 15  # sources copy asynchronously
            while time.monotonic() < deadline:
                stored = {s: await _stored(nc, s) for s in names}
                expected = {s: {k for k, where in predicted.items() if s.removeprefix("KV_") in where} for s in names}
                if all(expected[s] <= stored[s] for s in names):
                    break
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.1)
            got: dict[str, set[str]] = {}
            for s in names:
                for i in await _stored(nc, s):
                    got.setdefault(i, set()).add(s.removeprefix("KV_"))
            for stream, name, _ in consumers:
                for i in await _delivered(nc, stream, name):
                    got.setdefault(i, set()).add(f"{stream}/{name}")
            tally = Tally("one")
            for n, subject in enumerate(subjects):
                tally.compare(subject, predicted[str(n)], got.get(str(n), set()))
            TALLY.cases += tally.cases
            TALLY.routed += sum(bool(p) for p in predicted.values())
            assert predicted["0"] == {t, f"{t}/paid", src, xf, mirror, f"{mirror}/all"}, predicted["0"]
            assert predicted["1"] == {t, xf, f"{xf}/created", mirror, f"{mirror}/all"}, predicted["1"]
            assert predicted["2"] == set() and predicted["3"] == {default} and predicted["4"] == {bucket}
            tally.check()
        finally:
            for name in [s["name"] for s in streams] + [f"KV_{bucket}"]:
                await _api(nc, f"STREAM.DELETE.{name}")
            await nc.close()

    asyncio.run(scenario())
