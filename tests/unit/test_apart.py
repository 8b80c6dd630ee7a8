"""engine.apart: jobs run in forked children (a fresh interpreter here: pytest's own threads make
the module fall back to threads, as it must), their results and errors come back intact."""

from __future__ import annotations

import json
import subprocess
import sys
import threading

from topoctl.engine.apart import run_apart
from topoctl.errors import BrokerError, TopoctlError

SCRIPT = r"""
import json, os
from topoctl.engine.apart import ChildError, run_apart
from topoctl.errors import BrokerError, PlanError, TopoctlError

def broker_down():
    raise BrokerError("k", "127.0.0.1:1", "cannot connect")

def plan_error():
    raise PlanError("stream 'A' overlaps stream 'B'")

def bug():
    raise KeyError("x")

outcomes = run_apart([os.getpid, lambda: [1, {"a": (2, 3)}], broker_down, plan_error, bug, os.getpid])
print(json.dumps({
    "parent": os.getpid(),
    "pids": [outcomes[0], outcomes[5]],
    "value": outcomes[1],
    "errors": [[type(e).__name__, str(e), getattr(e, "exit_code", None)] for e in outcomes[2:5]],
}))
"""


def test_jobs_run_in_children_and_their_errors_keep_their_words() -> None:
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=True)
    out = json.loads(done.stdout)
    child, last = out["pids"]
    assert child != out["parent"]  # forked
    assert last == out["parent"]  # the last job runs in the parent, which would otherwise wait idle
    assert out["value"] == [1, {"a": [2, 3]}]
    assert out["errors"] == [
        ["TopoctlError", "broker 'k' (127.0.0.1:1): cannot connect", 1],
        ["TopoctlError", "stream 'A' overlaps stream 'B'", 1],
        ["ChildError", "KeyError: 'x'", None],
    ]
    assert done.stderr == ""


def test_with_another_thread_running_the_jobs_run_in_threads() -> None:
    import os

    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        outcomes = run_apart([os.getpid, os.getpid, lambda: (_ for _ in ()).throw(BrokerError("b", "x", "down"))])
    finally:
        stop.set()
        other.join()
    assert outcomes[:2] == [os.getpid(), os.getpid()]
    assert isinstance(outcomes[2], BrokerError)  # in a thread, the error object itself


def test_one_job_runs_in_place() -> None:
    assert run_apart([lambda: 7]) == [7]
    (error,) = run_apart([lambda: (_ for _ in ()).throw(TopoctlError("no"))])
    assert isinstance(error, TopoctlError) and str(error) == "no"
