"""The NATS provider against the real local nats-server -js (dev/brokers up nats), through the CLI.

Every test works under its own name prefix and removes every stream whose name contains it.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import nats
import pytest

from tests.cli import apply_ok as apply
from tests.cli import assert_empty, change_of, planned, topoctl, write_manifest
from tests.cli import plan_json as plan

NATS_URL = os.environ.get("NATS_URL", "nats://127.0.0.1:4222")
pytestmark = pytest.mark.integration
T = TypeVar("T")


# -- a tiny raw JetStream client for setting up and checking ----------------------------------


def run(fn: Callable[[Any], Awaitable[T]]) -> T:
    """`fn(nc)` on a fresh connection."""

    async def main() -> T:
        nc = await nats.connect(NATS_URL, connect_timeout=3, allow_reconnect=False, max_reconnect_attempts=1)
        try:
            return await fn(nc)
        finally:
            await nc.close()

    return asyncio.run(main())


def js(subject: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    async def call(nc: Any) -> dict[str, Any]:
        payload = json.dumps(body).encode() if body is not None else b""
        msg = await nc.request(f"$JS.API.{subject}", payload, timeout=10)
        return dict(json.loads(msg.data))

    return run(call)


def js_ok(subject: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    data = js(subject, body)
    assert "error" not in data, data
    return data


def stream_info(name: str) -> dict[str, Any]:
    return js_ok(f"STREAM.INFO.{name}")


def consumer_info(stream: str, name: str) -> dict[str, Any]:
    return js_ok(f"CONSUMER.INFO.{stream}.{name}")


def all_stream_names() -> list[str]:
    names: list[str] = []
    while True:
        page = js_ok("STREAM.NAMES", {"offset": len(names)})
        batch = page.get("streams") or []
        names += batch
        if not batch or len(names) >= page["total"]:
            return names


def publish(subject: str, count: int) -> None:
    async def pub(nc: Any) -> None:
        jsc = nc.jetstream()
        for i in range(count):
            await jsc.publish(subject, f"m{i}".encode())

    run(pub)


def cleanup(ns: str) -> None:
    for name in all_stream_names():
        if ns in name:
            js(f"STREAM.DELETE.{name}")


@pytest.fixture(scope="module")
def server() -> str:
    try:
        info = run(lambda nc: nc.jetstream().account_info())
    except Exception as exc:  # an unreachable broker fails the run, it never skips it
        pytest.fail(f"NATS JetStream is not reachable at {NATS_URL} (start it: dev/brokers up nats): {exc!r}")
    assert info is not None
    return NATS_URL


@pytest.fixture
def ns(server: str) -> Iterator[str]:
    ns = f"t{uuid.uuid4().hex[:8]}"
    yield ns
    cleanup(ns)


def manifest(streams: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    broker: dict[str, Any] = {"type": "nats", "connection": {"servers": [NATS_URL]}}
    if streams is not None:
        broker["streams"] = streams
    broker.update(extra)
    return {"version": 1, "brokers": {"n": broker}}


def write(tmp_path: Path, document: dict[str, Any], name: str = "m.yaml") -> Path:
    return write_manifest(tmp_path / name, document)


# -- tests ------------------------------------------------------------------------------------


def test_example_applies_and_replans_empty(server: str) -> None:
    example = Path(__file__).resolve().parents[2] / "examples" / "nats.yaml"
    names = ("ORDERS", "DLQ_ORDERS", "KV_sessions", "OBJ_artifacts")
    before = set(all_stream_names())
    try:
        result = topoctl("apply", "-f", example, "--auto-approve", env={"NATS_URL": NATS_URL})
        assert result.code == 0, str(result)
        result = topoctl("plan", "-f", example, "--detailed-exitcode", env={"NATS_URL": NATS_URL})
        assert result.code == 0, str(result)
        assert set(names) <= set(all_stream_names())
    finally:
        for name in names:
            if name not in before:
                js(f"STREAM.DELETE.{name}")


def test_full_stream_and_consumer_configs_replan_empty(tmp_path: Path, ns: str) -> None:
    src = f"{ns}_SRC"
    streams = {
        src: {"subjects": [f"{ns}.src.>"]},
        f"{ns}_ALL": {
            "description": "every field we can set on a single server",
            "subjects": [f"{ns}.all.>"],
            "retention": "interest",
            "storage": "memory",
            "replicas": 1,
            "max_consumers": 10,
            "max_msgs": 1000,
            "max_bytes": "10MiB",
            "max_age": "1h",
            "max_msgs_per_subject": 10,
            "max_msg_size": "64KiB",
            "discard": "new",
            "discard_new_per_subject": True,
            "duplicate_window": "1m",
            "compression": "none",
            "metadata": {"team": "core"},
            "sources": [{"name": src, "filter_subject": f"{ns}.src.a"}],
            "subject_transform": {"src": f"{ns}.all.>", "dest": f"{ns}.t.>"},
            "republish": {"src": f"{ns}.t.>", "dest": f"{ns}.rp.>", "headers_only": False},
            "consumer_limits": {"inactive_threshold": "1h", "max_ack_pending": 100},
            "allow_rollup_hdrs": True,
            "allow_direct": True,
            "deny_delete": True,
            "deny_purge": False,
            "allow_msg_ttl": True,
            "subject_delete_marker_ttl": "10m",
            "allow_atomic": True,
            "placement": {},
            "consumers": {
                "pull": {
                    "description": "pull",
                    "ack_policy": "explicit",
                    "ack_wait": "45s",
                    "max_deliver": 4,
                    "filter_subjects": [f"{ns}.t.a", f"{ns}.t.b"],
                    "replay_policy": "instant",
                    "sample_freq": "30%",
                    "max_waiting": 64,
                    "max_ack_pending": 50,
                    "headers_only": False,
                    "max_batch": 100,
                    "max_expires": "30s",
                    "max_bytes": "1MiB",
                    "inactive_threshold": "30m",
                    "metadata": {"k": "v"},
                    "deliver_policy": "by_start_sequence",
                    "opt_start_seq": 1,
                },
                "push": {
                    "deliver_subject": f"{ns}.deliver",
                    "deliver_group": "workers",
                    "ack_policy": "all",
                    "backoff": ["1s", "2s"],
                    "max_deliver": 5,
                    "idle_heartbeat": "10s",
                    "flow_control": True,
                    "rate_limit_bps": 100000,
                    "deliver_policy": "by_start_time",
                    "opt_start_time": "2024-01-01T00:00:00+01:00",
                    "filter_subject": f"{ns}.t.c",
                },
            },
        },
    }
    path = write(tmp_path, manifest(streams))
    assert set(planned(plan(path)).values()) == {"create"}
    apply(path)
    assert_empty(path)
    # The server does add its own `_nats.` metadata: it is not drift.
    assert any(k.startswith("_nats.") for k in stream_info(f"{ns}_ALL")["config"]["metadata"])


def test_several_pages_of_streams_apply_plan_empty_then_prune(tmp_path: Path, ns: str) -> None:
    count = 300  # more than one 256-item page of STREAM.LIST
    streams: dict[str, Any] = {f"{ns}_S{i:03d}": {"subjects": [f"{ns}.s{i}"], "max_msgs": 10} for i in range(count)}
    streams[f"{ns}_S000"]["consumers"] = {"c": {"ack_wait": "10s"}}
    path = write(tmp_path, manifest(streams))
    assert len(planned(plan(path))) == count + 1
    apply(path)
    assert_empty(path)

    # An out-of-band change on a stream beyond the first page is seen.
    last = f"{ns}_S{count - 1:03d}"
    config = stream_info(last)["config"]
    js_ok(f"STREAM.UPDATE.{last}", {**config, "max_msgs": 20})
    assert planned(plan(path)) == {f"n/stream/{last}": "update"}
    apply(path)
    assert_empty(path)

    # prune with the test's prefix deletes them all once the manifest drops them.
    keep = f"{ns}_S000"
    pruned = write(tmp_path, manifest({keep: streams[keep]}, prune={"prefix": ns}), "pruned.yaml")
    changes = planned(plan(pruned))
    assert len(changes) == count - 1 and set(changes.values()) == {"delete"}
    refused = topoctl("apply", "-f", pruned, "--auto-approve")
    assert refused.code == 1 and "--allow-destructive" in refused.stderr, str(refused)
    apply(pruned, "--allow-destructive")
    assert_empty(pruned)
    assert [n for n in all_stream_names() if ns in n] == [keep]


def test_max_age_and_ack_wait_update_in_place_and_keep_messages(tmp_path: Path, ns: str) -> None:
    stream = f"{ns}_ORDERS"

    def doc(max_age: str, ack_wait: str) -> dict[str, Any]:
        consumer = {"ack_policy": "explicit", "ack_wait": ack_wait}
        return manifest({stream: {"subjects": [f"{ns}.orders.>"], "max_age": max_age, "consumers": {"c": consumer}}})

    path = write(tmp_path, doc("1d", "30s"))
    apply(path)
    publish(f"{ns}.orders.created", 5)
    changed = write(tmp_path, doc("2d", "1m"), "changed.yaml")
    result = plan(changed)
    assert planned(result) == {f"n/stream/{stream}": "update", f"n/consumer/{stream}/c": "update"}
    assert change_of(result, f"n/stream/{stream}")["fields"] == [
        {"field": "max_age", "before": 86_400_000_000_000, "after": 172_800_000_000_000}
    ]
    apply(changed)
    assert_empty(changed)
    info = stream_info(stream)
    assert info["state"]["messages"] == 5
    assert info["config"]["max_age"] == 172_800_000_000_000
    assert consumer_info(stream, "c")["config"]["ack_wait"] == 60_000_000_000


def test_storage_change_is_a_destructive_replace_showing_messages_at_risk(tmp_path: Path, ns: str) -> None:
    stream = f"{ns}_ORDERS"

    def doc(storage: str) -> dict[str, Any]:
        return manifest(
            {stream: {"subjects": [f"{ns}.orders.>"], "storage": storage, "consumers": {"c": {"ack_wait": "10s"}}}}
        )

    path = write(tmp_path, doc("file"))
    apply(path)
    publish(f"{ns}.orders.x", 3)
    changed = write(tmp_path, doc("memory"), "changed.yaml")
    result = plan(changed)
    change = change_of(result, f"n/stream/{stream}")
    assert change["action"] == "replace" and change["destructive"]
    assert any("3 messages will be lost" in r for r in change["reasons"]), change["reasons"]
    refused = topoctl("apply", "-f", changed, "--auto-approve")
    assert refused.code == 1 and "--allow-destructive" in refused.stderr, str(refused)
    assert stream_info(stream)["config"]["storage"] == "file"
    assert stream_info(stream)["state"]["messages"] == 3

    apply(changed, "--allow-destructive")
    assert_empty(changed)
    assert stream_info(stream)["config"]["storage"] == "memory"
    # The consumer went with the old stream and was created again on the new one.
    assert consumer_info(stream, "c")["config"]["ack_wait"] == 10_000_000_000


def test_consumer_ack_policy_change_is_a_destructive_replace(tmp_path: Path, ns: str) -> None:
    stream = f"{ns}_ORDERS"

    def doc(ack: str) -> dict[str, Any]:
        return manifest({stream: {"subjects": [f"{ns}.o"], "consumers": {"c": {"ack_policy": ack}}}})

    path = write(tmp_path, doc("explicit"))
    apply(path)
    publish(f"{ns}.o", 2)
    changed = write(tmp_path, doc("all"), "changed.yaml")
    result = plan(changed)
    change = change_of(result, f"n/consumer/{stream}/c")
    assert change["action"] == "replace" and change["destructive"]
    assert [f["field"] for f in change["fields"] if f.get("forces_replacement")] == ["ack_policy"]
    assert any("2 messages not yet delivered" in r for r in change["reasons"]), change["reasons"]
    refused = topoctl("apply", "-f", changed, "--auto-approve")
    assert refused.code == 1, str(refused)
    assert consumer_info(stream, "c")["config"]["ack_policy"] == "explicit"
    apply(changed, "--allow-destructive")
    assert_empty(changed)
    assert consumer_info(stream, "c")["config"]["ack_policy"] == "all"
    assert stream_info(stream)["state"]["messages"] == 2  # the stream itself was not touched


def test_pull_to_push_is_a_replace_and_push_subject_change_an_update(tmp_path: Path, ns: str) -> None:
    stream = f"{ns}_S"

    def doc(consumer: dict[str, Any]) -> dict[str, Any]:
        return manifest({stream: {"subjects": [f"{ns}.s"], "consumers": {"c": consumer}}})

    apply(write(tmp_path, doc({"ack_policy": "explicit"})))
    push = write(tmp_path, doc({"ack_policy": "explicit", "deliver_subject": f"{ns}.d1"}), "push.yaml")
    assert planned(plan(push)) == {f"n/consumer/{stream}/c": "replace"}
    apply(push, "--allow-destructive")
    assert_empty(push)
    moved = write(tmp_path, doc({"ack_policy": "explicit", "deliver_subject": f"{ns}.d2"}), "moved.yaml")
    assert planned(plan(moved)) == {f"n/consumer/{stream}/c": "update"}
    apply(moved)
    assert_empty(moved)
    assert consumer_info(stream, "c")["config"]["deliver_subject"] == f"{ns}.d2"


def test_one_way_flags(tmp_path: Path, ns: str) -> None:
    stream = f"{ns}_S"

    def doc(**flags: Any) -> dict[str, Any]:
        return manifest({stream: {"subjects": [f"{ns}.s"], **flags}})

    apply(write(tmp_path, doc(deny_delete=False, deny_purge=False, allow_msg_ttl=False)))
    on = write(tmp_path, doc(deny_delete=True, deny_purge=True, allow_msg_ttl=True), "on.yaml")
    assert planned(plan(on)) == {f"n/stream/{stream}": "update"}
    apply(on)
    assert_empty(on)
    config = stream_info(stream)["config"]
    assert (config["deny_delete"], config["deny_purge"], config["allow_msg_ttl"]) == (True, True, True)

    off = write(tmp_path, doc(deny_delete=False, deny_purge=True, allow_msg_ttl=True), "off.yaml")
    change = change_of(plan(off), f"n/stream/{stream}")
    assert change["action"] == "replace"
    assert any("one-way" in r for r in change["reasons"]), change["reasons"]
    apply(off, "--allow-destructive")
    assert_empty(off)
    assert stream_info(stream)["config"]["deny_delete"] is False

    # The server refuses to create a sealed stream; topoctl creates, then seals.
    sealed = f"{ns}_SEALED"
    doc_sealed = manifest({sealed: {"subjects": [f"{ns}.sealed"], "sealed": True}})
    path = write(tmp_path, doc_sealed, "sealed.yaml")
    apply(path)
    assert_empty(path)
    assert stream_info(sealed)["config"]["sealed"] is True


def test_undeclared_fields_are_not_reset_by_an_update(tmp_path: Path, ns: str) -> None:
    stream = f"{ns}_S"

    def doc(max_age: str, ack_wait: str) -> dict[str, Any]:
        consumer = {"ack_wait": ack_wait}
        return manifest({stream: {"subjects": [f"{ns}.s"], "max_age": max_age, "consumers": {"c": consumer}}})

    apply(write(tmp_path, doc("1h", "10s")))
    # Out of band: fields the manifest does not declare.
    config = stream_info(stream)["config"]
    js_ok(f"STREAM.UPDATE.{stream}", {**config, "max_msgs": 777, "description": "set by hand"})
    cconfig = consumer_info(stream, "c")["config"]
    body = {"stream_name": stream, "config": {**cconfig, "max_ack_pending": 42}, "action": "update"}
    js_ok(f"CONSUMER.CREATE.{stream}.c", body)

    changed = write(tmp_path, doc("2h", "20s"), "changed.yaml")
    apply(changed)
    assert_empty(changed)
    config = stream_info(stream)["config"]
    assert (config["max_msgs"], config["description"], config["max_age"]) == (777, "set by hand", 7_200_000_000_000)
    cconfig = consumer_info(stream, "c")["config"]
    assert (cconfig["max_ack_pending"], cconfig["ack_wait"]) == (42, 20_000_000_000)


def test_user_metadata_is_managed_and_nats_keys_are_not_drift(tmp_path: Path, ns: str) -> None:
    stream = f"{ns}_S"
    path = write(tmp_path, manifest({stream: {"subjects": [f"{ns}.s"], "metadata": {"owner": "a"}}}))
    apply(path)
    assert_empty(path)
    changed = write(tmp_path, manifest({stream: {"subjects": [f"{ns}.s"], "metadata": {"owner": "b"}}}), "changed.yaml")
    assert planned(plan(changed)) == {f"n/stream/{stream}": "update"}
    apply(changed)
    assert_empty(changed)
    metadata = stream_info(stream)["config"]["metadata"]
    assert metadata["owner"] == "b"
    assert any(k.startswith("_nats.") for k in metadata)


def test_kv_bucket_round_trip(tmp_path: Path, ns: str) -> None:
    bucket = f"{ns}_sessions"

    def doc(**settings: Any) -> dict[str, Any]:
        return manifest(key_value={bucket: settings})

    path = write(tmp_path, doc(history=5, ttl="1h", max_value_size="64KiB", description="s"))
    assert planned(plan(path)) == {f"n/kv_bucket/{bucket}": "create"}
    apply(path)
    assert_empty(path)
    config = stream_info(f"KV_{bucket}")["config"]
    assert config["subjects"] == [f"$KV.{bucket}.>"]
    assert (config["max_msgs_per_subject"], config["max_age"], config["max_msg_size"]) == (5, 3_600_000_000_000, 65536)
    assert (config["allow_rollup_hdrs"], config["deny_delete"], config["discard"]) == (True, True, "new")

    async def use(nc: Any) -> bytes:
        kv = await nc.jetstream().key_value(bucket)
        await kv.put("user.1", b"hello")
        entry = await kv.get("user.1")
        return bytes(entry.value)

    assert run(use) == b"hello"

    more = write(tmp_path, doc(history=10, ttl="2h", max_value_size="64KiB", description="s"), "more.yaml")
    change = change_of(plan(more), f"n/kv_bucket/{bucket}")
    assert change["action"] == "update"
    apply(more)
    assert_empty(more)
    config = stream_info(f"KV_{bucket}")["config"]
    assert (config["max_msgs_per_subject"], config["max_age"]) == (10, 7_200_000_000_000)
    assert (config["allow_rollup_hdrs"], config["deny_delete"], config["discard"]) == (True, True, "new")
    assert stream_info(f"KV_{bucket}")["state"]["messages"] == 1

    memory = write(tmp_path, doc(history=10, storage="memory"), "memory.yaml")
    change = change_of(plan(memory), f"n/kv_bucket/{bucket}")
    assert change["action"] == "replace"
    assert any("1 value will be lost" in r for r in change["reasons"]), change["reasons"]
    apply(memory, "--allow-destructive")
    assert_empty(memory)

    # A KV stream is never a plain stream: not listed as one, never pruned as one.
    pruned = write(tmp_path, manifest(streams={}, prune={"prefix": f"KV_{ns}"}), "pruned.yaml")
    assert planned(plan(pruned)) == {}


def test_object_store_round_trip(tmp_path: Path, ns: str) -> None:
    bucket = f"{ns}_artifacts"

    def doc(**settings: Any) -> dict[str, Any]:
        return manifest(object_stores={bucket: settings})

    path = write(tmp_path, doc(max_bytes="10MiB", description="a", compression=True))
    apply(path)
    assert_empty(path)
    config = stream_info(f"OBJ_{bucket}")["config"]
    assert config["subjects"] == [f"$O.{bucket}.C.>", f"$O.{bucket}.M.>"]
    assert (config["max_bytes"], config["compression"], config["allow_direct"]) == (10 * 1024 * 1024, "s2", True)

    async def use(nc: Any) -> bytes:
        store = await nc.jetstream().object_store(bucket)
        await store.put("build.tar", b"x" * 1000)
        result = await store.get("build.tar")
        return bytes(result.data)

    assert run(use) == b"x" * 1000
    bigger = write(tmp_path, doc(max_bytes="20MiB", description="a", compression=True), "bigger.yaml")
    assert planned(plan(bigger)) == {f"n/object_store/{bucket}": "update"}
    apply(bigger)
    assert_empty(bigger)
    assert stream_info(f"OBJ_{bucket}")["config"]["max_bytes"] == 20 * 1024 * 1024

    gone = write(tmp_path, doc(state="absent"), "gone.yaml")
    change = change_of(plan(gone), f"n/object_store/{bucket}")
    assert change["action"] == "delete"
    assert any("will be lost" in r for r in change["reasons"]), change["reasons"]
    apply(gone, "--allow-destructive")
    assert_empty(gone)
    assert f"OBJ_{bucket}" not in all_stream_names()


def test_dead_letter_stream_captures_max_deliveries_and_terminated_advisories(tmp_path: Path, ns: str) -> None:
    stream = f"{ns}_ORDERS"
    consumers = {
        "billing": {"filter_subject": f"{ns}.orders.b", "max_deliver": 2, "dead_letter": {}},
        "shipping": {"filter_subject": f"{ns}.orders.s", "dead_letter": {"max_deliver": 3}},
    }
    path = write(tmp_path, manifest({stream: {"subjects": [f"{ns}.orders.>"], "consumers": consumers}}))
    first = planned(plan(path))
    assert first[f"n/stream/DLQ_{stream}"] == "create"
    apply(path)
    assert_empty(path)
    dlq = stream_info(f"DLQ_{stream}")["config"]
    assert sorted(dlq["subjects"]) == sorted(
        f"$JS.EVENT.ADVISORY.CONSUMER.{kind}.{stream}.{c}"
        for kind in ("MAX_DELIVERIES", "MSG_TERMINATED")
        for c in ("billing", "shipping")
    )
    assert consumer_info(stream, "shipping")["config"]["max_deliver"] == 3

    publish(f"{ns}.orders.b", 1)
    publish(f"{ns}.orders.s", 1)

    async def fail_messages(nc: Any) -> None:
        jsc = nc.jetstream()
        billing = await jsc.pull_subscribe_bind("billing", stream=stream)
        for _ in range(2):  # nak it up to max_deliver
            for msg in await billing.fetch(1, timeout=5):
                await msg.nak()
        # The server gives up (and advises MAX_DELIVERIES) when it would deliver a third time.
        with contextlib.suppress(nats.errors.TimeoutError):
            assert not await billing.fetch(1, timeout=1)
        shipping = await jsc.pull_subscribe_bind("shipping", stream=stream)
        for msg in await shipping.fetch(1, timeout=5):
            await msg.term()

    run(fail_messages)

    async def wait_for_dead_letters(nc: Any) -> int:
        jsc = nc.jetstream()
        for _ in range(100):
            info = await jsc.stream_info(f"DLQ_{stream}")
            if info.state.messages >= 2:
                break
            await asyncio.sleep(0.1)
        return int(info.state.messages)

    assert run(wait_for_dead_letters) == 2
    subjects = []
    for seq in (1, 2):
        message = js_ok(f"STREAM.MSG.GET.DLQ_{stream}", {"seq": seq})["message"]
        advisory = json.loads(base64.b64decode(message["data"]))
        assert advisory["stream"] == stream and advisory["stream_seq"] >= 1, advisory
        subjects.append(message["subject"])
    assert sorted(subjects) == [
        f"$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.{stream}.billing",
        f"$JS.EVENT.ADVISORY.CONSUMER.MSG_TERMINATED.{stream}.shipping",
    ]


def test_unreachable_server_is_one_clear_error_without_secrets(tmp_path: Path) -> None:
    doc = manifest({"X": {"subjects": ["x"]}})
    doc["brokers"]["n"]["connection"] = {
        "servers": ["nats://alice:s3cr3t-pw@127.0.0.1:1"],
        "token": "t0k3n-secret",
        "connect_timeout": "1s",
    }
    path = write(tmp_path, doc)
    result = topoctl("plan", "-f", path)
    assert result.code == 1, str(result)
    output = result.stdout + result.stderr
    assert "cannot connect" in output and "'n'" in output and "127.0.0.1:1" in output
    assert "s3cr3t-pw" not in output and "t0k3n-secret" not in output and "alice" not in output
    assert "Traceback" not in output


def test_server_filled_values_and_filter_switch_replan_empty(tmp_path: Path, ns: str) -> None:
    stream = f"{ns}_S"
    zeros = {k: 0 for k in ("max_msgs", "max_bytes", "max_msgs_per_subject", "max_msg_size", "max_consumers")}

    def doc(consumer: dict[str, Any]) -> dict[str, Any]:
        body = {"subjects": [f"{ns}.s.>"], "replicas": 0, "republish": {"dest": f"{ns}.r.>"}, **zeros}
        return manifest({stream: {**body, "consumers": {"c": {"max_deliver": 0, **consumer}}}})

    path = write(tmp_path, doc({"filter_subjects": [f"{ns}.s.a", f"{ns}.s.b"]}))
    apply(path)
    assert_empty(path)
    # filter_subjects -> filter_subject (and back): the server refuses a consumer with both.
    single = write(tmp_path, doc({"filter_subject": f"{ns}.s.a"}), "single.yaml")
    change = change_of(plan(single), f"n/consumer/{stream}/c")
    assert change["action"] == "update"
    assert {f["field"]: f["after"] for f in change["fields"]} == {"filter_subject": f"{ns}.s.a", "filter_subjects": []}
    apply(single)
    assert_empty(single)
    apply(path)
    assert_empty(path)
    config = consumer_info(stream, "c")["config"]
    assert config["filter_subjects"] == [f"{ns}.s.a", f"{ns}.s.b"] and not config.get("filter_subject")


def test_kv_mirror_and_sources_as_the_clients_make_them(tmp_path: Path, ns: str) -> None:
    origin, mirror, agg = f"{ns}_origin", f"{ns}_mirror", f"{ns}_agg"

    def doc(mirror_of: Any, sources: list[Any], ttl: str = "30m") -> dict[str, Any]:
        buckets: dict[str, Any] = {
            origin: {"history": 5},
            mirror: {"history": 5, "ttl": ttl, "max_value_size": "4KiB", "mirror": mirror_of},
            agg: {"sources": sources, "republish": {"dest": f"{ns}.rep.>"}},
        }
        return manifest(key_value=buckets)

    path = write(tmp_path, doc({"name": origin}, [{"name": origin}]))
    apply(path)
    assert_empty(path)
    config = stream_info(f"KV_{mirror}")["config"]
    assert config["mirror"]["name"] == f"KV_{origin}" and config["mirror_direct"] is True
    assert not config.get("subjects")
    [source] = stream_info(f"KV_{agg}")["config"]["sources"]
    assert source["subject_transforms"] == [{"src": f"$KV.{origin}.>", "dest": f"$KV.{agg}.>"}]

    async def put(nc: Any) -> None:
        kv = await nc.jetstream().key_value(origin)
        await kv.put("k", b"v")

    run(put)

    async def copied(nc: Any) -> bytes:
        kv = await nc.jetstream().key_value(agg)
        for _ in range(50):
            with contextlib.suppress(nats.js.errors.KeyNotFoundError):
                return bytes((await kv.get("k")).value)
            await asyncio.sleep(0.1)
        raise AssertionError("the sourced key never arrived")

    assert run(copied) == b"v"

    # Sources and settings update in place; dropping the mirror promotes the bucket.
    changed = write(tmp_path, doc(None, [], ttl="20m"), "changed.yaml")
    assert planned(plan(changed)) == {f"n/kv_bucket/{mirror}": "update", f"n/kv_bucket/{agg}": "update"}
    apply(changed)
    assert_empty(changed)
    config = stream_info(f"KV_{mirror}")["config"]
    assert config["subjects"] == [f"$KV.{mirror}.>"] and "mirror" not in config
    assert stream_info(f"KV_{agg}")["config"].get("sources") in (None, [])


def test_server_streams_are_never_read_pruned_or_exported(tmp_path: Path, ns: str) -> None:
    mqtt = f"$MQTT_{ns}"  # what the server's MQTT support creates for itself
    js_ok(f"STREAM.CREATE.{mqtt}", {"name": mqtt, "subjects": [f"$MQTT.{ns}.>"]})
    path = write(tmp_path, manifest({}, prune={"prefix": "$MQTT_"}))
    assert planned(plan(path)) == {}
    exported = topoctl("export", "--broker", "n", "-f", write(tmp_path, manifest(), "connection.yaml"))
    assert exported.code == 0, str(exported)
    assert mqtt not in exported.stdout
    assert mqtt in all_stream_names()


def test_lowering_a_limit_says_stored_messages_go(tmp_path: Path, ns: str) -> None:
    stream = f"{ns}_S"

    def doc(max_msgs: int) -> dict[str, Any]:
        return manifest({stream: {"subjects": [f"{ns}.s"], "max_msgs": max_msgs}})

    apply(write(tmp_path, doc(100)))
    publish(f"{ns}.s", 5)
    lower = write(tmp_path, doc(2), "lower.yaml")
    result = plan(lower)
    change = change_of(result, f"n/stream/{stream}")
    assert change["action"] == "update"
    assert change["notes"] == ["lowering max_msgs removes at once what is over the new limit (5 messages stored)"]
    text = topoctl("plan", "-f", lower)
    assert "# lowering max_msgs removes at once" in text.stdout, str(text)
    apply(lower)
    assert_empty(lower)
    assert stream_info(stream)["state"]["messages"] == 2  # what the note said


def test_nested_settings_update_in_place_and_replan_empty(tmp_path: Path, ns: str) -> None:
    src, agg, mirror = f"{ns}_SRC", f"{ns}_AGG", f"{ns}_MIR"

    def doc(v: int) -> dict[str, Any]:
        streams = {
            src: {"subjects": [f"{ns}.src.>"], "max_age": "1m30s", "duplicate_window": "90s"},
            mirror: {"mirror": {"name": src, "subject_transforms": [{"src": f"{ns}.src.>", "dest": f"{ns}.m.>"}]}},
            agg: {
                "subjects": [f"{ns}.agg.>"],
                "sources": [
                    {
                        "name": src,
                        "subject_transforms": [{"src": f"{ns}.src.*", "dest": f"{ns}.agg.v{v}.{{{{wildcard(1)}}}}"}],
                    },
                    {"name": f"{ns}_REMOTE", "external": {"api": "$JS.hub.API", "deliver": f"dlv{v}"}},
                ],
                "subject_transform": {"src": f"{ns}.agg.>", "dest": f"{ns}.t{v}.>"},
                "republish": {"src": f"{ns}.t{v}.>", "dest": f"{ns}.rep{v}.>", "headers_only": v == 2},
                "placement": {"tags": ["a", "b"][:v]},
                "consumer_limits": {"inactive_threshold": f"{30 * v}m", "max_ack_pending": 100 * v},
                "metadata": {"v": str(v)},
                "consumers": {
                    "pull": {
                        "backoff": ["1s", "2s", "5s"][: v + 1],
                        "max_deliver": 5,
                        "filter_subjects": [f"{ns}.t{v}.b", f"{ns}.t{v}.a"],
                    },
                    "push": {"deliver_subject": f"{ns}.push{v}", "deliver_group": f"g{v}", "ack_wait": f"{v}m"},
                },
            },
        }
        return manifest(
            streams,
            key_value={
                f"{ns}_kv": {"ttl": f"{v}h", "max_value_size": f"{v}KiB", "republish": {"dest": f"{ns}.kv{v}.>"}}
            },
            object_stores={
                f"{ns}_obj": {"ttl": f"{v}d", "max_bytes": f"{v}MiB", "compression": v == 2, "metadata": {"v": str(v)}}
            },
        )

    first = write(tmp_path, doc(1))
    apply(first)
    assert_empty(first)
    second = write(tmp_path, doc(2), "second.yaml")
    assert planned(plan(second)) == {
        f"n/stream/{agg}": "update",
        f"n/consumer/{agg}/pull": "update",
        f"n/consumer/{agg}/push": "update",
        f"n/kv_bucket/{ns}_kv": "update",
        f"n/object_store/{ns}_obj": "update",
    }
    apply(second)
    assert_empty(second)
    config = stream_info(agg)["config"]
    assert config["republish"] == {"src": f"{ns}.t2.>", "dest": f"{ns}.rep2.>", "headers_only": True}
    assert consumer_info(agg, "push")["config"]["deliver_group"] == "g2"


def test_streams_without_subjects_replan_empty(tmp_path: Path, ns: str) -> None:
    own, sourcing = f"{ns}_OWN", f"{ns}_SOURCING"
    streams = {own: {"subjects": []}, sourcing: {"subjects": [], "sources": [{"name": own}]}}
    path = write(tmp_path, manifest(streams))
    apply(path)
    assert_empty(path)
    assert stream_info(own)["config"]["subjects"] == [own]


def test_null_removes_a_setting_and_the_next_plan_is_empty(tmp_path: Path, ns: str) -> None:
    """`deliver_group: null` (issue 17) and the other settings the server has an unset state for:
    an update that removes them, then an empty plan; the server's config no longer has them."""
    name = f"{ns}_CLR"

    def doc(cleared: bool) -> dict[str, Any]:
        def v(value: Any) -> Any:
            return None if cleared else value

        push = {
            "deliver_subject": f"{ns}.push",
            "deliver_group": v("workers"),
            "description": v("pushes"),
            "filter_subject": v(f"{ns}.clr.a"),
            "metadata": v({"team": "a"}),
            "sample_freq": v("50%"),
            "rate_limit_bps": v(1_000_000),
        }
        pull = {"max_deliver": v(5), "backoff": v(["1s", "2s"]), "inactive_threshold": v("10m"), "max_batch": v(10)}
        stream = {
            "subjects": [f"{ns}.clr.>"],
            "description": v("to be cleared"),
            "metadata": v({"owner": "x"}),
            "max_age": v("1h"),
            "max_msgs": v(100),
            "republish": v({"dest": f"{ns}.rep.>"}),
            "consumers": {"push": push, "pull": pull},
        }
        kv = {"description": v("sessions"), "ttl": v("1h"), "max_value_size": v("1KiB")}
        return manifest({name: stream}, key_value={f"{ns}_kv": kv})

    apply(write(tmp_path, doc(False), "set.yaml"))
    assert consumer_info(name, "push")["config"]["deliver_group"] == "workers"
    cleared = write(tmp_path, doc(True), "cleared.yaml")
    changes = planned(plan(cleared))
    assert changes == {
        f"n/stream/{name}": "update",
        f"n/consumer/{name}/push": "update",
        f"n/consumer/{name}/pull": "update",
        f"n/kv_bucket/{ns}_kv": "update",
    }
    apply(cleared)
    assert_empty(cleared)
    push_config = consumer_info(name, "push")["config"]
    for key in ("deliver_group", "description", "filter_subject", "sample_freq", "rate_limit_bps"):
        assert not push_config.get(key), (key, push_config)
    assert not {k for k in push_config.get("metadata") or {} if not k.startswith("_nats.")}
    pull_config = consumer_info(name, "pull")["config"]
    assert pull_config["max_deliver"] == -1 and not pull_config.get("backoff") and not pull_config.get("max_batch")
    config = stream_info(name)["config"]
    assert not config.get("description") and config["max_age"] == 0 and config["max_msgs"] == -1
    assert not config.get("republish")
    kv = stream_info(f"KV_{ns}_kv")["config"]
    assert kv["max_age"] == 0 and kv["max_msg_size"] == -1 and not kv.get("description")
    # And setting them again is an update back.
    assert planned(plan(write(tmp_path, doc(False), "again.yaml")))[f"n/consumer/{name}/push"] == "update"


