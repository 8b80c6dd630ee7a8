"""Plan and apply time at scale on the local Redis: 2,000 streams with 2 consumer groups each.

    python bench/bench_redis.py [--streams 2000] [--runs 5] [--url redis://127.0.0.1:6379] [--keep]

Times, in the same run:
  * apply from nothing, in-process (load manifest, plan, apply), against a pipelined floor: the
    same streams and groups made by hand in one redis-py pipeline (`XGROUP CREATE ... MKSTREAM` for
    the first group, `XGROUP CREATE` for the second), i.e. the fewest commands and round trips;
  * the raw read a no-change plan cannot avoid: `SCAN MATCH bench:* TYPE stream` plus one pipeline
    of `XINFO STREAM` + `XINFO GROUPS` per key;
  * a no-change `topoctl plan` in-process (load manifest, read, diff): the target is to stay
    within 1 s of the raw read; loading the manifest alone is timed too, as the part of both the
    plan and the apply that is not Redis I/O;
  * the same plan and apply as a user runs them (`topoctl` in a new process, interpreter start
    included).
Keys under `bench:` (and `benchfloor:`) are deleted at the end unless --keep is given.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import redis
import yaml
from timing import show, timed, topoctl, verdict  # bench/timing.py

from topoctl.engine.applier import apply_plan
from topoctl.engine.planner import make_plan
from topoctl.manifest.loader import load_manifest

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379")
PREFIX = "bench:"
FLOOR = "benchfloor:"
GROUPS = ("billing", "audit")


def manifest(count: int, url: str) -> dict[str, Any]:
    streams = {
        f"{PREFIX}s{i:05d}": {"maxlen": 100_000, "groups": {g: {"start": "0" if g == "audit" else "$"} for g in GROUPS}}
        for i in range(count)
    }
    return {"version": 1, "brokers": {"bench": {"type": "redis", "connection": {"url": url}, "streams": streams}}}


def delete(r: redis.Redis, prefix: str) -> int:
    keys = list(r.scan_iter(match=f"{prefix}*", count=5000))
    pipe = r.pipeline(transaction=False)
    for start in range(0, len(keys), 1000):
        pipe.unlink(*keys[start : start + 1000])
    pipe.execute()
    return len(keys)


def raw_read(r: redis.Redis) -> tuple[int, int]:
    """Streams and groups read the way a hand-written reader would at best."""
    keys = list(r.scan_iter(match=f"{PREFIX}*", count=1000, _type="stream"))
    pipe = r.pipeline(transaction=False)
    for key in keys:
        pipe.xinfo_stream(key)
        pipe.xinfo_groups(key)
    results = pipe.execute()
    return len(keys), sum(len(g) for g in results[1::2])


def floor_apply(r: redis.Redis, count: int) -> None:
    """The same topology made by hand: one pipeline, two commands per stream."""
    pipe = r.pipeline(transaction=False)
    for i in range(count):
        key = f"{FLOOR}s{i:05d}"
        pipe.xgroup_create(key, GROUPS[0], "$", mkstream=True)
        pipe.xgroup_create(key, GROUPS[1], "0")
    pipe.execute()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--streams", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--url", default=REDIS_URL)
    parser.add_argument("--keep", action="store_true", help="leave the streams on the server")
    opts = parser.parse_args()
    r = redis.Redis.from_url(opts.url, decode_responses=True)
    delete(r, PREFIX)
    delete(r, FLOOR)

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.yaml"
        path.write_text(yaml.safe_dump(manifest(opts.streams, opts.url), sort_keys=False), encoding="utf-8")

        def apply_in_process() -> None:
            loaded = load_manifest([str(path)])
            apply_plan(make_plan(loaded), loaded, parallelism=8)

        def fresh(fn: Any, prefix: str) -> Any:
            def run() -> None:
                delete(r, prefix)
                start = time.perf_counter()
                fn()
                times.append(time.perf_counter() - start)

            times: list[float] = []
            return run, times

        run_apply, apply_times = fresh(apply_in_process, PREFIX)
        run_floor, floor_times = fresh(lambda: floor_apply(r, opts.streams), FLOOR)
        for _ in range(opts.runs):
            run_floor()
            run_apply()

        delete(r, PREFIX)
        start = time.perf_counter()
        applied = topoctl("apply", "-f", str(path), "--auto-approve")
        cli_apply = time.perf_counter() - start
        if applied.returncode != 0:
            print(applied.stdout[-2000:], applied.stderr[-2000:], file=sys.stderr)
            return 1

        plan = make_plan(load_manifest([str(path)]))
        if not plan.empty:
            print(f"error: the plan after apply is not empty ({plan.summary.to_json()})", file=sys.stderr)
            return 1

        live_streams, live_groups = raw_read(r)
        load = timed(lambda: load_manifest([str(path)]), opts.runs)
        raw = timed(lambda: raw_read(r), opts.runs)
        in_process = timed(lambda: make_plan(load_manifest([str(path)])), opts.runs)
        cli = timed(lambda: topoctl("plan", "-f", str(path), "--detailed-exitcode").check_returncode(), opts.runs)

        print(
            f"{opts.streams} streams x {len(GROUPS)} groups ({opts.streams * (1 + len(GROUPS))} resources); "
            f"read back: {live_streams} streams, {live_groups} groups; {opts.runs} runs each"
        )
        floor_m = show("apply floor (one redis-py pipeline)", floor_times)
        apply_m = show("apply from nothing, in-process (load+plan+apply)", apply_times)
        print(f"{'apply from nothing, `topoctl apply` process':<52} once   {cli_apply * 1000:8.1f} ms")
        print(f"apply - floor: {(apply_m - floor_m) * 1000:.1f} ms in-process")
        show("of which: loading the manifest (YAML + schema)", load)
        raw_m = show("raw read (SCAN TYPE stream + XINFO pipeline)", raw)
        plan_m = show("no-change plan, in-process", in_process)
        cli_m = show("no-change plan, `topoctl plan` process", cli)
        verdict(raw_m, plan_m, cli_m, 1.0, "the raw read")

    if not opts.keep:
        print(f"deleted {delete(r, PREFIX) + delete(r, FLOOR)} bench keys")
    return 0


if __name__ == "__main__":
    sys.exit(main())
