"""The cost of a message-keeping replace (`on_replace: move_messages`) of a queue with 10,000 messages,
against a plain replace (delete and create: the messages are lost) of the same queue.

    python bench/bench_rabbitmq_move.py [--url http://127.0.0.1:15672] [--messages 10000] [--runs 3]

For classic and quorum queues: fill the queue (persistent 1 KiB messages, through pika with
publisher confirms), change an argument, time `topoctl apply` of the change (engine in-process:
plan, then apply), check every message is still there, and compare with the destructive replace.
The vhost `topoctl-bench-move` is deleted before and after.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pika
import yaml

from topoctl.engine.applier import apply_plan
from topoctl.engine.planner import make_plan
from topoctl.manifest.loader import load_manifest

VHOST = "topoctl-bench-move"


def manifest(url: str, queue_type: str, length: int, move: bool) -> dict[str, Any]:
    queue: dict[str, Any] = {"type": queue_type, "arguments": {"x-max-length": length}}
    if move:
        queue["on_replace"] = "move_messages"
    return {
        "version": 1,
        "brokers": {
            "bench": {
                "type": "rabbitmq",
                "connection": {"url": url, "username": "guest", "password": "guest"},
                "vhosts": {
                    VHOST: {
                        "exchanges": {"in": {"type": "direct"}},
                        "queues": {"jobs": queue},
                        "bindings": [{"source": "in", "destination": "jobs", "routing_key": "job"}],
                    }
                },
            }
        },
    }


def apply(url: str, queue_type: str, length: int, move: bool) -> float:
    """Seconds of plan + apply of the manifest."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "m.yaml"
        path.write_text(yaml.safe_dump(manifest(url, queue_type, length, move)), encoding="utf-8")
        loaded = load_manifest([str(path)], env={})
        start = time.perf_counter()
        apply_plan(make_plan(loaded), loaded, allow_destructive=True)
        return time.perf_counter() - start


def fill(count: int) -> None:
    params = pika.ConnectionParameters("127.0.0.1", 5672, VHOST, pika.PlainCredentials("guest", "guest"))
    with pika.BlockingConnection(params) as connection:
        channel = connection.channel()
        channel.confirm_delivery()
        body = b"x" * 1024
        for i in range(count):
            channel.basic_publish("in", "job", body, pika.BasicProperties(message_id=str(i), delivery_mode=2))


def count() -> int:
    params = pika.ConnectionParameters("127.0.0.1", 5672, VHOST, pika.PlainCredentials("guest", "guest"))
    with pika.BlockingConnection(params) as connection:
        return int(connection.channel().queue_declare("jobs", passive=True).method.message_count)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:15672")
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    http = httpx.Client(base_url=args.url, auth=("guest", "guest"), timeout=60)
    vhost = quote(VHOST, safe="")
    try:
        for queue_type in ("classic", "quorum"):
            http.delete(f"/api/vhosts/{vhost}")
            length = 1_000_000
            apply(args.url, queue_type, length, move=True)
            moves = []
            for _ in range(args.runs):
                fill(args.messages - count())
                length += 1
                moves.append(apply(args.url, queue_type, length, move=True))
                kept = count()
                assert kept == args.messages, f"{kept} of {args.messages} messages after the move"
            plain = []
            for _ in range(args.runs):
                fill(args.messages - count())
                length += 1
                plain.append(apply(args.url, queue_type, length, move=False))
            best_move, best_plain = min(moves), min(plain)
            print(
                f"{queue_type:8} {args.messages:,} messages: move_messages replace {best_move:6.2f} s"
                f" (runs: {', '.join(f'{t:.2f}' for t in moves)}; {args.messages / best_move:,.0f} msg/s both ways),"
                f" destructive replace {best_plain:5.2f} s (messages lost); all {args.messages:,} kept every run"
            )
    finally:
        http.delete(f"/api/vhosts/{vhost}")


if __name__ == "__main__":
    main()
