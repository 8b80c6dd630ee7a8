"""The documentation as tests: every block of README.md and docs/*.md is run, validated, checked or
marked illustrative (see blocks.py for what each kind of block must do).

Each document gets a `Session` (blocks.py) in its Sybil namespace: a scratch directory where
titled manifests are saved and commands run (with `examples/` and `schemas/` linked in), and a
token for unique names. Hidden set-up blocks (`<!-- invisible-code-block: python -->`) can use:

- `unique("shop", "orders.v1")`: from then on those names are made unique for this run in the
  manifests and commands (`shop` -> `shop-dt1a2b3c`) and put back in what the commands print;
- `run("topoctl apply -f shop.yaml --auto-approve")`: run a command there, returns (status, output);
- `workdir`: the scratch directory.

Whatever carries the token on a broker when the document is done is deleted (vhosts, topics,
streams, queues and topics on moto), so the docs can be run while other tests use the brokers.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sybil import Document

from tests.docs.blocks import ROOT, Session, env_for

SessionFor = Callable[[Document], Session]


@pytest.fixture(scope="module")
def session_for(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SessionFor]:
    sessions: dict[str, Session] = {}

    def get(document: Document) -> Session:
        if document.path not in sessions:
            workdir = tmp_path_factory.mktemp(Path(document.path).stem)
            for shared in ("examples", "schemas"):
                (workdir / shared).symlink_to(ROOT / shared)
            session = Session(workdir, f"dt{uuid.uuid4().hex[:8]}", env_for(workdir))
            sessions[document.path] = session
            document.namespace.update(session=session, unique=session.unique, run=session.run, workdir=workdir)
        return sessions[document.path]

    yield get
    for session in sessions.values():
        if session.renames:
            sweep(session.token)


def sweep(token: str) -> None:
    """Delete what a document's run made on the brokers: everything whose name carries its token."""
    _sweep_rabbitmq(token)
    _sweep_kafka(token)
    _sweep_nats(token)
    _sweep_aws(token)


def _sweep_rabbitmq(token: str) -> None:
    from tests.integration.rabbitmq_support import api, delete_vhost

    with api() as client:
        for vhost in client.get("/api/vhosts").raise_for_status().json():
            if token in vhost["name"]:
                delete_vhost(client, vhost["name"])


def _sweep_kafka(token: str) -> None:
    import os

    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": os.environ.get("KAFKA_BOOTSTRAP", "127.0.0.1:9092")})
    topics = [t for t in admin.list_topics(timeout=10).topics if token in t]
    for future in admin.delete_topics(topics, operation_timeout=30).values() if topics else ():
        future.result()


def _sweep_nats(token: str) -> None:
    import asyncio
    import os

    import nats

    async def go() -> None:
        nc = await nats.connect(os.environ.get("NATS_URL", "nats://127.0.0.1:4222"))
        try:
            js = nc.jetstream()
            for name in [s.config.name for s in await js.streams_info()]:
                if name and token in name:
                    await js.delete_stream(name)
        finally:
            await nc.close()

    asyncio.run(go())


def _sweep_aws(token: str) -> None:
    import os

    import boto3

    options = {
        "region_name": "us-east-1",
        "endpoint_url": os.environ.get("AWS_ENDPOINT_URL", "http://127.0.0.1:5000"),
        "aws_access_key_id": os.environ.get("AWS_ACCESS_KEY_ID", "testing"),
        "aws_secret_access_key": os.environ.get("AWS_SECRET_ACCESS_KEY", "testing"),
    }
    sqs, sns = boto3.client("sqs", **options), boto3.client("sns", **options)
    for url in sqs.list_queues(QueueNamePrefix="").get("QueueUrls", []):
        if token in url:
            sqs.delete_queue(QueueUrl=url)
    for topic in sns.list_topics().get("Topics", []):
        if token in topic["TopicArn"]:
            sns.delete_topic(TopicArn=topic["TopicArn"])
