"""Plan time at scale on the local Kafka: 1,000 topics with configs.

    python bench/bench_kafka.py [--topics 1000] [--runs 5] [--keep]

Creates the topics through `topoctl apply`, then times, in the same run:
  * the raw batched read: one `list_topics` plus one `describe_configs` for every topic;
  * a no-change `topoctl plan` in-process (load manifest, read, diff): the target is to stay
    within 1 s of the raw read;
  * the same plan as a user runs it (`topoctl plan` in a new process, interpreter start included).
Topics are deleted at the end unless --keep is given (then re-runs skip the creation).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import yaml
from confluent_kafka.admin import AdminClient, ConfigResource, ResourceType  # type: ignore[attr-defined]
from timing import show, timed, topoctl, verdict  # bench/timing.py

from topoctl.engine.planner import make_plan
from topoctl.manifest.loader import load_manifest

BOOTSTRAP = os.environ.get("KAFKA_BOOTSTRAP", "127.0.0.1:9092")
PREFIX = "bench.kafka."


def manifest(count: int) -> dict[str, object]:
    topics = {
        f"{PREFIX}t{i:04d}": {
            "partitions": 1 + i % 3,
            "replication_factor": 1,
            "config": {"retention.ms": f"{1 + i % 7}d", "cleanup.policy": "delete", "segment.bytes": "64MiB"},
        }
        for i in range(count)
    }
    connection = {"bootstrap_servers": BOOTSTRAP}
    return {"version": 1, "brokers": {"bench": {"type": "kafka", "connection": connection, "topics": topics}}}


def raw_read(admin: AdminClient) -> int:
    metadata = admin.list_topics(timeout=30)
    resources = [ConfigResource(ResourceType.TOPIC, name) for name in metadata.topics]
    configs = {r.name: f.result() for r, f in admin.describe_configs(resources, request_timeout=30).items()}
    return len(configs)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--topics", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="leave the topics on the broker")
    opts = parser.parse_args()

    admin = AdminClient({"bootstrap.servers": BOOTSTRAP})
    admin.list_topics(timeout=10)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.yaml"
        path.write_text(yaml.safe_dump(manifest(opts.topics), sort_keys=False), encoding="utf-8")

        start = time.perf_counter()
        applied = topoctl("apply", "-f", str(path), "--auto-approve")
        apply_s = time.perf_counter() - start
        if applied.returncode != 0:
            print(applied.stdout, applied.stderr, file=sys.stderr)
            return 1
        last = applied.stderr.strip().splitlines()[-1] if applied.stderr.strip() else ""
        print(f"apply: {apply_s:.2f} s  ({last})")

        live = len(admin.list_topics(timeout=10).topics)
        loaded = load_manifest([str(path)])
        plan = make_plan(loaded)
        if not plan.empty:
            print(f"error: the plan after apply is not empty ({plan.summary.to_json()})", file=sys.stderr)
            return 1

        raw = timed(lambda: raw_read(admin), opts.runs)
        in_process = timed(lambda: make_plan(load_manifest([str(path)])), opts.runs)
        cli = timed(lambda: topoctl("plan", "-f", str(path), "--detailed-exitcode").check_returncode(), opts.runs)

        print(f"{opts.topics} managed topics, {live} topics on the broker, {opts.runs} runs each")
        raw_m = show("raw read (list_topics + describe_configs)", raw)
        plan_m = show("no-change plan, in-process", in_process)
        cli_m = show("no-change plan, `topoctl plan` process", cli)
        verdict(raw_m, plan_m, cli_m, 1.0, "the raw read")

    if not opts.keep:
        names = [t for t in admin.list_topics(timeout=10).topics if t.startswith(PREFIX)]
        for future in admin.delete_topics(names, operation_timeout=60).values():
            future.result()
        print(f"deleted {len(names)} bench topics")
    return 0


if __name__ == "__main__":
    sys.exit(main())
