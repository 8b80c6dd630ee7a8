"""A saved plan covers what its destructive changes take with them, as reviewed: messages, and the
objects deleted along with the one the plan names. When that grew after `plan -o`, `apply PLANFILE`
refuses the plan and changes nothing (issue 17, point 1), on every broker that cascades or holds
messages."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.cli import topoctl
from tests.integration.rabbitmq_support import BROKER, manifest_file, publish, queue, seg, wait_for
from tests.integration.test_nats_provider import consumer_info, js_ok, manifest, ns, server, stream_info, write

__all__ = ["ns", "server"]  # fixtures used below
pytestmark = pytest.mark.integration


def save_plan(path: Path, plan_file: Path) -> None:
    result = topoctl("plan", "-f", path, "-o", plan_file)
    assert result.code == 0, str(result)


def apply_saved(plan_file: Path) -> str:
    """Applies the saved plan, which must be refused as stale; returns the error."""
    result = topoctl("apply", plan_file, "--allow-destructive")
    assert result.code == 1, str(result)
    assert "saved plan is stale" in result.stderr and "Traceback" not in result.stderr, str(result)
    return result.stderr


def messages(client: httpx.Client, vhost: str, name: str) -> int:
    return int((queue(client, vhost, name) or {}).get("messages") or 0)


def test_rabbitmq_replace_of_a_queue_that_got_messages_is_stale(
    tmp_path: Path, client: httpx.Client, vhost: str
) -> None:
    def doc(limit: int) -> dict[str, object]:
        return {vhost: {"queues": {"jobs": {"type": "quorum", "arguments": {"x-max-length": limit}}}}}

    assert topoctl("apply", "-f", manifest_file(tmp_path, doc(20)), "--auto-approve").code == 0
    changed = manifest_file(tmp_path, doc(30), name="changed.yaml")
    save_plan(changed, tmp_path / "plan.json")
    publish(client, vhost, "jobs", 4)
    wait_for(lambda: messages(client, vhost, "jobs") == 4, "4 messages in jobs")

    error = apply_saved(tmp_path / "plan.json")
    assert f"{BROKER}/queue/{seg(vhost)}/jobs: messages 0 -> 4" in error
    assert messages(client, vhost, "jobs") == 4
    assert (queue(client, vhost, "jobs") or {})["arguments"]["x-max-length"] == 20


def test_rabbitmq_vhost_delete_that_would_take_a_new_queue_is_stale(
    tmp_path: Path, client: httpx.Client, vhost: str
) -> None:
    kept = manifest_file(tmp_path, {vhost: {"queues": {"keep": {}}}})
    assert topoctl("apply", "-f", kept, "--auto-approve").code == 0
    save_plan(manifest_file(tmp_path, {vhost: {"state": "absent"}}, name="gone.yaml"), tmp_path / "plan.json")
    assert client.put(f"/api/queues/{seg(vhost)}/orders-after-plan", json={"durable": True}).status_code in (201, 204)
    publish(client, vhost, "orders-after-plan", 1)

    error = apply_saved(tmp_path / "plan.json")
    assert "orders-after-plan would now be deleted with it" in error
    assert client.get(f"/api/vhosts/{seg(vhost)}").status_code == 200
    wait_for(lambda: messages(client, vhost, "orders-after-plan") == 1, "the message still there")


def test_nats_stream_delete_that_would_take_a_new_consumer_is_stale(tmp_path: Path, ns: str) -> None:
    stream = f"{ns}_S"
    declared = {stream: {"subjects": [f"{ns}.s.>"], "consumers": {"old": {"ack_policy": "explicit"}}}}
    assert topoctl("apply", "-f", write(tmp_path, manifest(declared)), "--auto-approve").code == 0
    gone = write(tmp_path, manifest({stream: {"state": "absent"}}), name="gone.yaml")
    save_plan(gone, tmp_path / "plan.json")
    js_ok(
        f"CONSUMER.CREATE.{stream}.late",
        {"stream_name": stream, "config": {"durable_name": "late", "ack_policy": "explicit"}},
    )

    error = apply_saved(tmp_path / "plan.json")
    assert f"n/consumer/{stream}/late would now be deleted with it" in error
    assert stream_info(stream)["config"]["name"] == stream
    assert consumer_info(stream, "late")["name"] == "late"
