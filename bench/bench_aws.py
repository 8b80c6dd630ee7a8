"""Plan time at scale on SQS (moto by default): 1,000 queues.

    python bench/bench_aws.py [--queues 1000] [--runs 3] [--keep]

Creates the queues through `topoctl apply` (timed), then times, in the same run:
  * the raw read: the ListQueues pages plus one GetQueueAttributes(All) per queue, run on 32
    threads with boto3 (what any tool has to do at least);
  * the driver's read alone (all queues, topics and subscriptions of the account and region);
  * a no-change plan in-process (load manifest, read, diff).
Queues are deleted at the end unless --keep is given (then re-runs skip the creation).
Set AWS_ENDPOINT_URL to point elsewhere than moto on 127.0.0.1:5000. (moto lists at most 1000
queues per prefix: keep --queues at 1000 there.)
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
import yaml
from botocore.config import Config
from timing import show, timed  # bench/timing.py

from topoctl.engine.applier import apply_plan
from topoctl.engine.planner import make_plan
from topoctl.manifest.loader import load_manifest
from topoctl.providers import provider

ENDPOINT = os.environ.get("AWS_ENDPOINT_URL", "http://127.0.0.1:5000")
REGION = os.environ.get("AWS_REGION", "us-east-1")
KEYS = {"access_key_id": "testing", "secret_access_key": "testing"}
PREFIX = "bench-aws-"
WORKERS = 32


def manifest(count: int) -> dict[str, Any]:
    queues = {
        f"{PREFIX}q{i:04d}": {
            "visibility_timeout": f"{30 + i % 5}s",
            "message_retention_period": f"{1 + i % 14}d",
            **({"dead_letter": {"queue": f"{PREFIX}dlq", "max_receive_count": 5}} if i % 10 == 0 else {}),
        }
        for i in range(count - 1)
    }
    queues[f"{PREFIX}dlq"] = {"message_retention_period": "14d"}
    connection = {"region": REGION, "endpoint_url": ENDPOINT, **KEYS}
    return {"version": 1, "brokers": {"bench": {"type": "aws", "connection": connection, "sqs": {"queues": queues}}}}


def sqs_client() -> Any:
    config = Config(max_pool_connections=WORKERS, retries={"total_max_attempts": 3, "mode": "standard"})
    return boto3.client(
        "sqs",
        endpoint_url=ENDPOINT or None,
        region_name=REGION,
        aws_access_key_id=KEYS["access_key_id"],
        aws_secret_access_key=KEYS["secret_access_key"],
        config=config,
    )


def raw_read(sqs: Any, prefix: str) -> int:
    """Raw list (paged, MaxResults=1000) + GetQueueAttributes(All) for each queue, on 32 threads."""
    urls: list[str] = []
    kwargs: dict[str, Any] = {"MaxResults": 1000, "QueueNamePrefix": prefix}
    while True:
        page = sqs.list_queues(**kwargs)
        urls += page.get("QueueUrls", [])
        if not page.get("NextToken"):
            break
        kwargs["NextToken"] = page["NextToken"]
    with ThreadPoolExecutor(WORKERS) as pool:
        attrs = list(pool.map(lambda u: sqs.get_queue_attributes(QueueUrl=u, AttributeNames=["All"]), urls))
    return len(attrs)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--queues", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="leave the queues in place")
    opts = parser.parse_args()

    sqs = sqs_client()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.yaml"
        path.write_text(yaml.safe_dump(manifest(opts.queues), sort_keys=False), encoding="utf-8")
        loaded = load_manifest([str(path)])

        start = time.perf_counter()
        plan = make_plan(loaded)
        result = apply_plan(plan, loaded, parallelism=WORKERS)
        print(f"apply: {time.perf_counter() - start:.2f} s  ({result.line})")

        plan = make_plan(load_manifest([str(path)]))
        if not plan.empty:
            print(f"error: the plan after apply is not empty ({plan.summary.to_json()})", file=sys.stderr)
            return 1

        spec = loaded.brokers["bench"]
        driver = provider("aws").driver("bench", spec.connection)
        live = len(driver.read([], []))
        raw = timed(lambda: raw_read(sqs, PREFIX), opts.runs)
        listing = timed(driver._list_queue_urls, opts.runs)  # type: ignore[attr-defined]
        read = timed(lambda: driver.read(spec.resources, spec.compiled.prune), opts.runs)
        in_process = timed(lambda: make_plan(load_manifest([str(path)])), opts.runs)
        driver.close()

        print(f"{opts.queues} managed queues, {live} objects readable at {ENDPOINT or 'AWS'}, {opts.runs} runs each")
        raw_m = show(f"raw read (ListQueues + {WORKERS}x GetQueueAttributes)", raw)
        show("driver queue listing alone (see below)", listing)
        show("driver read (queues, topics, subscriptions)", read)
        plan_m = show("no-change plan, in-process", in_process)
        print(f"plan - raw read: {(plan_m - raw_m) * 1000:.1f} ms")
        if live > 1000:
            print(
                "note: moto lists at most 1000 queues and ignores NextToken, so with more than 1000 queues"
                " the driver lists by name prefix (one ListQueues per prefix character and level); AWS pages."
            )

    if not opts.keep:
        urls = _urls(sqs, PREFIX)
        with ThreadPoolExecutor(WORKERS) as pool:
            list(pool.map(lambda u: sqs.delete_queue(QueueUrl=u), urls))
        print(f"deleted {len(urls)} bench queues")
    return 0


def _urls(sqs: Any, prefix: str) -> list[str]:
    return list(sqs.list_queues(QueueNamePrefix=prefix, MaxResults=1000).get("QueueUrls", []))


if __name__ == "__main__":
    sys.exit(main())
