"""topoctl against the local brokers at estate scale (issue 10): plans, applies and memory.

    python bench/bench_estate.py [--runs 5] [--only NAME,...] [--keep]

NAME is one of rabbitmq-4k, rabbitmq-10k, kafka, nats, estate (all four brokers, 10,000 objects,
with the peak memory of its plan) and apply (from scratch, each broker against its bulk floor;
apply-rabbitmq, apply-kafka, apply-nats or apply-sqs for one).

Every number is a median of --runs runs; a measured value and its floor run in turns, so load
from elsewhere on the machine hits both. Plans are `topoctl plan` as a new process (interpreter
start included); floors are what any tool must do at least, in-process, with the best client:

| row | floor | target |
|---|---|---|
| no-change plan, RabbitMQ 200 x / 2,000 q / 2,000 b | one `GET /api/definitions/{vhost}` | floor + 0.5 s |
| no-change plan, RabbitMQ 10,000 objects | one `GET /api/definitions/{vhost}` | floor + 1.0 s |
| no-change plan, Kafka 5,000 topics | `list_topics` + one `describe_configs` of every topic | floor + 1.0 s |
| no-change plan, NATS 2,500 streams + 2,500 consumers | every page of STREAM.LIST and CONSUMER.LIST | floor + 1.0 s |
| no-change plan, all four, 10,000 objects | the slowest raw read (SQS: list + attributes) | floor + 1.0 s |
| peak RSS of that plan | | 200 MB |
| apply from scratch, per broker | definitions import; CreateTopics; concurrent NATS / SQS creates | 1.2 x floor |

Objects are made with `topoctl apply` and removed at the end (vhosts `bench-*`, topics
`bench.*`, streams `BENCH_*`, queues `bench-*`) unless --keep is given.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import quote

import bench_kafka  # bench/bench_kafka.py
import boto3
import estate  # bench/estate.py
import httpx
import nats
import yaml
from botocore.config import Config
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic, ResourceType  # type: ignore[attr-defined]
from timing import _CLI, RUNS, Sample, cli, installed_like, interleaved, target  # bench/timing.py

from topoctl.manifest.loader import load_manifest

PEAK_MB = 200
WORKERS = 32


def seg(part: str) -> str:
    return quote(part, safe="")


# -- the brokers' own reads: the floors of a no-change plan ------------------------------------------


class Rabbit:
    def __init__(self) -> None:
        self.http = httpx.Client(base_url=estate.RABBITMQ_URL, auth=("guest", "guest"), timeout=300)

    def read(self, vhost: str) -> Callable[[], object]:
        return lambda: self.http.get(f"/api/definitions/{seg(vhost)}").raise_for_status()

    def delete(self, vhost: str) -> None:
        self.http.delete(f"/api/vhosts/{seg(vhost)}")

    def import_all(self, vhost: str, body: dict[str, Any]) -> None:
        """The bulk floor of an apply: the vhost, then every object in one definitions import."""
        self.http.put(f"/api/vhosts/{seg(vhost)}", json={}).raise_for_status()
        definitions = {
            "exchanges": [
                {
                    "name": n,
                    "type": s["type"],
                    "durable": True,
                    "auto_delete": False,
                    "internal": False,
                    "arguments": {},
                }
                for n, s in body["exchanges"].items()
            ],
            "queues": [
                {
                    "name": n,
                    "durable": True,
                    "auto_delete": False,
                    "arguments": {"x-queue-type": "classic", **s["arguments"]},
                }
                for n, s in body["queues"].items()
            ],
            "bindings": [{**b, "destination_type": "queue", "arguments": {}} for b in body["bindings"]],
        }
        self.http.post(f"/api/definitions/{seg(vhost)}", json=definitions).raise_for_status()


class Kafka:
    def __init__(self) -> None:
        self.admin = AdminClient({"bootstrap.servers": estate.KAFKA_BOOTSTRAP})

    def read(self) -> None:
        metadata = self.admin.list_topics(timeout=60)
        resources = [ConfigResource(ResourceType.TOPIC, name) for name in metadata.topics]
        for future in self.admin.describe_configs(resources, request_timeout=60).values():
            future.result()

    def names(self, prefix: str) -> list[str]:
        return [t for t in self.admin.list_topics(timeout=60).topics if t.startswith(prefix)]

    def delete(self, prefix: str) -> None:
        """Delete the topics named `prefix`... and wait until metadata no longer shows them: KRaft
        deletes asynchronously, and a create of the same names right after would be refused."""
        names = self.names(prefix)
        futures = [
            self.admin.delete_topics(names[i : i + 2000], operation_timeout=60) for i in range(0, len(names), 2000)
        ]
        for batch in futures:
            for future in batch.values():
                future.result()
        deadline = time.monotonic() + 120
        while self.names(prefix) and time.monotonic() < deadline:
            time.sleep(0.2)

    def create_all(self, topics: dict[str, Any]) -> None:
        """CreateTopics of every topic, in requests under KRaft's record cap (one request could not
        take them), all in flight at once, the short one first (as topoctl cuts them: the broker
        shows a request's topics only after the logs of the requests before it)."""
        new = [
            NewTopic(
                n, s["partitions"], s["replication_factor"], config={k: _kafka_value(v) for k, v in s["config"].items()}
            )
            for n, s in topics.items()
        ]
        per = 1000  # 1 + 1 partition + 3 configs = 5 records a topic: 5,000 a request
        first = len(new) % per or per
        starts = [0, *range(first, len(new), per)] if new else []
        ends = [*starts[1:], len(new)]
        batches = [self.admin.create_topics(new[a:b], operation_timeout=60) for a, b in zip(starts, ends, strict=True)]
        for batch in batches:
            for future in batch.values():
                future.result()


def _kafka_value(value: Any) -> str:
    units = {"d": 86_400_000, "MiB": 1024 * 1024}
    for suffix, factor in units.items():
        if isinstance(value, str) and value.endswith(suffix) and value[: -len(suffix)].isdigit():
            return str(int(value[: -len(suffix)]) * factor)
    return str(value)


class Nats:
    """Raw JetStream API requests on one connection, concurrently."""

    def read(self) -> None:
        asyncio.run(self._read())

    async def _paged(self, nc: Any, subject: str, key: str) -> list[Any]:
        async def page(offset: int) -> dict[str, Any]:
            msg = await nc.request(subject, json.dumps({"offset": offset}).encode(), timeout=60)
            return dict(json.loads(msg.data))

        first = await page(0)
        items = list(first.get(key) or [])
        limit = first.get("limit") or 256
        for more in await asyncio.gather(*(page(o) for o in range(limit, first.get("total", 0), limit))):
            items += more.get(key) or []
        return items

    async def _read(self) -> None:
        nc = await nats.connect(estate.NATS_URL)
        try:
            streams = await self._paged(nc, "$JS.API.STREAM.LIST", "streams")
            names = [s["config"]["name"] for s in streams if s["state"].get("consumer_count")]
            await asyncio.gather(*(self._paged(nc, f"$JS.API.CONSUMER.LIST.{n}", "consumers") for n in names))
        finally:
            await nc.close()

    def delete(self, prefix: str) -> None:
        async def main() -> None:
            nc = await nats.connect(estate.NATS_URL)
            try:
                streams = await self._paged(nc, "$JS.API.STREAM.LIST", "streams")
                names = [s["config"]["name"] for s in streams if s["config"]["name"].startswith(prefix)]
                await asyncio.gather(*(nc.request(f"$JS.API.STREAM.DELETE.{n}", b"", timeout=60) for n in names))
            finally:
                await nc.close()

        asyncio.run(main())

    def create_all(self, streams: dict[str, Any]) -> None:
        """The floor: every STREAM.CREATE at once, then every CONSUMER.CREATE at once."""

        def ns(text: str) -> int:
            return int(text[:-1]) * {"s": 10**9, "d": 86_400 * 10**9}[text[-1]]

        async def main() -> None:
            nc = await nats.connect(estate.NATS_URL)
            try:
                await asyncio.gather(
                    *(
                        nc.request(
                            f"$JS.API.STREAM.CREATE.{n}",
                            json.dumps(
                                {
                                    "name": n,
                                    "subjects": s["subjects"],
                                    "storage": s["storage"],
                                    "max_age": ns(s["max_age"]),
                                    "max_msgs": s["max_msgs"],
                                }
                            ).encode(),
                            timeout=60,
                        )
                        for n, s in streams.items()
                    )
                )
                await asyncio.gather(
                    *(
                        nc.request(
                            f"$JS.API.CONSUMER.CREATE.{n}.{c}",
                            json.dumps(
                                {
                                    "stream_name": n,
                                    "config": {
                                        "durable_name": c,
                                        "ack_policy": cs["ack_policy"],
                                        "ack_wait": ns(cs["ack_wait"]),
                                        "max_deliver": cs["max_deliver"],
                                    },
                                }
                            ).encode(),
                            timeout=60,
                        )
                        for n, s in streams.items()
                        for c, cs in s["consumers"].items()
                    )
                )
            finally:
                await nc.close()

        asyncio.run(main())


class Sqs:
    def __init__(self) -> None:
        config = Config(max_pool_connections=WORKERS, retries={"total_max_attempts": 3, "mode": "standard"})
        self.sqs = boto3.client(
            "sqs",
            endpoint_url=estate.AWS_ENDPOINT or None,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=config,
        )

    def urls(self, prefix: str) -> list[str]:
        """Every queue named `prefix`...: moto lists at most 1,000 a call (and ignores NextToken),
        so the listing goes by one more character of name where a call comes back full."""
        found: set[str] = set()
        pending = [prefix]
        while pending:
            p = pending.pop()
            page = self.sqs.list_queues(QueueNamePrefix=p, MaxResults=1000).get("QueueUrls", [])
            found.update(page)
            if len(page) >= 1000:
                pending += [p + c for c in "0123456789abcdefghijklmnopqrstuvwxyz-_"]
        return sorted(found)

    def read(self, prefix: str) -> Callable[[], object]:
        def run() -> None:
            with ThreadPoolExecutor(WORKERS) as pool:
                list(
                    pool.map(
                        lambda u: self.sqs.get_queue_attributes(QueueUrl=u, AttributeNames=["All"]), self.urls(prefix)
                    )
                )

        return run

    def delete(self, prefix: str) -> None:
        with ThreadPoolExecutor(WORKERS) as pool:
            list(pool.map(lambda u: self.sqs.delete_queue(QueueUrl=u), self.urls(prefix)))

    def create_all(self, queues: dict[str, Any]) -> None:
        def one(item: tuple[str, dict[str, str]]) -> None:
            name, spec = item
            attributes = {
                "VisibilityTimeout": spec["visibility_timeout"].rstrip("s"),
                "MessageRetentionPeriod": str(int(spec["message_retention_period"].rstrip("d")) * 86_400),
            }
            self.sqs.create_queue(QueueName=name, Attributes=attributes)

        with ThreadPoolExecutor(WORKERS) as pool:
            list(pool.map(one, queues.items()))


# -- helpers ------------------------------------------------------------------------------------------


def write(tmp: Path, name: str, broker: str, section: dict[str, Any]) -> Path:
    path = tmp / f"{name}.yaml"
    path.write_text(yaml.safe_dump({"version": 1, "brokers": {broker: section}}, sort_keys=False), encoding="utf-8")
    return path


def files(*paths: Path) -> list[str]:
    return [a for p in paths for a in ("-f", str(p))]


def apply(*paths: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", _CLI, "apply", *files(*paths), "--auto-approve", "--parallelism", "32"],
        capture_output=True,
        text=True,
        check=False,
        env=installed_like(),
    )
    if done.returncode != 0:
        raise SystemExit(f"apply failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")


def no_change(*paths: Path) -> Callable[[], object]:
    """`topoctl plan --detailed-exitcode` as a process, which must find nothing to do."""
    run = cli("plan", *files(*paths), "--detailed-exitcode")
    done = subprocess.run(
        [sys.executable, "-c", _CLI, "plan", *files(*paths), "--detailed-exitcode"],
        capture_output=True,
        text=True,
        env=installed_like(),
    )
    if done.returncode != 0:
        raise SystemExit(f"the plan after apply is not empty (exit {done.returncode}):\n{done.stdout[-3000:]}")
    return run


def plan_row(what: str, medians: dict[str, Sample], floor_name: str, allowance: float, rule: str) -> bool:
    plan, floor = medians["plan"], medians[floor_name]
    cpu = f"plan process {plan.cpu:.3f} s"
    return target(what, plan.wall, floor.wall, floor.wall + allowance, rule, cpu)


def peak_rss_mb(*args: str) -> float:
    """The peak resident memory of a process running `args`, read in a wrapper process of its own
    (RUSAGE_CHILDREN keeps the largest child ever, so this one must be fresh)."""
    code = (
        "import resource, subprocess, sys; subprocess.run(sys.argv[1:], capture_output=True); "
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, check=True, env=installed_like()
    )
    return int(out.stdout.strip()) / 1024  # ru_maxrss is in KiB on Linux


# -- the rows -------------------------------------------------------------------------------------


def rabbit_plan(tmp: Path, runs: int, objects: int, allowance: float, keep: bool) -> bool:
    rabbit = Rabbit()
    vhost = f"bench-estate-{objects}"
    section = estate.rabbitmq(objects)
    section["vhosts"] = {vhost: section["vhosts"][estate.VHOST]}
    if objects == 4_200:  # the issue's own mix: 200 exchanges, 2,000 queues, 2,000 bindings
        body = section["vhosts"][vhost]
        body["exchanges"] = {f"ex.{i}": {"type": "topic"} for i in range(200)}
        body["queues"] = {f"q.{i}": {"arguments": {"x-max-length": 10_000}} for i in range(2000)}
        body["bindings"] = [
            {"source": f"ex.{i % 200}", "destination": f"q.{i}", "routing_key": f"k.{i}.#"} for i in range(2000)
        ]
    path = write(tmp, f"rabbitmq-{objects}", "bench-rabbitmq", section)
    rabbit.delete(vhost)
    try:
        apply(path)
        medians = interleaved({"read": rabbit.read(vhost), "plan": no_change(path)}, runs)
        what = f"no-change plan, RabbitMQ {objects:,} objects"
        return plan_row(what, medians, "read", allowance, f"GET definitions + {allowance:g} s")
    finally:
        if not keep:
            rabbit.delete(vhost)


def kafka_plan(tmp: Path, runs: int, keep: bool) -> bool:
    kafka = Kafka()
    prefix = "bench.k5k."
    section = estate.kafka(5_000)
    section["topics"] = {n.replace(estate.KAFKA_PREFIX, prefix): s for n, s in section["topics"].items()}
    path = write(tmp, "kafka-5000", "bench-kafka", section)
    kafka.delete(prefix)
    try:
        apply(path)
        medians = interleaved({"read": kafka.read, "plan": no_change(path)}, runs)
        return plan_row(
            "no-change plan, Kafka 5,000 topics", medians, "read", 1.0, "list_topics + describe_configs + 1 s"
        )
    finally:
        if not keep:
            kafka.delete(prefix)


def nats_plan(tmp: Path, runs: int, keep: bool) -> bool:
    server = Nats()
    prefix = "BENCH_N5K_"
    section = estate.nats(5_000)  # 2,500 streams, one consumer each
    section["streams"] = {n.replace(estate.NATS_PREFIX, prefix): s for n, s in section["streams"].items()}
    for i, stream in enumerate(section["streams"].values()):
        stream["subjects"] = [f"bench.n5k.s{i}.>"]
    path = write(tmp, "nats-5000", "bench-nats", section)
    server.delete(prefix)
    try:
        apply(path)
        medians = interleaved({"read": server.read, "plan": no_change(path)}, runs)
        what = "no-change plan, NATS 2,500 streams + 2,500 consumers"
        return plan_row(what, medians, "read", 1.0, "paged lists + 1 s")
    finally:
        if not keep:
            server.delete(prefix)


def estate_plan(tmp: Path, runs: int, keep: bool) -> bool:
    rabbit, kafka, server, sqs = Rabbit(), Kafka(), Nats(), Sqs()

    def clean() -> None:
        rabbit.delete(estate.VHOST)
        kafka.delete(estate.KAFKA_PREFIX)
        server.delete(estate.NATS_PREFIX)
        sqs.delete(estate.SQS_PREFIX)

    paths = estate.write(10_000, tmp / "estate")
    objects = len(load_manifest([str(p) for p in paths]).resources)
    clean()
    try:
        apply(*paths)
        plan = no_change(*paths)
        medians = interleaved(
            {
                "rabbitmq": rabbit.read(estate.VHOST),
                "kafka": kafka.read,
                "nats": server.read,
                "sqs": sqs.read(estate.SQS_PREFIX),
                "plan": plan,
            },
            runs,
        )
        slowest = max(("rabbitmq", "kafka", "nats", "sqs"), key=lambda b: medians[b].wall)
        reads = ", ".join(f"{b} {medians[b].wall:.3f} s" for b in ("rabbitmq", "kafka", "nats", "sqs"))
        print(f"raw reads: {reads}")
        ok = plan_row(
            f"no-change plan, all four, {objects:,} objects", medians, slowest, 1.0, f"slowest read ({slowest}) + 1 s"
        )
        peaks = sorted(peak_rss_mb(sys.executable, "-c", _CLI, "plan", *files(*paths)) for _ in range(runs))
        peak = peaks[len(peaks) // 2]
        fits = peak <= PEAK_MB
        print(
            f"TARGET {'peak RSS of that plan (process)':<44} | {peak:8.1f} MB | limit {PEAK_MB} MB | "
            f"{'OK' if fits else 'MISSED'}",
            flush=True,
        )
        return ok and fits
    finally:
        if not keep:
            clean()


def apply_rows(tmp: Path, runs: int, which: set[str]) -> bool:
    # Every row clears what its last turn made before the turn, untimed: a delete is not part of
    # an apply from scratch (it was timed on both sides before, which flattered the ratios).
    """Each broker's apply from scratch (`topoctl apply` as a process: plan, apply, checks) against
    its bulk floor, in turns, everything deleted before each run."""
    ok = True
    rabbit, kafka, server, sqs = Rabbit(), Kafka(), Nats(), Sqs()

    if "apply-rabbitmq" in which:
        ok &= _apply_rabbitmq(tmp, runs, rabbit)
    if "apply-kafka" in which:
        ok &= _apply_kafka(tmp, runs, kafka)
    if "apply-nats" in which:
        ok &= _apply_nats(tmp, runs, server)
    if "apply-sqs" in which:
        ok &= _apply_sqs(tmp, runs, sqs)
    return ok


def _apply_rabbitmq(tmp: Path, runs: int, rabbit: Rabbit) -> bool:
    # RabbitMQ: the 4,200 objects; floor: one definitions import of them all.
    section = estate.rabbitmq(4_200)
    vhost = "bench-apply"
    section["vhosts"] = {vhost: section["vhosts"][estate.VHOST]}
    body = section["vhosts"][vhost]
    path = write(tmp, "apply-rabbitmq", "bench-rabbitmq", section)
    scratch = "bench-apply-floor"

    medians = interleaved(
        {"floor": lambda: rabbit.import_all(scratch, body), "apply": lambda: apply(path)},
        runs,
        setup={"floor": lambda: rabbit.delete(scratch), "apply": lambda: rabbit.delete(vhost)},
    )
    rabbit.delete(vhost)
    rabbit.delete(scratch)
    return _apply_row("apply from scratch, RabbitMQ 4,200 objects", medians, "one definitions import")


def _apply_kafka(tmp: Path, runs: int, kafka: Kafka) -> bool:
    # Kafka: the estate's share, 2,500 topics with configs; floor: CreateTopics of them all until
    # metadata shows them. CreateTopics answers once the controller has committed the records, with
    # any operation timeout; the broker shows a request's topics only after it made the logs of the
    # requests before it (seconds for 1,000 logs here), and an apply must wait for that, as the next
    # plan reads them. Each turn starts on an idle broker, untimed: a create right after the delete
    # of the last turn's topics shows only once their logs are gone.
    prefix = "bench.apply."
    section = estate.kafka(2_500)
    section["topics"] = {n.replace(estate.KAFKA_PREFIX, prefix): s for n, s in section["topics"].items()}
    path_k = write(tmp, "apply-kafka", "bench-kafka", section)
    floor_topics = {n.replace(prefix, "bench.floor."): s for n, s in section["topics"].items()}

    def cleared(what: str) -> Callable[[], None]:
        def run() -> None:
            kafka.delete(what)
            bench_kafka.deletes_done()
            bench_kafka.idle(kafka.admin)

        return run

    medians = interleaved(
        {"floor": lambda: bench_kafka.create_shown(kafka, floor_topics), "apply": lambda: apply(path_k)},
        runs,
        setup={"floor": cleared("bench.floor."), "apply": cleared(prefix)},
    )
    kafka.delete(prefix)
    kafka.delete("bench.floor.")
    return _apply_row("apply from scratch, Kafka 2,500 topics", medians, "CreateTopics until shown")


def _apply_nats(tmp: Path, runs: int, server: Nats) -> bool:
    # NATS: 2,500 streams + 2,500 consumers (fewer and the floor is shorter than a process start);
    # floor: all stream creates at once, then all consumers.
    section = estate.nats(5_000)
    section["streams"] = {n.replace(estate.NATS_PREFIX, "BENCH_APPLY_"): s for n, s in section["streams"].items()}
    path_n = write(tmp, "apply-nats", "bench-nats", section)
    # The floor's streams take other subjects: JetStream refuses two streams with overlapping ones.
    floor_streams = {
        n.replace("BENCH_APPLY_", "BENCH_FLOOR_"): {**s, "subjects": [f"bench.floor.s{i}.>"]}
        for i, (n, s) in enumerate(section["streams"].items())
    }

    medians = interleaved(
        {"floor": lambda: server.create_all(floor_streams), "apply": lambda: apply(path_n)},
        runs,
        setup={"floor": lambda: server.delete("BENCH_FLOOR_"), "apply": lambda: server.delete("BENCH_APPLY_")},
    )
    server.delete("BENCH_APPLY_")
    server.delete("BENCH_FLOOR_")
    return _apply_row("apply from scratch, NATS 2,500 streams + 2,500 consumers", medians, "concurrent creates")


def _apply_sqs(tmp: Path, runs: int, sqs: Sqs) -> bool:
    # SQS: 1,000 queues; floor: CreateQueue of each on 32 threads.
    section = estate.aws(1_000)
    section["sqs"]["queues"] = {
        n.replace(estate.SQS_PREFIX, "bench-apply-"): s for n, s in section["sqs"]["queues"].items()
    }
    path_s = write(tmp, "apply-sqs", "bench-aws", section)
    floor_queues = {n.replace("bench-apply-", "bench-floor-"): s for n, s in section["sqs"]["queues"].items()}

    medians = interleaved(
        {"floor": lambda: sqs.create_all(floor_queues), "apply": lambda: apply(path_s)},
        runs,
        setup={"floor": lambda: sqs.delete("bench-floor-"), "apply": lambda: sqs.delete("bench-apply-")},
    )
    sqs.delete("bench-apply-")
    sqs.delete("bench-floor-")
    return _apply_row("apply from scratch, SQS 1,000 queues", medians, "concurrent CreateQueue")


def _apply_row(what: str, medians: dict[str, Sample], floor: str) -> bool:
    # Both include deleting what the previous run made: the same work on both sides.
    return target(what, medians["apply"].wall, medians["floor"].wall, 1.2 * medians["floor"].wall, f"1.2 x {floor}")


APPLY_ROWS = ("apply-rabbitmq", "apply-kafka", "apply-nats", "apply-sqs")
ROWS = ("rabbitmq-4k", "rabbitmq-10k", "kafka", "nats", "estate", "apply", *APPLY_ROWS)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=RUNS)
    parser.add_argument("--only", default=",".join(ROWS), help=f"comma-separated, of: {', '.join(ROWS)}")
    parser.add_argument("--keep", action="store_true", help="leave what the plan rows made on the brokers")
    opts = parser.parse_args(argv)
    only = set(opts.only.split(","))
    ok = True
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        if "rabbitmq-4k" in only:
            ok &= rabbit_plan(tmp, opts.runs, 4_200, 0.5, opts.keep)
        if "rabbitmq-10k" in only:
            ok &= rabbit_plan(tmp, opts.runs, 10_000, 1.0, opts.keep)
        if "kafka" in only:
            ok &= kafka_plan(tmp, opts.runs, opts.keep)
        if "nats" in only:
            ok &= nats_plan(tmp, opts.runs, opts.keep)
        if "estate" in only:
            ok &= estate_plan(tmp, opts.runs, opts.keep)
        applies = set(APPLY_ROWS) if "apply" in only else only & set(APPLY_ROWS)
        if applies:
            ok &= apply_rows(tmp, opts.runs, applies)
    return 0 if ok else 1


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
