"""NATS JetStream at estate scale: a no-change plan and an apply from scratch, each against its floor.

    python bench/bench_nats.py [--runs 5] [--only plan,apply] [--streams 2500] [--baseline DIR]

The same rows, floors and manifests as `bench_estate.py --only nats,apply-nats`, on their own, so
the NATS provider can be measured (and profiled) without the other brokers:

* plan: `topoctl plan --detailed-exitcode` as a new process on 2,500 streams + 2,500 consumers
  (`BENCH_N5K_*`, applied first if missing and left on the server: other benches use them), in
  turns with the floor, every page of STREAM.LIST and of each stream's CONSUMER.LIST on one
  connection (bench_estate.Nats.read). Target: floor + 1 s.
* apply: `topoctl apply --parallelism 32` of 2,500 streams + 2,500 consumers (`BENCH_NA_*`) from
  scratch, in turns with the floor, every STREAM.CREATE at once and then every CONSUMER.CREATE
  (`BENCH_NF_*`, bench_estate.Nats.create_all). Target: 1.2 x floor. Both are deleted at the end.

Each row prints the medians of wall-clock and CPU seconds (the CPU of the topoctl process).
With --baseline DIR (a directory holding another version's `topoctl` package, e.g. made by
`git archive HEAD~3 topoctl | tar -x -C DIR`), that version runs too, in the same turns, and its
row is printed after ours: on a shared machine, only numbers of one run compare.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import estate  # bench/estate.py
from bench_estate import Nats, files, write  # bench/bench_estate.py
from timing import _CLI, RUNS, interleaved, target  # bench/timing.py

PLAN_PREFIX = "BENCH_N5K_"  # bench_estate.nats_plan's streams
APPLY_PREFIX = "BENCH_NA_"
FLOOR_PREFIX = "BENCH_NF_"


def section(prefix: str, streams: int, subjects: str) -> dict[str, Any]:
    """bench/estate.py's NATS broker: `streams` streams with one consumer each, renamed."""
    out = estate.nats(2 * streams)
    out["streams"] = {n.replace(estate.NATS_PREFIX, prefix): s for n, s in out["streams"].items()}
    for i, stream in enumerate(out["streams"].values()):
        stream["subjects"] = [f"{subjects}.s{i}.>"]
    return out


def topoctl(*args: str, package: Path | None = None, codes: tuple[int, ...] = (0,)) -> Callable[[], None]:
    """`topoctl ARGS` as a new process, from `package` (a directory holding `topoctl/`) if given."""
    env = dict(os.environ, PYTHONPATH=str(package)) if package is not None else None

    def run() -> None:
        done = subprocess.run([sys.executable, "-c", _CLI, *args], capture_output=True, text=True, env=env)
        if done.returncode not in codes:
            raise SystemExit(f"topoctl {' '.join(args)} exited {done.returncode}:\n{done.stderr[-3000:]}")

    return run


def plan_row(tmp: Path, runs: int, streams: int, baseline: Path | None) -> bool:
    path = write(tmp, "nats-5000", "bench-nats", section(PLAN_PREFIX, streams, "bench.n5k"))
    # A no-op when bench_estate (or an earlier run) left them there.
    topoctl("apply", *files(path), "--auto-approve", "--parallelism", "32")()
    server = Nats()
    command = ("plan", *files(path), "--detailed-exitcode")
    runs_of: dict[str, Callable[[], object]] = {"read": server.read, "plan": topoctl(*command)}
    if baseline is not None:
        runs_of["baseline"] = topoctl(*command, package=baseline)
    medians = interleaved(runs_of, runs)
    floor = medians["read"]
    what = f"no-change plan, NATS {streams:,} streams + {streams:,} consumers"
    ok = True
    for name in ("plan", "baseline") if baseline is not None else ("plan",):
        plan = medians[name]
        label = what if name == "plan" else f"{what} (baseline)"
        cpu = f"plan process {plan.cpu:.3f} s"
        ok &= target(label, plan.wall, floor.wall, floor.wall + 1.0, "paged lists + 1 s", cpu)
    return ok


def apply_row(tmp: Path, runs: int, streams: int, baseline: Path | None) -> bool:
    body = section(APPLY_PREFIX, streams, "bench.na")
    path = write(tmp, "apply-nats", "bench-nats", body)
    floor_streams = {
        n.replace(APPLY_PREFIX, FLOOR_PREFIX): {**s, "subjects": [f"bench.nf.s{i}.>"]}
        for i, (n, s) in enumerate(body["streams"].items())
    }
    server = Nats()

    def applying(package: Path | None) -> Callable[[], None]:
        run = topoctl("apply", *files(path), "--auto-approve", "--parallelism", "32", package=package)

        def fresh() -> None:
            server.delete(APPLY_PREFIX)
            run()

        return fresh

    def floor() -> None:
        server.delete(FLOOR_PREFIX)
        server.create_all(floor_streams)

    runs_of: dict[str, Callable[[], object]] = {"floor": floor, "apply": applying(None)}
    if baseline is not None:
        runs_of["baseline"] = applying(baseline)
    try:
        medians = interleaved(runs_of, runs)
    finally:
        server.delete(APPLY_PREFIX)
        server.delete(FLOOR_PREFIX)
    base = medians["floor"]
    what = f"apply from scratch, NATS {streams:,} streams + {streams:,} consumers"
    ok = True
    for name in ("apply", "baseline") if baseline is not None else ("apply",):
        done = medians[name]
        cpu = f"apply process {done.cpu:.3f} s ({done.wall / base.wall:.2f} x floor)"
        label = what if name == "apply" else f"{what} (baseline)"
        ok &= target(label, done.wall, base.wall, 1.2 * base.wall, "1.2 x concurrent creates", cpu)
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=RUNS)
    parser.add_argument("--only", default="plan,apply", help="plan, apply or both (comma-separated)")
    parser.add_argument("--streams", type=int, default=2500)
    parser.add_argument("--baseline", type=Path, help="a directory holding another version's topoctl package")
    opts = parser.parse_args()
    rows = set(opts.only.split(","))
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        if "plan" in rows:
            ok &= plan_row(Path(tmp), opts.runs, opts.streams, opts.baseline)
        if "apply" in rows:
            ok &= apply_row(Path(tmp), opts.runs, opts.streams, opts.baseline)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
