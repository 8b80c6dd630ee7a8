"""A replace is a delete and then a create: against the real nats-server, a replace whose create the
server would refuse is a plan error before anything is deleted, and apply checks it again before its
first delete. Creates and new subjects that overlap a live stream the plan keeps are plan errors too.
(Issue 17, point 2.)"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.cli import apply_ok, planned, topoctl
from tests.cli import plan_json as plan
from tests.integration.test_nats_provider import (
    NATS_URL,
    cleanup,
    consumer_info,
    js,
    js_ok,
    manifest,
    publish,
    run,
    stream_info,
    write,
)
from topoctl.engine.applier import execute
from topoctl.engine.planner import Session
from topoctl.errors import ApplyError
from topoctl.manifest.loader import load_manifest

pytestmark = pytest.mark.integration


@pytest.fixture
def ns() -> Iterator[str]:
    try:
        run(lambda nc: nc.jetstream().account_info())
    except Exception as exc:  # an unreachable broker fails the run, it never skips it
        pytest.fail(f"NATS JetStream is not reachable at {NATS_URL} (start it: dev/brokers up nats): {exc!r}")
    name = f"r{uuid.uuid4().hex[:8]}"
    yield name
    cleanup(name)


def undeclared(name: str, subjects: list[str]) -> None:
    """A stream made outside topoctl."""
    js_ok(f"STREAM.CREATE.{name}", {"name": name, "subjects": subjects})


def pb_w(ns: str, subjects: list[str], **extra: Any) -> dict[str, Any]:
    return {f"{ns}_PB_W": {"subjects": subjects, **extra, "consumers": {"c1": {"ack_policy": "explicit"}}}}


def assert_intact(ns: str) -> None:
    info = stream_info(f"{ns}_PB_W")
    assert info["config"]["storage"] == "file"
    assert info["state"]["messages"] == 4
    assert consumer_info(f"{ns}_PB_W", "c1")["num_pending"] == 4


def test_a_replace_the_server_would_refuse_to_recreate_is_a_plan_error_and_nothing_is_lost(
    tmp_path: Path, ns: str
) -> None:
    """The scenario of the issue: `-/+` of PB_W (storage), whose new subject an undeclared stream
    captures. Before the fix, apply deleted the consumer and the stream, then failed with 10065."""
    apply_ok(write(tmp_path, manifest(pb_w(ns, [f"{ns}.w.>"])), "before.yaml"))
    publish(f"{ns}.w.x", 4)
    undeclared(f"{ns}_OTHER", [f"{ns}.w2.>"])
    changed = write(tmp_path, manifest(pb_w(ns, [f"{ns}.w.>", f"{ns}.w2.>"], storage="memory")), "after.yaml")

    result = plan(changed)
    assert result.code == 1, str(result)
    message = result.stderr
    assert f"stream '{ns}_PB_W' (declared at {changed}:" in message
    assert f"cannot replace it: subject '{ns}.w2.>' overlaps '{ns}.w2.>' of live stream '{ns}_OTHER'" in message
    assert "(not in the manifest)" in message and "10065" in message
    assert "Traceback" not in result.stdout + result.stderr

    result = topoctl("apply", "-f", changed, "--auto-approve", "--allow-destructive")
    assert result.code == 1, str(result)
    assert f"overlaps '{ns}.w2.>' of live stream '{ns}_OTHER'" in result.stderr
    assert "destroyed" not in result.stdout
    assert_intact(ns)


def test_apply_checks_again_before_the_first_delete_of_a_replace(tmp_path: Path, ns: str) -> None:
    """Between the plan and the apply (the prompt, a long review), a stream capturing the new
    subject appears: apply refuses before it deletes the consumer, the first step of the replace."""
    apply_ok(write(tmp_path, manifest(pb_w(ns, [f"{ns}.w.>"])), "before.yaml"))
    publish(f"{ns}.w.x", 4)
    changed = write(tmp_path, manifest(pb_w(ns, [f"{ns}.w.>", f"{ns}.w2.>"], storage="memory")), "after.yaml")
    with Session(load_manifest([str(changed)])) as session:
        the_plan = session.plan()
        assert {str(c.address): c.action.value for c in the_plan.changes} == {
            f"n/stream/{ns}_PB_W": "replace",
            f"n/consumer/{ns}_PB_W/c1": "replace",
        }
        undeclared(f"{ns}_LATE", [f"{ns}.w2.x"])
        with pytest.raises(ApplyError) as err:
            execute(session, the_plan)
    message = str(err.value)
    assert f"subject '{ns}.w2.>' is now captured by live stream '{ns}_LATE'" in message
    assert "0 destroyed" in message
    assert_intact(ns)


def test_a_replace_the_server_refuses_to_create_for_another_reason_is_a_plan_error(tmp_path: Path, ns: str) -> None:
    """The server's own validation, asked by creating a name that exists (answered "name in use",
    changing nothing): three replicas on a single server."""
    apply_ok(write(tmp_path, manifest(pb_w(ns, [f"{ns}.w.>"])), "before.yaml"))
    publish(f"{ns}.w.x", 4)
    result = plan(write(tmp_path, manifest(pb_w(ns, [f"{ns}.w.>"], storage="memory", replicas=3)), "after.yaml"))
    assert result.code == 1, str(result)
    assert "cannot replace it: the server would refuse to create it again" in result.stderr
    assert "10074" in result.stderr
    assert_intact(ns)
    # Without the refused setting the replace plans and applies.
    fine = write(tmp_path, manifest(pb_w(ns, [f"{ns}.w.>"], storage="memory")), "fine.yaml")
    assert planned(plan(fine)) == {f"n/stream/{ns}_PB_W": "replace", f"n/consumer/{ns}_PB_W/c1": "replace"}
    apply_ok(fine, "--allow-destructive")
    assert stream_info(f"{ns}_PB_W")["config"]["storage"] == "memory"


def test_a_create_or_new_subject_overlapping_a_live_undeclared_stream_is_a_plan_error(tmp_path: Path, ns: str) -> None:
    undeclared(f"{ns}_OTHER", [f"{ns}.w2.>"])
    js_ok(
        f"STREAM.CREATE.KV_{ns}_b",
        {"name": f"KV_{ns}_b", "subjects": [f"$KV.{ns}_b.>"], "max_msgs_per_subject": 1, "allow_rollup_hdrs": True},
    )
    result = plan(write(tmp_path, manifest({f"{ns}_NEW": {"subjects": [f"{ns}.w2.x", f"$KV.{ns}_b.k"]}})))
    assert result.code == 1, str(result)
    assert f"stream '{ns}_NEW' (declared at" in result.stderr and "cannot create it" in result.stderr
    assert f"subject '{ns}.w2.x' overlaps '{ns}.w2.>' of live stream '{ns}_OTHER'" in result.stderr
    assert f"subject '$KV.{ns}_b.k' overlaps '$KV.{ns}_b.>' of live KV bucket '{ns}_b'" in result.stderr

    apply_ok(write(tmp_path, manifest({f"{ns}_A": {"subjects": [f"{ns}.a"]}}), "a.yaml"))
    result = plan(write(tmp_path, manifest({f"{ns}_A": {"subjects": [f"{ns}.a", f"{ns}.*.z"]}}), "a2.yaml"))
    assert result.code == 1, str(result)
    assert f"cannot give it these subjects: subject '{ns}.*.z' overlaps '{ns}.w2.>'" in result.stderr
    assert stream_info(f"{ns}_A")["config"]["subjects"] == [f"{ns}.a"]


def test_subjects_freed_in_the_same_apply_may_be_taken(tmp_path: Path, ns: str) -> None:
    """A stream the plan deletes (state: absent) goes before any create; a declared stream that
    gives a subject up is updated before the stream that takes it."""
    undeclared(f"{ns}_OLD", [f"{ns}.old.>"])
    apply_ok(write(tmp_path, manifest({f"{ns}_X": {"subjects": [f"{ns}.x", f"{ns}.moving"]}}), "x.yaml"))
    streams = {
        f"{ns}_OLD": {"state": "absent"},
        f"{ns}_NEW": {"subjects": [f"{ns}.old.>"]},
        f"{ns}_X": {"subjects": [f"{ns}.x"]},
        f"{ns}_Y": {"subjects": [f"{ns}.moving"]},
    }
    path = write(tmp_path, manifest(streams), "moved.yaml")
    assert planned(plan(path)) == {
        f"n/stream/{ns}_OLD": "delete",
        f"n/stream/{ns}_NEW": "create",
        f"n/stream/{ns}_X": "update",
        f"n/stream/{ns}_Y": "create",
    }
    # With many steps in flight at once, Y must still wait for X to let the subject go.
    apply_ok(path, "--allow-destructive", "--parallelism", "8")
    assert stream_info(f"{ns}_Y")["config"]["subjects"] == [f"{ns}.moving"]
    assert stream_info(f"{ns}_NEW")["config"]["subjects"] == [f"{ns}.old.>"]
    assert js(f"STREAM.INFO.{ns}_OLD")["error"]["err_code"] == 10059


def test_a_consumer_replace_the_server_would_refuse_is_a_plan_error_and_the_consumer_stays(
    tmp_path: Path, ns: str
) -> None:
    """The same for a consumer replaced on its own: here the stream's live consumer_limits (not in
    the manifest) cap max_ack_pending at 10, so the new consumer would be refused (10121) after
    the old one is deleted."""
    name = f"{ns}_LIM"
    js_ok(
        f"STREAM.CREATE.{name}", {"name": name, "subjects": [f"{ns}.lim"], "consumer_limits": {"max_ack_pending": 10}}
    )
    consumer = {"durable_name": "c", "ack_policy": "explicit", "max_ack_pending": 5}
    js_ok(f"CONSUMER.CREATE.{name}.c", {"stream_name": name, "config": consumer})
    path = write(tmp_path, manifest({name: {"consumers": {"c": {"ack_policy": "all", "max_ack_pending": 100}}}}))
    result = topoctl("apply", "-f", path, "--auto-approve", "--allow-destructive")
    assert result.code == 1, str(result)
    assert f"consumer {name}/c (declared at {path}:" in result.stderr
    assert "cannot replace it: the server would refuse to create it" in result.stderr and "10121" in result.stderr
    assert consumer_info(name, "c")["config"]["ack_policy"] == "explicit"
