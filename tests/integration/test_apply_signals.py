"""Ctrl-C and SIGTERM in the middle of a real apply (issue 9, point 4): the change in flight
finishes, no new one starts, the summary says what was done, the exit code is 130 or 143, and the
same apply run again converges to an empty plan."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli import apply_ok, assert_empty
from tests.integration.test_nats_provider import all_stream_names, manifest, ns, server, write

__all__ = ["ns", "server"]  # fixtures used below
pytestmark = pytest.mark.integration
STREAMS = 120


@pytest.mark.parametrize("parallelism", ["1", "4"])  # one at a time; tasks on the driver's event loop
@pytest.mark.parametrize(
    ("sig", "code", "said"), [(signal.SIGTERM, 143, "Terminated"), (signal.SIGINT, 130, "Interrupted")]
)
def test_a_signal_stops_the_apply_between_changes_and_a_rerun_converges(
    tmp_path: Path, ns: str, sig: signal.Signals, code: int, said: str, parallelism: str
) -> None:
    streams = {f"{ns}_{i:03d}": {"subjects": [f"{ns}.{i}.>"]} for i in range(STREAMS)}
    path = write(tmp_path, manifest(streams))
    proc = subprocess.Popen(
        [sys.executable, "-m", "topoctl", "apply", "-f", str(path), "--auto-approve", "--parallelism", parallelism],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "CI": "true"},
    )
    assert proc.stderr is not None
    seen = []
    for line in proc.stderr:  # the first change done: now it is mid-apply
        seen.append(line)
        if ": created" in line:
            proc.send_signal(sig)
            break
    rest = proc.stderr.read()
    assert proc.wait(timeout=60) == code, "".join(seen) + rest
    assert f"{said} (" in rest and "no new change was started after it" in rest, rest
    assert "not attempted" in rest and "Traceback" not in rest, rest

    created = [n for n in all_stream_names() if n.startswith(f"{ns}_")]
    assert 0 < len(created) < STREAMS, "the apply neither started nor stopped early"
    assert f"{len(created)} of {STREAMS} changes applied; 0 failed; {STREAMS - len(created)} not attempted." in rest

    apply_ok(path)
    assert_empty(path)
