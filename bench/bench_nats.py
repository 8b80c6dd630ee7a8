"""Plan time at scale on the local NATS JetStream: 1,000 streams and 1,000 consumers.

    python bench/bench_nats.py [--streams 1000] [--runs 5] [--keep]

Creates the streams (one durable consumer each) through `topoctl apply`, then times, in the same
run:
  * the raw paged reads on one connection: every page of `$JS.API.STREAM.LIST` (256 a page) and
    one paged `$JS.API.CONSUMER.LIST.<stream>` per stream, pages in flight concurrently;
  * a no-change `topoctl plan` in-process (load manifest, read, diff): the target is to stay
    within 1 s of the raw reads;
  * the same plan as a user runs it (`topoctl plan` in a new process, interpreter start included).
Streams are deleted at the end unless --keep is given.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import nats
import yaml
from timing import show, timed, topoctl, verdict  # bench/timing.py

from topoctl.engine.planner import make_plan
from topoctl.manifest.loader import load_manifest

NATS_URL = os.environ.get("NATS_URL", "nats://127.0.0.1:4222")
PREFIX = "BENCH_"


def manifest(count: int) -> dict[str, object]:
    streams = {
        f"{PREFIX}S{i:04d}": {
            "subjects": [f"bench.s{i}.>"],
            "max_age": f"{1 + i % 7}d",
            "max_msgs": 100_000,
            "storage": "file",
            "metadata": {"team": f"t{i % 10}"},
            "consumers": {"worker": {"ack_policy": "explicit", "ack_wait": "30s", "max_deliver": 5}},
        }
        for i in range(count)
    }
    connection = {"servers": [NATS_URL]}
    return {"version": 1, "brokers": {"bench": {"type": "nats", "connection": connection, "streams": streams}}}


async def _paged(nc: Any, subject: str, key: str) -> list[Any]:
    async def page(offset: int) -> dict[str, Any]:
        msg = await nc.request(subject, json.dumps({"offset": offset}).encode(), timeout=30)
        return dict(json.loads(msg.data))

    first = await page(0)
    items = list(first.get(key) or [])
    limit = first.get("limit") or 256
    for more in await asyncio.gather(*(page(o) for o in range(limit, first.get("total", 0), limit))):
        items += more.get(key) or []
    return items


def raw_read() -> tuple[int, int]:
    """Streams and consumers listed, the way a hand-written reader would do it at best."""

    async def main() -> tuple[int, int]:
        nc = await nats.connect(NATS_URL)
        try:
            streams = await _paged(nc, "$JS.API.STREAM.LIST", "streams")
            names = [s["config"]["name"] for s in streams if s["state"].get("consumer_count")]
            lists = await asyncio.gather(*(_paged(nc, f"$JS.API.CONSUMER.LIST.{n}", "consumers") for n in names))
            return len(streams), sum(len(c) for c in lists)
        finally:
            await nc.close()

    return asyncio.run(main())


def delete_bench_streams() -> int:
    async def main() -> int:
        nc = await nats.connect(NATS_URL)
        try:
            streams = await _paged(nc, "$JS.API.STREAM.LIST", "streams")
            names = [s["config"]["name"] for s in streams if s["config"]["name"].startswith(PREFIX)]
            await asyncio.gather(*(nc.request(f"$JS.API.STREAM.DELETE.{n}", b"", timeout=30) for n in names))
            return len(names)
        finally:
            await nc.close()

    return asyncio.run(main())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--streams", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="leave the streams on the server")
    opts = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.yaml"
        path.write_text(yaml.safe_dump(manifest(opts.streams), sort_keys=False), encoding="utf-8")

        start = time.perf_counter()
        applied = topoctl("apply", "-f", str(path), "--auto-approve", "--parallelism", "32")
        apply_s = time.perf_counter() - start
        if applied.returncode != 0:
            print(applied.stdout[-2000:], applied.stderr[-2000:], file=sys.stderr)
            return 1
        last = applied.stderr.strip().splitlines()[-1] if applied.stderr.strip() else ""
        print(f"apply: {apply_s:.2f} s  ({last})")

        plan = make_plan(load_manifest([str(path)]))
        if not plan.empty:
            print(f"error: the plan after apply is not empty ({plan.summary.to_json()})", file=sys.stderr)
            return 1

        live_streams, live_consumers = raw_read()
        raw = timed(raw_read, opts.runs)
        in_process = timed(lambda: make_plan(load_manifest([str(path)])), opts.runs)
        cli = timed(lambda: topoctl("plan", "-f", str(path), "--detailed-exitcode").check_returncode(), opts.runs)

        print(
            f"{opts.streams} managed streams + {opts.streams} consumers; on the server: {live_streams} streams, "
            f"{live_consumers} consumers; {opts.runs} runs each"
        )
        raw_m = show("raw paged reads (STREAM.LIST + CONSUMER.LIST)", raw)
        plan_m = show("no-change plan, in-process", in_process)
        cli_m = show("no-change plan, `topoctl plan` process", cli)
        verdict(raw_m, plan_m, cli_m, 1.0, "the raw reads")

    if not opts.keep:
        print(f"deleted {delete_bench_streams()} bench streams")
    return 0


if __name__ == "__main__":
    sys.exit(main())
