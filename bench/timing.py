"""What every benchmark here shares: repeated timings, their report, topoctl in a new process."""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from collections.abc import Callable

# `topoctl` as a user runs it (a new interpreter), without depending on the console script's path.
_CLI = "import sys; from topoctl.cli import main; sys.argv[0] = 'topoctl'; sys.exit(main())"


def timed(fn: Callable[[], object], runs: int) -> list[float]:
    """Wall-clock seconds of `runs` calls of `fn`."""
    out = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def show(name: str, times: list[float], width: int = 52) -> float:
    """Print the median and minimum of `times`; return the median."""
    median = statistics.median(times)
    print(f"{name:<{width}} median {median * 1000:8.1f} ms   min {min(times) * 1000:8.1f} ms")
    return median


def topoctl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", _CLI, *args], capture_output=True, text=True, check=False)


def verdict(raw: float, in_process: float, cli: float, target: float, what: str) -> bool:
    """Report a no-change plan against the raw read it cannot avoid; True when within `target` s."""
    print(f"plan - raw read: {(in_process - raw) * 1000:.1f} ms in-process, {(cli - raw) * 1000:.1f} ms as a CLI")
    ok = in_process - raw <= target
    print(f"target (plan within {target:g} s of {what}): {'OK' if ok else 'OVER TARGET'}")
    return ok
