"""Plan time at scale on the local Kafka: 1,000 topics with configs; and apply from scratch.

    python bench/bench_kafka.py [--topics 1000] [--runs 5] [--keep]
    python bench/bench_kafka.py --apply [--topics 1000[,4000...]] [--runs 5]

Creates the topics through `topoctl apply`, then times, in the same run:
  * the raw batched read: one `list_topics` plus one `describe_configs` for every topic;
  * a no-change `topoctl plan` in-process (load manifest, read, diff): the target is to stay
    within 1 s of the raw read;
  * the same plan as a user runs it (`topoctl plan` in a new process, interpreter start included).
Topics are deleted at the end unless --keep is given (then re-runs skip the creation).

With --apply: `topoctl apply` from scratch of the estate's topics (bench/estate.py: one partition,
three configs) against the bulk floor of bench_estate.py's apply-kafka row (CreateTopics under the
record cap, all in flight), in turns, each after deleting what its previous run made. Besides the
row as bench_estate.py counts it (the deletes included on both sides), it shows the apply process
alone against the CreateTopics alone, and the process's CPU: measured at several sizes, the gap
splits into a fixed part and a part per topic. Topics `bench.ka.*` and `bench.kf.*`.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml
from confluent_kafka.admin import AdminClient, ConfigResource, ResourceType  # type: ignore[attr-defined]
from timing import _CLI, show, timed, topoctl, verdict  # bench/timing.py

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


APPLY_PREFIX = "bench.ka."
FLOOR_PREFIX = "bench.kf."


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def apply_size(tmp: Path, count: int, runs: int) -> dict[str, float]:
    """Medians of `runs` turns of the floor and of `topoctl apply`, `count` topics each."""
    import estate  # bench/estate.py
    from bench_estate import Kafka  # the floor exactly as the apply-kafka row measures it

    kafka = Kafka()
    section = estate.kafka(count)
    section["topics"] = {n.replace(estate.KAFKA_PREFIX, APPLY_PREFIX): s for n, s in section["topics"].items()}
    floor_topics = {n.replace(APPLY_PREFIX, FLOOR_PREFIX): s for n, s in section["topics"].items()}
    path = tmp / f"apply-{count}.yaml"
    path.write_text(yaml.safe_dump({"version": 1, "brokers": {"bench-kafka": section}}, sort_keys=False))
    command = [sys.executable, "-c", _CLI, "apply", "-f", str(path), "--auto-approve", "--parallelism", "32"]
    samples: dict[str, list[float]] = {k: [] for k in ("floor", "create", "apply", "process", "cpu")}
    for _ in range(runs):
        start = time.perf_counter()
        kafka.delete(FLOOR_PREFIX)
        created = time.perf_counter()
        kafka.create_all(floor_topics)
        end = time.perf_counter()
        samples["floor"].append(end - start)
        samples["create"].append(end - created)

        start = time.perf_counter()
        kafka.delete(APPLY_PREFIX)
        created, cpu = time.perf_counter(), _children_cpu()
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        end = time.perf_counter()
        if done.returncode != 0 or f"{count} added" not in done.stdout + done.stderr:
            raise SystemExit(f"apply failed (exit {done.returncode}):\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
        samples["apply"].append(end - start)
        samples["process"].append(end - created)
        samples["cpu"].append(_children_cpu() - cpu)
    kafka.delete(APPLY_PREFIX)
    kafka.delete(FLOOR_PREFIX)
    return {k: statistics.median(v) for k, v in samples.items()}


def apply_main(sizes: list[int], runs: int) -> int:
    medians: dict[int, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for count in sizes:
            m = medians[count] = apply_size(Path(tmp), count, runs)
            ratio, gap = m["apply"] / m["floor"], m["process"] - m["create"]
            print(
                f"{count:>6} topics | floor (delete + CreateTopics) {m['floor']:6.3f} s | apply (delete + process) "
                f"{m['apply']:6.3f} s | ratio {ratio:5.2f} x | CreateTopics alone {m['create']:6.3f} s"
                f" | process alone {m['process']:6.3f} s (cpu {m['cpu']:6.3f} s) | gap {gap:6.3f} s",
                flush=True,
            )
    if len(sizes) > 1:
        small, big = min(sizes), max(sizes)
        gap = {n: medians[n]["process"] - medians[n]["create"] for n in (small, big)}
        per = (gap[big] - gap[small]) / (big - small)
        cpu_per = (medians[big]["cpu"] - medians[small]["cpu"]) / (big - small)
        print(
            f"gap = {gap[small] - per * small:.3f} s fixed + {per * 1e6:.0f} us a topic; "
            f"process cpu = {medians[small]['cpu'] - cpu_per * small:.3f} s fixed + {cpu_per * 1e6:.0f} us a topic"
        )
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--topics", default="1000", help="a number, or (with --apply) comma-separated sizes")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="leave the topics on the broker")
    parser.add_argument("--apply", action="store_true", help="time apply from scratch against CreateTopics")
    opts = parser.parse_args()
    if opts.apply:
        return apply_main([int(n) for n in opts.topics.split(",")], opts.runs)
    opts.topics = int(opts.topics)

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
