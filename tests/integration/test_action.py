"""The GitHub Action's script end to end, as the composite action runs it: a pull request's plan
against the real RabbitMQ (comment upserted on a fake GitHub API, saved plan, destructive gate),
then the merge's apply of exactly that saved plan, found as the PR's artifact; a broker changed in
between makes the apply refuse."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.cli import write_manifest
from tests.integration.rabbitmq_support import AUTH, URL, seg
from tests.unit.test_action import SCRIPT, FakeGitHub

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    fake = FakeGitHub()
    yield fake
    fake.close()


@pytest.fixture
def vhost() -> Iterator[str]:
    import uuid

    name = f"it-action-{uuid.uuid4().hex[:8]}"
    yield name
    httpx.delete(f"{URL}/api/vhosts/{seg(name)}", auth=AUTH, timeout=30)


def manifest(workspace: Path, vhost: str, queue: dict[str, Any]) -> None:
    connection = {"url": URL, "username": AUTH[0], "password": "${RABBITMQ_PASSWORD}"}
    document = {
        "version": 1,
        "brokers": {
            "shop-rabbit": {
                "type": "rabbitmq",
                "connection": connection,
                "vhosts": {vhost: {"queues": {"billing": queue}}},
            }
        },
    }
    (workspace / "topology").mkdir(exist_ok=True)
    write_manifest(workspace / "topology" / "shop.yaml", document)


def run_action(
    workspace: Path, github: FakeGitHub, command: str, event: dict[str, Any], sha: str, **inputs: str
) -> tuple[int, str, dict[str, str], str]:
    """(exit code, log, outputs, step summary) of `action.py COMMAND` in the workspace."""
    runner = workspace.parent / f"runner-{command}-{sha}"
    runner.mkdir(exist_ok=True)
    event_path, output_path, summary_path = runner / "event.json", runner / "output", runner / "summary"
    event_path.write_text(json.dumps(event), encoding="utf-8")
    bin_dir = runner / "bin"
    bin_dir.mkdir(exist_ok=True)
    shim = bin_dir / "topoctl"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m topoctl "$@"\n', encoding="utf-8")
    shim.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("INPUT_", "GITHUB_"))}
    env.update(
        PATH=f"{bin_dir}:{os.environ['PATH']}",
        PYTHONPATH=str(ROOT),
        CI="true",
        RABBITMQ_PASSWORD=AUTH[1],
        GITHUB_API_URL=github.url,
        GITHUB_REPOSITORY="o/r",
        GITHUB_TOKEN="ghs_faketoken123",
        GITHUB_EVENT_NAME="pull_request" if "pull_request" in event else "push",
        GITHUB_EVENT_PATH=str(event_path),
        GITHUB_OUTPUT=str(output_path),
        GITHUB_STEP_SUMMARY=str(summary_path),
        GITHUB_SHA=sha,
        RUNNER_TEMP=str(runner),
        INPUT_FILES="topology/",
        **{f"INPUT_{k.upper()}": v for k, v in inputs.items()},
    )
    done = subprocess.run(
        [sys.executable, str(SCRIPT), command],
        cwd=workspace,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=180,
    )
    outputs = (
        dict(
            line.split("=", 1) for line in output_path.read_text(encoding="utf-8").splitlines() if output_path.exists()
        )
        if output_path.exists()
        else {}
    )
    summary = summary_path.read_text(encoding="utf-8") if summary_path.exists() else ""
    return done.returncode, done.stdout, outputs, summary


def pr_event(number: int, head: str, labels: tuple[str, ...] = ()) -> dict[str, Any]:
    return {"pull_request": {"number": number, "head": {"sha": head}, "labels": [{"name": n} for n in labels]}}


def upload(github: FakeGitHub, outputs: dict[str, str], head: str, when: str) -> None:
    """What actions/upload-artifact does with the plan step's files."""
    files = {Path(outputs[k]).name: Path(outputs[k]).read_bytes() for k in ("plan-file", "plan-markdown")}
    github.add_artifact(outputs["artifact"], head, files, when)


def max_length(vhost: str) -> int | None:
    """The live queue's x-max-length (0 without one); None when there is no queue."""
    r = httpx.get(f"{URL}/api/queues/{seg(vhost)}/billing", auth=AUTH, timeout=30)
    return None if r.status_code == 404 else int(r.json()["arguments"].get("x-max-length", 0))


