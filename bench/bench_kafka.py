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
record cap, all in flight), against that floor plus the wait until metadata shows the topics
(`create_shown`: CreateTopics answers before the broker shows them, whatever its operation
timeout), and against a dry run (validate_only, as topoctl's plan sends) before those, in turns,
each after deleting what its previous turn made. Each line gives the total as bench_estate.py
counted it (that delete included), the part after the delete alone, and the CPU of the topoctl
process; at several sizes the gap splits into a fixed part and a part per topic. The topoctl
processes run with compiled bytecode, as bench_estate.py runs them (`installed_like`).
--baseline DIR times the topoctl of another checkout (DIR holds its `topoctl` package) as well;
--idle starts each turn on an idle broker (see `idle`), the delete untimed, and leaves one series'
topics on the broker at a time. Topics `bench.ka.*`, `bench.kf.*`, `bench.kv.*`, `bench.kd.*`,
`bench.kb.*` and `bench.kq.*`.
"""

from __future__ import annotations

import argparse
import compileall
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from confluent_kafka import KafkaException, TopicCollection
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic, ResourceType  # type: ignore[attr-defined]
from timing import _CLI, installed_like, show, timed, topoctl, verdict  # bench/timing.py

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
SHOWN_PREFIX = "bench.kv."
CHECKED_PREFIX = "bench.kd."
BASELINE_PREFIX = "bench.kb."
REPO = Path(__file__).resolve().parent.parent


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


@dataclass
class Series:
    """One thing timed in turns: delete the topics `prefix`... its previous turn made, then `run`
    (which returns its CPU seconds when it is a process)."""

    name: str
    prefix: str
    run: Callable[[], float]
    total: list[float] = field(default_factory=list)  # delete + run, as bench_estate.py counts
    inner: list[float] = field(default_factory=list)  # run alone
    cpu: list[float] = field(default_factory=list)


def idle(admin: AdminClient) -> None:
    """Wait until the broker publishes a new topic at once. KRaft publishes one metadata change at a
    time, after the broker is done with the previous one: a create of 1,000 topics shows only once
    the logs of the 1,000 deleted just before are removed (seconds here), and 1,000 new logs take
    the broker longer still after the create shows. A create and a delete of one topic."""
    name = f"bench.kq.{time.time_ns()}"
    for future in admin.create_topics([NewTopic(name, 1, 1)], operation_timeout=60).values():
        future.result()
    while name not in admin.list_topics(timeout=60).topics:
        time.sleep(0.05)
    for future in admin.delete_topics([name], operation_timeout=60).values():
        future.result()


# The development broker's data (dev/brokers), when this machine runs it: see `deletes_done`.
DEV_KAFKA_DATA = Path(__file__).resolve().parent.parent / ".brokers" / "kafka" / "data"


def deletes_done(limit_s: float = 120.0) -> None:
    """Wait until the development broker has removed the files of the topics deleted (Kafka does
    it `log.segment.delete.delay.ms` later, 60 s by default). Turns that delete and create 2,500
    topics each pile up tens of thousands of deleted logs within that minute, and ran the broker
    out of file descriptors (ulimit 20,000 here); a turn that waits also starts on a broker that
    is not removing the last turn's files. Nothing to wait for on another broker."""
    if not DEV_KAFKA_DATA.is_dir():
        return
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline and any(p.name.endswith("-delete") for p in DEV_KAFKA_DATA.iterdir()):
        time.sleep(1)


def create_shown(kafka: Any, topics: dict[str, Any]) -> None:
    """The bulk floor of an apply: bench_estate's `Kafka.create_all` (CreateTopics under the record
    cap, all in flight), then the wait until metadata shows every topic, as the best client waits:
    the last topic alone, then one look at all. CreateTopics answers once the controller committed
    the records, before the broker shows them (KRaft publishes a request's topics only after the logs
    of the requests before it exist), and an apply must wait for that: the next plan reads them."""
    kafka.create_all(topics)
    last = TopicCollection([list(topics)[-1]])
    while not _described(kafka.admin.describe_topics(last, request_timeout=60)):
        time.sleep(0.05)
    while not set(topics) <= set(kafka.admin.list_topics(timeout=60).topics):
        time.sleep(0.05)


def dry_run(admin: AdminClient, topics: dict[str, Any]) -> None:
    """CreateTopics with validate_only of every topic, in the requests of bench_estate's floor."""
    from bench_estate import _kafka_value

    new = [
        NewTopic(n, s["partitions"], s["replication_factor"], config={k: _kafka_value(v) for k, v in c.items()})
        for n, s in topics.items()
        for c in [s["config"]]
    ]
    per = 1000
    batches = [
        admin.create_topics(new[i : i + per], validate_only=True, operation_timeout=60) for i in range(0, len(new), per)
    ]
    for batch in batches:
        for future in batch.values():
            future.result()


def _described(futures: dict[str, Any]) -> bool:
    try:
        for future in futures.values():
            future.result()
    except KafkaException:
        return False
    return True


def apply_size(tmp: Path, count: int, runs: int, baseline: Path | None, quiet: bool) -> list[Series]:
    """`runs` turns of each series, `count` topics each: the floor of bench_estate.py's apply-kafka
    row, that floor plus the wait until metadata shows every topic (what the next plan needs, and
    `topoctl apply` waits for), `topoctl apply` of this checkout and of `baseline`. With `quiet`,
    each turn starts on an idle broker (the wait is not timed): otherwise a turn's delete waits for
    the broker to finish the logs of the previous turn's create, and an apply for those of its delete."""
    import estate  # bench/estate.py
    from bench_estate import Kafka  # the floor exactly as the apply-kafka row measures it

    kafka = Kafka()
    specs = estate.kafka(count)["topics"]

    def topics(prefix: str) -> dict[str, Any]:
        return {n.replace(estate.KAFKA_PREFIX, prefix): s for n, s in specs.items()}

    def floor(prefix: str, shown: bool, checked: bool = False) -> Callable[[], float]:
        def run() -> float:
            wanted = topics(prefix)
            if checked:  # as topoctl's plan does: the broker refuses what it would refuse, nothing made
                dry_run(kafka.admin, wanted)
            if shown:
                create_shown(kafka, wanted)
            else:
                kafka.create_all(wanted)
            return 0.0

        return run

    def apply(prefix: str, root: Path) -> Callable[[], float]:
        section = {**estate.kafka(0), "topics": topics(prefix)}
        path = tmp / f"apply-{prefix}{count}.yaml"
        path.write_text(yaml.safe_dump({"version": 1, "brokers": {"bench-kafka": section}}, sort_keys=False))
        command = [sys.executable, "-c", _CLI, "apply", "-f", str(path), "--auto-approve", "--parallelism", "32"]

        # As bench_estate.py runs it: bytecode compiled as an install leaves it (see installed_like).
        env = installed_like()
        if root != REPO:
            compileall.compile_dir(str(root / "topoctl"), quiet=1)

        def run() -> float:
            cpu = _children_cpu()
            done = subprocess.run(command, capture_output=True, text=True, check=False, cwd=root, env=env)
            if done.returncode != 0 or f"{count} added" not in done.stdout + done.stderr:
                raise SystemExit(
                    f"apply failed (exit {done.returncode}):\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
                )
            return _children_cpu() - cpu

        return run

    series = [
        Series("floor: CreateTopics", FLOOR_PREFIX, floor(FLOOR_PREFIX, shown=False)),
        Series("floor + until metadata shows them", SHOWN_PREFIX, floor(SHOWN_PREFIX, shown=True)),
        Series("dry run + floor + until shown", CHECKED_PREFIX, floor(CHECKED_PREFIX, shown=True, checked=True)),
        Series("topoctl apply", APPLY_PREFIX, apply(APPLY_PREFIX, REPO)),
    ]
    if baseline is not None:
        series.append(Series(f"topoctl apply of {baseline}", BASELINE_PREFIX, apply(BASELINE_PREFIX, baseline)))
    for _ in range(runs):
        for one in series:
            start = time.perf_counter()
            kafka.delete(one.prefix)
            if quiet:  # untimed: once the delete's logs are gone the broker shows a create at once
                idle(kafka.admin)
                start = time.perf_counter()
            ran = time.perf_counter()
            one.cpu.append(one.run())
            end = time.perf_counter()
            one.total.append(end - start)
            one.inner.append(end - ran)
            if quiet:  # untimed, and one series' topics at a time: 4 x 5,000 exhaust the broker's open files
                kafka.delete(one.prefix)
    for one in series:
        kafka.delete(one.prefix)
    idle(kafka.admin)
    return series


def apply_main(sizes: list[int], runs: int, baseline: Path | None, quiet: bool) -> int:
    gaps: dict[int, tuple[float, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for count in sizes:
            series = apply_size(Path(tmp), count, runs, baseline, quiet)
            floor = statistics.median(series[0].total)
            print(f"{count} topics, medians of {runs} (total: the delete of the previous turn's topics included)")
            for one in series:
                total, inner, cpu = (statistics.median(v) for v in (one.total, one.inner, one.cpu))
                print(
                    f"  {one.name:<44} total {total:7.3f} s ({total / floor:4.2f} x floor) | "
                    f"alone {inner:7.3f} s" + (f" | cpu {cpu:6.3f} s" if cpu else ""),
                    flush=True,
                )
            gaps[count] = (
                statistics.median(series[3].inner) - statistics.median(series[0].inner),
                statistics.median(series[3].cpu),
            )
    if len(sizes) > 1:
        small, big = min(sizes), max(sizes)
        per = (gaps[big][0] - gaps[small][0]) / (big - small)
        cpu_per = (gaps[big][1] - gaps[small][1]) / (big - small)
        print(
            f"apply alone - CreateTopics alone = {gaps[small][0] - per * small:.3f} s fixed + {per * 1e6:.0f} us a "
            f"topic; apply cpu = {gaps[small][1] - cpu_per * small:.3f} s fixed + {cpu_per * 1e6:.0f} us a topic"
        )
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--topics", default="1000", help="a number, or (with --apply) comma-separated sizes")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="leave the topics on the broker")
    parser.add_argument("--apply", action="store_true", help="time apply from scratch against CreateTopics")
    parser.add_argument("--baseline", type=Path, help="with --apply: also time the topoctl of this checkout")
    parser.add_argument("--idle", action="store_true", help="with --apply: start each turn on an idle broker")
    opts = parser.parse_args()
    if opts.apply:
        return apply_main([int(n) for n in opts.topics.split(",")], opts.runs, opts.baseline, opts.idle)
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
