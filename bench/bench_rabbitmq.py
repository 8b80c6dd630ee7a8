"""Plan and apply a 4,200-object RabbitMQ vhost and compare with the broker's own bulk paths.

    python bench/bench_rabbitmq.py [--url http://127.0.0.1:15672] [--exchanges 200]
                                   [--queues 2000] [--bindings 2000] [--keep]

In one run, against the same broker:

* apply from scratch (topoctl plan + apply of the whole vhost), versus one bulk
  `POST /api/definitions/{vhost}` of the same objects into a scratch vhost;
* a plan with no changes, versus one raw `GET /api/definitions`.

Targets (issue #2): no-change plan <= raw read + 1.5 s; apply <= 3 x bulk import. Exit status 1
when a target is missed. The vhosts `topoctl-bench` and `topoctl-bench-scratch` are deleted
before (and, unless --keep, after) the run.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import yaml
from timing import show, topoctl  # bench/timing.py
from timing import timed as timed_runs

from topoctl.engine.applier import apply_plan
from topoctl.engine.planner import make_plan
from topoctl.manifest.loader import load_manifest

VHOST = "topoctl-bench"
SCRATCH = "topoctl-bench-scratch"


def topology(exchanges: int, queues: int, bindings: int) -> dict[str, Any]:
    return {
        "exchanges": {f"ex.{i}": {"type": "topic"} for i in range(exchanges)},
        "queues": {f"q.{i}": {"type": "classic", "arguments": {"x-max-length": 10_000}} for i in range(queues)},
        "bindings": [
            {"source": f"ex.{i % exchanges}", "destination": f"q.{i % queues}", "routing_key": f"key.{i}.#"}
            for i in range(bindings)
        ],
    }


def definitions(vhost_body: dict[str, Any]) -> dict[str, Any]:
    """The same objects in the definitions-import format."""
    return {
        "exchanges": [
            {"name": n, "type": s["type"], "durable": True, "auto_delete": False, "internal": False, "arguments": {}}
            for n, s in vhost_body["exchanges"].items()
        ],
        "queues": [
            {
                "name": n,
                "durable": True,
                "auto_delete": False,
                "arguments": {"x-queue-type": "classic", **s["arguments"]},
            }
            for n, s in vhost_body["queues"].items()
        ],
        "bindings": [
            {
                "source": b["source"],
                "destination": b["destination"],
                "destination_type": "queue",
                "routing_key": b["routing_key"],
                "arguments": {},
            }
            for b in vhost_body["bindings"]
        ],
    }


def timed(fn: Any) -> tuple[float, Any]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="http://127.0.0.1:15672")
    parser.add_argument("--username", default="guest")
    parser.add_argument("--password", default="guest")
    parser.add_argument("--exchanges", type=int, default=200)
    parser.add_argument("--queues", type=int, default=2000)
    parser.add_argument("--bindings", type=int, default=2000)
    parser.add_argument("--keep", action="store_true", help="leave the bench vhosts on the broker")
    args = parser.parse_args(argv)

    client = httpx.Client(base_url=args.url, auth=(args.username, args.password), timeout=300)
    for vhost in (VHOST, SCRATCH):
        client.delete(f"/api/vhosts/{quote(vhost, safe='')}")

    body = topology(args.exchanges, args.queues, args.bindings)
    objects = args.exchanges + args.queues + args.bindings
    doc = {
        "version": 1,
        "brokers": {
            "bench": {
                "type": "rabbitmq",
                "connection": {"url": args.url, "username": args.username, "password": args.password},
                "vhosts": {VHOST: body},
            }
        },
    }
    try:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "bench.yaml"
            path.write_text(yaml.safe_dump(doc), encoding="utf-8")
            manifest = load_manifest([str(path)])

            t_first_plan, plan = timed(lambda: make_plan(manifest))
            assert plan.summary.create == objects + 1, plan.summary  # + the vhost
            t_apply, _ = timed(lambda: apply_plan(plan, manifest, parallelism=8))
            t_noop_plan, again = timed(lambda: make_plan(manifest))
            if not again.empty:
                print(f"FAIL: the plan after apply is not empty: {again.summary}", file=sys.stderr)
                return 1
            # What a user waits for: the manifest loaded too, and `topoctl plan` in a new process.
            with_load = timed_runs(lambda: make_plan(load_manifest([str(path)])), 3)
            as_cli = timed_runs(lambda: topoctl("plan", "-f", str(path), "--detailed-exitcode").check_returncode(), 3)

        t_raw_read, response = timed(lambda: client.get("/api/definitions"))
        response.raise_for_status()
        client.put(f"/api/vhosts/{SCRATCH}", json={})
        t_import, response = timed(lambda: client.post(f"/api/definitions/{SCRATCH}", json=definitions(body)))
        response.raise_for_status()
    finally:
        if not args.keep:
            for vhost in (VHOST, SCRATCH):
                client.delete(f"/api/vhosts/{quote(vhost, safe='')}")

    plan_ok = t_noop_plan <= t_raw_read + 1.5
    apply_ok = t_first_plan + t_apply <= 3 * t_import
    print(f"objects: {args.exchanges} exchanges, {args.queues} queues, {args.bindings} bindings ({objects})")
    print(f"raw GET /api/definitions           {t_raw_read:8.3f} s")
    print(
        f"no-change plan                     {t_noop_plan:8.3f} s   target <= raw + 1.5 s: "
        f"{'ok' if plan_ok else 'MISSED'}"
    )
    show("no-change plan incl. manifest load (3 runs)", with_load, width=44)
    show("no-change `topoctl plan` process (3 runs)", as_cli, width=44)
    print(f"bulk POST /api/definitions/{{vh}}    {t_import:8.3f} s")
    print(f"plan from scratch                  {t_first_plan:8.3f} s")
    print(f"apply from scratch                 {t_apply:8.3f} s")
    print(
        f"plan + apply from scratch          {t_first_plan + t_apply:8.3f} s   target <= 3 x import "
        f"({3 * t_import:.3f} s): {'ok' if apply_ok else 'MISSED'}"
    )
    return 0 if plan_ok and apply_ok else 1


if __name__ == "__main__":
    sys.exit(main())