def test_null_deliver_subject_makes_a_pull_consumer(tmp_path: Path, ns: str) -> None:
    name = f"{ns}_PULL"
    consumer = {"deliver_subject": f"{ns}.to", "deliver_group": "g"}
    apply(write(tmp_path, manifest({name: {"subjects": [f"{ns}.p"], "consumers": {"c": consumer}}}), "push.yaml"))
    pull = {"deliver_subject": None, "deliver_group": None}
    path = write(tmp_path, manifest({name: {"subjects": [f"{ns}.p"], "consumers": {"c": pull}}}), "pull.yaml")
    assert planned(plan(path)) == {f"n/consumer/{name}/c": "replace"}
    apply(path, "--allow-destructive")
    assert_empty(path)
    assert not consumer_info(name, "c")["config"].get("deliver_subject")


def test_prune_touches_bucket_streams_only_through_their_buckets(tmp_path: Path, ns: str) -> None:
    """System objects are never touched (issue 17, point 4, for NATS): with `prune: true`, a KV
    bucket or object store is planned for deletion as the bucket, never as its KV_/OBJ_ stream; a
    durable consumer on a bucket stream and the server's `$` streams are not planned at all."""

    async def buckets(nc: Any) -> None:
        from nats.js.api import KeyValueConfig

        jsc = nc.jetstream()
        await jsc.create_key_value(KeyValueConfig(bucket=f"{ns}_kv"))
        await jsc.create_object_store(f"{ns}_obj")

    run(buckets)
    kv_stream = f"KV_{ns}_kv"
    js_ok(f"CONSUMER.DURABLE.CREATE.{kv_stream}.watch", {"stream_name": kv_stream, "config": {"durable_name": "watch"}})
    mqtt = f"$MQTT_{ns}"
    js_ok(f"STREAM.CREATE.{mqtt}", {"name": mqtt, "subjects": [f"$MQTT.{ns}.>"]})
    # A plan only (nothing applied): prune: true on a server other tests share.
    changes = planned(plan(write(tmp_path, manifest({}, prune=True))))
    mine = {a: action for a, action in changes.items() if ns in a}
    assert mine == {f"n/kv_bucket/{ns}_kv": "delete", f"n/object_store/{ns}_obj": "delete"}
    assert not [a for a in changes if a.startswith(("n/stream/KV_", "n/stream/OBJ_", "n/stream/$"))]
    assert not [a for a in changes if a.startswith(("n/consumer/KV_", "n/consumer/OBJ_", "n/consumer/$"))]
    # Deleting the bucket is deleting it as a bucket, through its own address.
    path = write(tmp_path, manifest({}, key_value={f"{ns}_kv": {"state": "absent"}}), "gone.yaml")
    assert planned(plan(path)) == {f"n/kv_bucket/{ns}_kv": "delete"}
    apply(path, "--allow-destructive")
    assert kv_stream not in all_stream_names() and mqtt in all_stream_names()
