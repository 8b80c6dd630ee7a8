"""The estate the issue-10 benchmarks use: one manifest of N objects over the four brokers.

Each broker gets a quarter of the objects, in a file of its own (as teams split an estate):

* RabbitMQ, vhost `bench-estate`: 10 % exchanges, 50 % queues, 40 % bindings;
* Kafka: topics `bench.estate.*` with one partition and three configs;
* NATS: streams `BENCH_ESTATE_*`, half of them, each with one durable consumer;
* SQS: queues `bench-estate-*` with two attributes.

    python bench/estate.py 10000 DIR     writes DIR/rabbitmq.yaml, kafka.yaml, nats.yaml, aws.yaml
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import yaml

RABBITMQ_URL = os.environ.get("RABBITMQ_URL", "http://127.0.0.1:15672")
KAFKA_BOOTSTRAP = os.environ.get("KAFKA_BOOTSTRAP", "127.0.0.1:9092")
NATS_URL = os.environ.get("NATS_URL", "nats://127.0.0.1:4222")
AWS_ENDPOINT = os.environ.get("AWS_ENDPOINT_URL", "http://127.0.0.1:5000")

VHOST = "bench-estate"
KAFKA_PREFIX = "bench.estate."
NATS_PREFIX = "BENCH_ESTATE_"
SQS_PREFIX = "bench-estate-"
BROKERS = ("rabbitmq", "kafka", "nats", "aws")


def rabbitmq(count: int) -> dict[str, Any]:
    exchanges, queues = max(1, count // 10), max(1, count // 2)
    bindings = count - exchanges - queues
    return {
        "type": "rabbitmq",
        "connection": {"url": RABBITMQ_URL, "username": "guest", "password": "guest"},
        "vhosts": {
            VHOST: {
                "exchanges": {f"ex.{i}": {"type": "topic"} for i in range(exchanges)},
                "queues": {
                    f"q.{i}": {"arguments": {"x-max-length": 10_000, "x-message-ttl": 86_400_000}}
                    for i in range(queues)
                },
                "bindings": [
                    {"source": f"ex.{i % exchanges}", "destination": f"q.{i % queues}", "routing_key": f"k.{i}.#"}
                    for i in range(bindings)
                ],
            }
        },
    }


def kafka(count: int) -> dict[str, Any]:
    topics = {
        f"{KAFKA_PREFIX}t{i:05d}": {
            "partitions": 1,
            "replication_factor": 1,
            "config": {"retention.ms": f"{1 + i % 7}d", "cleanup.policy": "delete", "segment.bytes": "64MiB"},
        }
        for i in range(count)
    }
    return {"type": "kafka", "connection": {"bootstrap_servers": KAFKA_BOOTSTRAP}, "topics": topics}


def nats(count: int) -> dict[str, Any]:
    streams = {
        f"{NATS_PREFIX}S{i:05d}": {
            "subjects": [f"bench.estate.s{i}.>"],
            "storage": "memory",
            "max_age": f"{1 + i % 7}d",
            "max_msgs": 10_000,
            "consumers": {"worker": {"ack_policy": "explicit", "ack_wait": "30s", "max_deliver": 5}},
        }
        for i in range(max(1, count // 2))
    }
    return {"type": "nats", "connection": {"servers": [NATS_URL]}, "streams": streams}


def aws(count: int) -> dict[str, Any]:
    queues = {
        f"{SQS_PREFIX}q{i:05d}": {"visibility_timeout": f"{30 + i % 5}s", "message_retention_period": f"{1 + i % 14}d"}
        for i in range(count)
    }
    connection = {
        "region": "us-east-1",
        "endpoint_url": AWS_ENDPOINT,
        "access_key_id": "testing",
        "secret_access_key": "testing",
    }
    return {"type": "aws", "connection": connection, "sqs": {"queues": queues}}


MAKERS = {"rabbitmq": rabbitmq, "kafka": kafka, "nats": nats, "aws": aws}


def documents(objects: int, brokers: tuple[str, ...] = BROKERS) -> dict[str, dict[str, Any]]:
    """broker type -> its manifest document, `objects` shared evenly between `brokers`."""
    share = objects // len(brokers)
    return {b: {"version": 1, "brokers": {f"bench-{b}": MAKERS[b](share)}} for b in brokers}


def write(objects: int, directory: Path, brokers: tuple[str, ...] = BROKERS) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for broker, doc in documents(objects, brokers).items():
        path = directory / f"{broker}.yaml"
        path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
        paths.append(path)
    return paths


if __name__ == "__main__":
    for written in write(int(sys.argv[1]), Path(sys.argv[2])):
        print(written)
