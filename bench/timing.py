"""What every benchmark here shares: repeated timings, their report, topoctl in a new process."""

from __future__ import annotations

import functools
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

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
    return subprocess.run(
        [sys.executable, "-c", _CLI, *args], capture_output=True, text=True, check=False, env=installed_like()
    )


def verdict(raw: float, in_process: float, cli: float, target: float, what: str) -> bool:
    """Report a no-change plan against the raw read it cannot avoid; True when within `target` s."""
    print(f"plan - raw read: {(in_process - raw) * 1000:.1f} ms in-process, {(cli - raw) * 1000:.1f} ms as a CLI")
    ok = in_process - raw <= target
    print(f"target (plan within {target:g} s of {what}): {'OK' if ok else 'OVER TARGET'}")
    return ok


# -- issue 10: one line per target, medians of interleaved runs -------------------------------------

RUNS = 5


@dataclass(frozen=True)
class Sample:
    """Medians of one measured thing: wall-clock seconds, and CPU seconds (this process's threads
    and its children's). On a shared, loaded machine the wall time waits for cores; the CPU time
    is what the work itself costs."""

    wall: float
    cpu: float
    cpu_min: float = 0.0  # the least disturbed run: what a growth table compares


def interleaved(
    fns: dict[str, Callable[[], object]],
    runs: int = RUNS,
    setup: dict[str, Callable[[], object]] | None = None,
) -> dict[str, Sample]:
    """The medians of each function, run in turns (a, b, a, b, ...): a load that comes and goes
    on a shared machine then hits the measured value and its floor alike. `setup[name]`, if any,
    runs before each turn of `name`, untimed (clearing what the last turn made)."""
    walls: dict[str, list[float]] = {name: [] for name in fns}
    cpus: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(runs):
        for name, fn in fns.items():
            if setup and name in setup:
                setup[name]()
            before = _cpu()
            start = time.perf_counter()
            fn()
            walls[name].append(time.perf_counter() - start)
            cpus[name].append(_cpu() - before)
    return {
        name: Sample(statistics.median(walls[name]), statistics.median(cpus[name]), min(cpus[name])) for name in fns
    }


def _cpu() -> float:
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


@functools.cache
def installed_like() -> dict[str, str]:
    """The environment of a measured process, with topoctl's bytecode compiled as `pip install`
    leaves it. A checkout installed in editable mode under PYTHONDONTWRITEBYTECODE=1 (as on the
    development machine) would otherwise compile every module of topoctl in every measured
    process: 0.15-0.2 s that no installed copy pays."""
    import compileall
    import os
    from pathlib import Path

    import topoctl

    compileall.compile_dir(str(Path(topoctl.__file__).parent), quiet=1)
    return {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def process(*args: str) -> Callable[[], object]:
    """A function that runs `args` as a new process (stdout and stderr discarded), failing loudly."""
    env = installed_like()

    def run() -> None:
        done = subprocess.run(args, capture_output=True, text=True, check=False, env=env)
        if done.returncode not in (0, 2):  # 2: a plan with changes under --detailed-exitcode
            raise RuntimeError(f"{' '.join(args)} exited {done.returncode}:\n{done.stderr[-2000:]}")

    return run


def cli(*args: str) -> Callable[[], object]:
    """`topoctl ARGS` as a user runs it: a new interpreter, the console script's own code."""
    return process(sys.executable, "-c", _CLI, *args)


def target(what: str, measured: float, floor: float, limit: float, rule: str, cpu: str = "") -> bool:
    """Print the one line of a target and return whether it is met:
    `TARGET <what> | <measured> | floor <floor> | <rule> (<= <limit>) | OK [| cpu ...]`."""
    ok = measured <= limit
    extra = f" | cpu {cpu}" if cpu else ""
    print(
        f"TARGET {what:<44} | {measured:8.3f} s | floor {floor:8.3f} s | {rule} (<= {limit:.3f} s) | "
        f"{'OK' if ok else 'MISSED'}{extra}",
        flush=True,
    )
    return ok