def test_plan_on_the_pr_then_apply_exactly_that_plan_on_merge(tmp_path: Path, github: FakeGitHub, vhost: str) -> None:
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    manifest(workspace, vhost, {"arguments": {"x-max-length": 1000}})

    code, log, outputs, summary = run_action(workspace, github, "plan", pr_event(7, "head1"), "merge1")
    assert code == 0, log
    assert outputs["changes"] == "true" and outputs["destructive"] == "0" and "refused" not in outputs
    assert outputs["artifact"] == "topoctl-plan-pr7"
    (comment,) = github.comments[7]
    assert comment["body"].startswith("<!-- topoctl-plan -->\n")
    assert f"shop-rabbit/queue/{vhost}/billing" in comment["body"] and summary == comment["body"]
    assert outputs["comment-url"] == "https://gh/c/7"
    assert "ghs_faketoken123" not in log and AUTH[1] not in comment["body"]

    # A second push: the same comment is updated, a new artifact saved.
    manifest(workspace, vhost, {"arguments": {"x-max-length": 2000}})
    code, log, outputs, _ = run_action(workspace, github, "plan", pr_event(7, "head2"), "merge2")
    assert code == 0, log
    assert len(github.comments[7]) == 1 and "2000" in github.comments[7][0]["body"]
    upload(github, outputs, "head2", "2026-01-01T10:00:00Z")
    assert max_length(vhost) is None  # planning changed nothing

    # The merge: the push event's commit belongs to PR 7, whose last push was head2.
    github.pulls_of["main1"] = [
        {"number": 7, "head": {"sha": "head2"}, "merged_at": "2026-01-01T11:00:00Z", "labels": []}
    ]
    code, log, outputs, summary = run_action(workspace, github, "apply", {"ref": "refs/heads/main"}, "main1")
    assert code == 0, log
    assert "Applying the plan reviewed on pull request #7 (artifact topoctl-plan-pr7, head head2)." in log
    assert "Apply complete! Resources: 2 added" in log
    assert outputs["applied"] == "true" and "x-max-length" in summary
    assert max_length(vhost) == 2000


def test_a_destructive_plan_needs_the_label_and_a_stale_one_is_refused(
    tmp_path: Path, github: FakeGitHub, vhost: str
) -> None:
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    httpx.put(f"{URL}/api/vhosts/{seg(vhost)}", auth=AUTH, timeout=30).raise_for_status()
    httpx.put(
        f"{URL}/api/queues/{seg(vhost)}/billing",
        json={"durable": True, "arguments": {"x-max-length": 1000}},
        auth=AUTH,
        timeout=30,
    ).raise_for_status()
    manifest(workspace, vhost, {"arguments": {"x-max-length": 5000}})  # a replace: destructive

    code, log, outputs, _ = run_action(workspace, github, "plan", pr_event(8, "h1"), "m1")
    assert code == 0, log  # the script reports; action.yml's last step fails the check
    assert outputs["destructive"] == "1"
    assert outputs["refused"].startswith("The plan replaces or deletes 1 object(s)")
    assert "Add the 'allow-destructive' label" in outputs["refused"]

    code, log, outputs, _ = run_action(workspace, github, "plan", pr_event(8, "h2", ("allow-destructive",)), "m2")
    assert code == 0 and "refused" not in outputs, log
    upload(github, outputs, "h2", "2026-01-01T10:00:00Z")

    # Between review and merge, someone changes the queue by hand: the saved plan is stale.
    httpx.delete(f"{URL}/api/queues/{seg(vhost)}/billing", auth=AUTH, timeout=30).raise_for_status()
    httpx.put(
        f"{URL}/api/queues/{seg(vhost)}/billing",
        json={"durable": True, "arguments": {"x-max-length": 3000}},
        auth=AUTH,
        timeout=30,
    ).raise_for_status()
    labelled = [{"number": 8, "head": {"sha": "h2"}, "merged_at": "x", "labels": [{"name": "allow-destructive"}]}]
    github.pulls_of["main2"] = labelled
    code, log, outputs, _ = run_action(workspace, github, "apply", {}, "main2")
    assert code == 1
    assert "saved plan is stale" in log and "::error::topoctl apply failed or refused" in log
    assert max_length(vhost) == 3000  # nothing was changed

    # `plan: fresh` plans the merged commit instead, and (labelled) applies the replace.
    code, log, outputs, _ = run_action(workspace, github, "apply", {}, "main2", plan="fresh")
    assert code == 0, log
    assert max_length(vhost) == 5000


def test_apply_of_a_commit_that_merged_no_pr_is_refused(tmp_path: Path, github: FakeGitHub, vhost: str) -> None:
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    manifest(workspace, vhost, {})
    code, log, _, _ = run_action(workspace, github, "apply", {}, "lonely")
    assert code == 1
    assert "::error::commit lonely is not the merge of a pull request: nothing reviewed to apply" in log
    assert max_length(vhost) is None
