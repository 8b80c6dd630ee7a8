"""SQS/SNS under faults (issue 9, points 2 and 3), against a private moto server started here
(the shared one on port 5000 is never stopped) and Toxiproxy in front of the shared one.

moto keeps everything in memory: a restarted moto is empty, so "converges after a restart"
means the rerun creates everything again and plans empty after; a real SQS keeps its queues.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.cli import write_manifest
from tests.integration.faults_support import (
    KillableServer,
    apply_counting_retries,
    apply_with_fault,
    assert_gave_up,
    plan_is_empty,
    proxy,
    run_topoctl,
    running,
)

pytestmark = pytest.mark.integration
B = "cloud"


def document(endpoint: str, queues: dict[str, Any], **connection: Any) -> dict[str, Any]:
    settings = {
        "region": "us-east-1",
        "endpoint_url": endpoint,
        "access_key_id": "testing",
        "secret_access_key": "testing",
        **connection,
    }
    return {"version": 1, "brokers": {B: {"type": "aws", "connection": settings, "sqs": {"queues": queues}}}}


class Moto(KillableServer):
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        return [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)]


@pytest.fixture
def moto() -> Iterator[Moto]:
    with running(Moto()) as server:
        yield server


def test_a_moto_killed_mid_apply_fails_in_bounded_time_and_a_rerun_converges(tmp_path: Path, moto: Moto) -> None:
    total = 40
    queues = {f"q{i:03d}": {"visibility_timeout": "45s"} for i in range(total)}
    path = write_manifest(tmp_path / "m.yaml", document(moto.url, queues))
    run, done = apply_with_fault(path, moto.kill, 5, "--parallelism", "1")
    assert_gave_up(run, f"broker '{B}' ({moto.url})", total, 10)
    print(f"\nmoto killed: gave up {run.seconds:.1f}s after the kill ({done} of {total} done)")

    moto.start()
    rerun = run_topoctl("apply", "-f", path, "--auto-approve")
    assert rerun.code == 0, str(rerun)
    assert plan_is_empty(path).code == 0


def test_resets_and_latency_are_retried_and_the_apply_converges(tmp_path: Path) -> None:
    prefix = f"f{uuid.uuid4().hex[:8]}-"
    queues = {f"{prefix}{i:02d}": {"visibility_timeout": "40s", "tags": {"team": "a"}} for i in range(12)}
    with proxy("127.0.0.1:5000") as p:
        p.toxic("reset_peer", toxicity=0.3, timeout=0)
        p.toxic("timeout", toxicity=0.2, timeout=300)
        p.toxic("latency", latency=30, jitter=30)
        faulty = write_manifest(
            tmp_path / "faulty.yaml",
            document(f"http://{p.address}", queues, timeout="2s", retries={"attempts": 12, "max_seconds": 30}),
        )
        applied, retries = apply_counting_retries([faulty])
        assert applied == len(queues)
        assert retries[B] > 0, "no fault was met: the test proves nothing"
        print(f"\nSQS: {retries[B]} faults retried")
    direct = write_manifest(tmp_path / "direct.yaml", document("http://127.0.0.1:5000", queues))
    assert plan_is_empty(direct).code == 0
    gone = {name: {"state": "absent"} for name in queues}
    assert (
        run_topoctl(
            "apply",
            "-f",
            write_manifest(tmp_path / "gone.yaml", document("http://127.0.0.1:5000", gone)),
            "--auto-approve",
            "--allow-destructive",
        ).code
        == 0
    )
