"""NATS JetStream at estate scale: a no-change plan and an apply from scratch, each against its floor.

    python bench/bench_nats.py [--runs 5] [--only plan,apply] [--streams 2500]

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
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any

import estate  # bench/estate.py
from bench_estate import Nats, apply, no_change, write  # bench/bench_estate.py
from timing import RUNS, interleaved, target  # bench/timing.py

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


def plan_row(tmp: Path, runs: int, streams: int) -> bool:
    path = write(tmp, "nats-5000", "bench-nats", section(PLAN_PREFIX, streams, "bench.n5k"))
    apply(path)  # a no-op when bench_estate (or an earlier run) left them there
    server = Nats()
    medians = interleaved({"read": server.read, "plan": no_change(path)}, runs)
    plan, floor = medians["plan"], medians["read"]
    what = f"no-change plan, NATS {streams:,} streams + {streams:,} consumers"
    return target(what, plan.wall, floor.wall, floor.wall + 1.0, "paged lists + 1 s", f"plan process {plan.cpu:.3f} s")


def apply_row(tmp: Path, runs: int, streams: int) -> bool:
    body = section(APPLY_PREFIX, streams, "bench.na")
    path = write(tmp, "apply-nats", "bench-nats", body)
    floor_streams = {
        n.replace(APPLY_PREFIX, FLOOR_PREFIX): {**s, "subjects": [f"bench.nf.s{i}.>"]}
        for i, (n, s) in enumerate(body["streams"].items())
    }
    server = Nats()

    def topoctl_apply() -> None:
        server.delete(APPLY_PREFIX)
        apply(path)

    def floor() -> None:
        server.delete(FLOOR_PREFIX)
        server.create_all(floor_streams)

    try:
        medians = interleaved({"floor": floor, "apply": topoctl_apply}, runs)
    finally:
        server.delete(APPLY_PREFIX)
        server.delete(FLOOR_PREFIX)
    done, base = medians["apply"], medians["floor"]
    what = f"apply from scratch, NATS {streams:,} streams + {streams:,} consumers"
    cpu = f"apply process {done.cpu:.3f} s ({done.wall / base.wall:.2f} x floor)"
    return target(what, done.wall, base.wall, 1.2 * base.wall, "1.2 x concurrent creates", cpu)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=RUNS)
    parser.add_argument("--only", default="plan,apply", help="plan, apply or both (comma-separated)")
    parser.add_argument("--streams", type=int, default=2500)
    opts = parser.parse_args()
    rows = set(opts.only.split(","))
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        if "plan" in rows:
            ok &= plan_row(Path(tmp), opts.runs, opts.streams)
        if "apply" in rows:
            ok &= apply_row(Path(tmp), opts.runs, opts.streams)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
