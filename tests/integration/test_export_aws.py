"""`topoctl export` against moto (SQS/SNS): queues, a redrive, a FIFO pair, a topic fanning out to
a queue with a filter and a subscription dead-letter queue, all created with boto3 (not topoctl),
export to a manifest whose plan is empty."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml

from tests.cli import topoctl, write_manifest
from tests.integration.export_support import assert_targets_cover

pytestmark = pytest.mark.integration
ENDPOINT = os.environ.get("AWS_ENDPOINT_URL") or "http://127.0.0.1:5000"
REGION = "us-east-1"
KEYS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
BROKER = "exp-aws"


class Aws:
    def __init__(self) -> None:
        kwargs: dict[str, Any] = {"endpoint_url": ENDPOINT, "region_name": REGION, **KEYS}
        self.sqs = boto3.client("sqs", **kwargs)
        self.sns = boto3.client("sns", **kwargs)
        self.account = boto3.client("sts", **kwargs).get_caller_identity()["Account"]
        self.queues: list[str] = []
        self.topics: list[str] = []

    def queue(self, name: str, tags: dict[str, str] | None = None, **attributes: Any) -> str:
        url = str(
            self.sqs.create_queue(
                QueueName=name, Attributes={k: str(v) for k, v in attributes.items()}, tags=tags or {}
            )["QueueUrl"]
        )
        self.queues.append(url)
        return f"arn:aws:sqs:{REGION}:{self.account}:{name}"

    def topic(self, name: str, **attributes: str) -> str:
        arn = str(
            self.sns.create_topic(Name=name, Attributes=attributes, Tags=[{"Key": "team", "Value": "x"}])["TopicArn"]
        )
        self.topics.append(arn)
        return arn

    def allow(self, queue: str, queue_arn: str, topic_arn: str, sid: str = "let-the-topic-in") -> None:
        # A working SNS -> SQS delivery needs this; written the way topoctl composes it.
        statement = {
            "Sid": sid,
            "Effect": "Allow",
            "Principal": {"Service": "sns.amazonaws.com"},
            "Action": "sqs:SendMessage",
            "Resource": queue_arn,
            "Condition": {"ArnEquals": {"aws:SourceArn": topic_arn}},
        }
        policy = {"Version": "2012-10-17", "Statement": [statement]}
        url = self.sqs.get_queue_url(QueueName=queue)["QueueUrl"]
        self.sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(policy)})

    def cleanup(self) -> None:
        for arn in self.topics:
            self.sns.delete_topic(TopicArn=arn)
        for url in self.queues:
            self.sqs.delete_queue(QueueUrl=url)


@pytest.fixture
def aws() -> Iterator[Aws]:
    client = Aws()
    try:
        yield client
    finally:
        client.cleanup()


def test_export_of_hand_built_sqs_and_sns_plans_empty(tmp_path: Path, aws: Aws) -> None:
    p = f"x{uuid.uuid4().hex[:8]}"
    dlq = aws.queue(f"{p}-billing-dlq", MessageRetentionPeriod=1_209_600)
    redrive = json.dumps({"deadLetterTargetArn": dlq, "maxReceiveCount": 3})
    billing = aws.queue(f"{p}-billing", {"team": "billing"}, VisibilityTimeout=45, RedrivePolicy=redrive)
    fifo_dlq = aws.queue(f"{p}-orders-dlq.fifo", FifoQueue="true")
    aws.queue(
        f"{p}-orders.fifo",
        FifoQueue="true",
        ContentBasedDeduplication="true",
        RedrivePolicy=json.dumps({"deadLetterTargetArn": fifo_dlq, "maxReceiveCount": 5}),
    )
    undeliverable = aws.queue(f"{p}-events-dlq")
    topic = aws.topic(f"{p}-events", DisplayName="Order events")
    subscription = aws.sns.subscribe(
        TopicArn=topic,
        Protocol="sqs",
        Endpoint=billing,
        Attributes={
            "RawMessageDelivery": "true",
            "FilterPolicy": json.dumps({"type": ["created"]}),
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": undeliverable}),
        },
        ReturnSubscriptionArn=True,
    )
    assert subscription["SubscriptionArn"].startswith("arn:")
    aws.allow(f"{p}-billing", billing, topic)
    # A queue whose policy statement topoctl composed itself (its Sid says so).
    shipping = aws.queue(f"{p}-shipping")
    aws.sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=shipping, ReturnSubscriptionArn=True)
    aws.allow(f"{p}-shipping", shipping, topic, sid=f"topoctl-sns-{p}-events")
    aws.allow(f"{p}-events-dlq", undeliverable, topic)

    connection = {"region": REGION, "endpoint_url": ENDPOINT, "access_key_id": "${AWS_ACCESS_KEY_ID}"}
    connection["secret_access_key"] = "${AWS_SECRET_ACCESS_KEY}"
    manifest = write_manifest(
        tmp_path / "connection.yaml", {"version": 1, "brokers": {BROKER: {"type": "aws", "connection": connection}}}
    )
    env = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
    result = topoctl("export", "--broker", BROKER, "-f", manifest, env=env)
    assert result.code == 0, str(result)
    assert "testing" not in result.stdout
    exported = tmp_path / "exported.yaml"
    exported.write_text(result.stdout, encoding="utf-8")

    body = yaml.safe_load(result.stdout)["brokers"][BROKER]
    queues = body["sqs"]["queues"]
    assert queues[f"{p}-billing"]["visibility_timeout"] == "45s"
    assert queues[f"{p}-billing"]["dead_letter"] == {"queue": f"{p}-billing-dlq", "max_receive_count": 3}
    assert queues[f"{p}-billing"]["tags"] == {"team": "billing"}
    assert queues[f"{p}-billing-dlq"]["message_retention_period"] == "14d"
    # A hand-written policy is kept as it is (the compiler adds nothing: it already lets the topic in).
    assert [s["Sid"] for s in queues[f"{p}-billing"]["policy"]["Statement"]] == ["let-the-topic-in"]
    assert "policy" not in queues[f"{p}-shipping"]  # the compiler composes that statement again
    sub = body["sns"]["topics"][f"{p}-events"]["subscriptions"][0]
    assert sub == {
        "protocol": "sqs",
        "endpoint": f"{p}-billing",
        "raw_message_delivery": True,
        "filter_policy": {"type": ["created"]},
        "dead_letter": {"queue": f"{p}-events-dlq"},
    }

    targets: list[str] = []
    for name in (
        f"{p}-billing",
        f"{p}-shipping",
        f"{p}-billing-dlq",
        f"{p}-orders.fifo",
        f"{p}-orders-dlq.fifo",
        f"{p}-events-dlq",
    ):
        targets += ["--target", f"{BROKER}/sqs_queue/{name}"]
    targets += ["--target", f"{BROKER}/sns_topic/{p}-events", "--target", f"{BROKER}/sns_subscription/{p}-events"]
    # Narrowed to this test's objects: other tests create and delete queues on the same moto.
    assert_targets_cover(exported, targets, lambda a: a.name[0].startswith(p), env)
    plan = topoctl("plan", "-f", exported, "--detailed-exitcode", *targets, env=env)
    assert plan.code == 0, f"the plan of the export is not empty:\n{plan}"
    assert "No changes." in plan.stdout
