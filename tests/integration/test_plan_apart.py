"""`topoctl plan` reads each broker of a manifest in a process of its own (engine.apart): as a user
runs it, a new process, the plan must be exactly the plan read in threads (`--debug` reads in
threads), and every broker that cannot be read is still named."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def topoctl(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    return subprocess.run(
        [sys.executable, "-m", "topoctl", *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=300
    )


def test_a_plan_read_apart_is_the_plan_read_in_threads(tmp_path: Path) -> None:
    files = [str(ROOT / "examples" / f) for f in ("rabbitmq.yaml", "nats.yaml", "aws.yaml", "kafka.yaml")]
    args = [a for f in files for a in ("-f", f)]
    apart = topoctl("plan", *args, "--format", "json", cwd=tmp_path)
    threads = topoctl("plan", *args, "--format", "json", "--debug", cwd=tmp_path)
    assert apart.returncode == threads.returncode == 0, apart.stderr + threads.stderr
    assert json.loads(apart.stdout) == json.loads(threads.stdout)
    assert set(json.loads(apart.stdout)["brokers"]) == {"shop-rabbit", "edge", "shop-aws", "events"}


def test_every_broker_that_cannot_be_read_is_named(tmp_path: Path) -> None:
    name = f"apart-{uuid.uuid4().hex[:6]}"
    manifest = tmp_path / "m.yaml"
    manifest.write_text(
        "version: 1\n"
        "brokers:\n"
        "  r:\n    type: rabbitmq\n    connection: {url: 'http://127.0.0.1:1', retries: {attempts: 1}}\n"
        f"    vhosts:\n      {name}: {{queues: {{q: {{}}}}}}\n"
        "  n:\n    type: nats\n    connection: {servers: ['nats://127.0.0.1:1'], retries: {attempts: 1}}\n"
        f"    streams:\n      {name.upper().replace('-', '_')}: {{subjects: ['{name}.>']}}\n"
        "  ok:\n    type: nats\n"
        f"    streams:\n      {name.upper().replace('-', '_')}_OK: {{subjects: ['{name}.ok.>']}}\n",
        encoding="utf-8",
    )
    done = topoctl("plan", "-f", str(manifest), cwd=tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "2 brokers cannot be read" in done.stderr
    assert "broker 'r' (http://127.0.0.1:1)" in done.stderr and "broker 'n' (" in done.stderr
    assert "'ok'" not in done.stderr and "Traceback" not in done.stderr
