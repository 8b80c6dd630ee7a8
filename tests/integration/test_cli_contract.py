"""What README.md says about the command line, checked as a user meets it: in a real terminal, with
real brokers (issue 18, points 1-3)."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.cli import topoctl
from tests.integration.rabbitmq_support import BROKER, bindings, manifest_file, seg

pytestmark = pytest.mark.integration


def run_in_terminal(
    args: list[str], env: dict[str, str], cwd: Path, answer: str | None = None, timeout: float = 60
) -> tuple[int, str]:
    """Runs topoctl with stdin, stdout and stderr on a pseudo-terminal, as a CI runner with a TTY
    does. A prompt gets `answer`, or nothing (then the run hangs until `timeout` and fails).
    Returns the exit code and everything written to the terminal."""
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "topoctl", *args],
        stdin=follower,
        stdout=follower,
        stderr=follower,
        cwd=cwd,
        env={**os.environ, **env},
        close_fds=True,
    )
    os.close(follower)
    out = b""
    deadline = time.monotonic() + timeout
    while proc.poll() is None or select.select([leader], [], [], 0)[0]:
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"topoctl {' '.join(args)} did not finish (waiting at a prompt?):\n{out.decode()}")
        if select.select([leader], [], [], 0.2)[0]:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the terminal closed with the process
                break
            if not chunk:
                break
            out += chunk
            if answer is not None and b"Enter a value" in out:
                os.write(leader, answer.encode() + b"\n")
                answer = None
    os.close(leader)
    return proc.wait(), out.decode(errors="replace")


def test_ci_true_never_prompts_even_on_a_terminal(tmp_path: Path, client: httpx.Client, vhost: str) -> None:
    path = manifest_file(tmp_path, {vhost: {"queues": {"jobs": {}}}})
    code, shown = run_in_terminal(["apply", "-f", str(path)], {"CI": "true"}, tmp_path)
    assert code == 1, shown
    assert "Enter a value" not in shown and "use --auto-approve" in shown
    assert "Traceback" not in shown
    assert client.get(f"/api/vhosts/{seg(vhost)}").status_code == 404  # nothing changed

    # Without CI the same terminal gets the prompt; "no" changes nothing.
    code, shown = run_in_terminal(["apply", "-f", str(path)], {"CI": ""}, tmp_path, answer="no")
    assert code == 1 and "Enter a value" in shown and "apply cancelled" in shown, shown
    assert client.get(f"/api/vhosts/{seg(vhost)}").status_code == 404


def test_an_exact_binding_target_applies_only_that_binding(tmp_path: Path, client: httpx.Client, vhost: str) -> None:
    declared = {
        vhost: {
            "exchanges": {"x": {"type": "direct"}},
            "queues": {"q": {}},
            "bindings": [
                {"source": "x", "destination": "q", "routing_key": ""},
                {"source": "x", "destination": "q", "routing_key": "k", "arguments": {"a": 1}},
            ],
        }
    }
    path = manifest_file(tmp_path, declared)
    target = f"{BROKER}/binding/{vhost}/x/queue/q//"
    plan = topoctl("plan", "-f", path, "--format", "json", "--target", target)
    assert plan.code == 0, str(plan)
    planned = {c["address"] for c in plan.json["changes"]}
    assert planned == {target, f"{BROKER}/vhost/{vhost}", f"{BROKER}/exchange/{vhost}/x", f"{BROKER}/queue/{vhost}/q"}

    assert topoctl("apply", "-f", path, "--auto-approve", "--target", target).code == 0
    assert [b["routing_key"] for b in bindings(client, vhost)] == [""]


def test_an_approved_apply_writes_its_plan_before_the_lines_of_what_it_did(
    tmp_path: Path, client: httpx.Client, vhost: str
) -> None:
    # With --auto-approve the writes start while the plan's text is made; in a CI log (stdout and
    # stderr on one pipe) the plan still comes first, whole, then one line per change, then the summary.
    queues = {f"q{i}": {} for i in range(40)}  # one definitions import: the vhost's line comes early
    path = manifest_file(tmp_path, {vhost: {"exchanges": {"x": {"type": "topic"}}, "queues": queues}})
    done = subprocess.run(
        [sys.executable, "-m", "topoctl", "apply", "-f", str(path), "--auto-approve"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "CI": "true"},
        timeout=120,
    )
    assert done.returncode == 0, done.stdout
    lines = done.stdout.splitlines()
    plan_end = lines.index("Plan: 42 to add, 0 to change, 0 to destroy.")
    created = [i for i, text in enumerate(lines) if text.endswith(": created")]
    assert len(created) == 42 and min(created) > plan_end
    assert lines[-1] == "Apply complete! Resources: 42 added, 0 changed, 0 destroyed."
    assert len(client.get(f"/api/queues/{seg(vhost)}").json()) == 40
