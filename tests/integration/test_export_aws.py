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

from tests.cli import topoctl
from tests.integration.export_support import assert_targets_cover, export_to_file

pytestmark = pytest.mark.integration
ENDPOINT = os.environ.get("AWS_ENDPOINT_URL") or "http://127.0.0.1:5000"
REGION = "us-east-1"
KEYS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
BROKER = "exp-aws"
ENV = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


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

    exported = export(tmp_path)
    body = yaml.safe_load(exported.read_text(encoding="utf-8"))["brokers"][BROKER]
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

    queues_built = ["billing", "shipping", "billing-dlq", "orders.fifo", "orders-dlq.fifo", "events-dlq"]
    assert_plans_empty(exported, p, [f"{p}-{q}" for q in queues_built], [f"{p}-events"])


def export(tmp_path: Path) -> Path:
    """`topoctl export` of the whole moto account and region, written to a file."""
    connection = {"region": REGION, "endpoint_url": ENDPOINT, "access_key_id": "${AWS_ACCESS_KEY_ID}"}
    connection["secret_access_key"] = "${AWS_SECRET_ACCESS_KEY}"
    result, exported = export_to_file(tmp_path, BROKER, {"type": "aws", "connection": connection}, env=ENV)
    assert "testing" not in result.stdout
    return exported


def assert_plans_empty(exported: Path, prefix: str, queues: list[str], topics: list[str]) -> None:
    """The plan of the export is empty over the objects the test built (other tests create and
    delete queues on the same moto)."""
    targets: list[str] = []
    for name in queues:
        targets += ["--target", f"{BROKER}/sqs_queue/{name}"]
    for name in topics:
        targets += ["--target", f"{BROKER}/sns_topic/{name}", "--target", f"{BROKER}/sns_subscription/{name}"]
    assert_targets_cover(exported, targets, lambda a: a.name[0].startswith(prefix), ENV)
    plan = topoctl("plan", "-f", exported, "--detailed-exitcode", *targets, env=ENV)
    assert plan.code == 0, f"the plan of the export is not empty:\n{plan}"
    assert "No changes." in plan.stdout


def test_export_of_unusual_settings_plans_empty(tmp_path: Path, aws: Aws) -> None:
    p = f"x{uuid.uuid4().hex[:8]}"
    account = aws.account
    policy = {
        "Version": "2012-10-17",
        "Id": "custom",
        "Statement": [
            {
                "Sid": "tls",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "sqs:*",
                "Resource": "*",
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            },
            {
                "Effect": "Allow",
                "Principal": {"AWS": account},
                "Action": ["sqs:SendMessage", "sqs:ReceiveMessage"],
                "Resource": f"arn:aws:sqs:{REGION}:{account}:{p}-odd",
            },
        ],
    }
    aws.queue(
        f"{p}-odd",
        {"with space": "and value", "empty": ""},
        Policy=json.dumps(policy),
        DelaySeconds=7,
        MaximumMessageSize=1024,
        MessageRetentionPeriod=61,
        ReceiveMessageWaitTimeSeconds=3,
        VisibilityTimeout=0,
        KmsMasterKeyId="alias/my-key",
        KmsDataKeyReusePeriodSeconds=61,
    )
    fifo = aws.queue(
        f"{p}-f.fifo", FifoQueue="true", FifoThroughputLimit="perMessageGroupId", DeduplicationScope="messageGroup"
    )
    topic = aws.topic(
        f"{p}-t",
        DisplayName="Ünïcode: events",
        DeliveryPolicy=json.dumps({"http": {"defaultHealthyRetryPolicy": {"numRetries": 3}}}),
    )
    topic_policy = {
        "Version": "2008-10-17",
        "Statement": [
            {"Sid": "pub", "Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "SNS:Publish", "Resource": topic}
        ],
    }
    aws.sns.set_topic_attributes(TopicArn=topic, AttributeName="Policy", AttributeValue=json.dumps(topic_policy))
    hook = {"DeliveryPolicy": json.dumps({"healthyRetryPolicy": {"numRetries": 4}})}
    aws.sns.subscribe(TopicArn=topic, Protocol="https", Endpoint="https://example.com/a/b?c=1%2F", Attributes=hook)
    aws.sns.subscribe(TopicArn=topic, Protocol="email", Endpoint="ops@example.com")
    fifo_topic = aws.topic(f"{p}-t.fifo", FifoTopic="true", ContentBasedDeduplication="true")
    body_filter = {
        "FilterPolicy": json.dumps({"order": {"kind": [{"prefix": "a"}]}}),
        "FilterPolicyScope": "MessageBody",
    }
    aws.sns.subscribe(TopicArn=fifo_topic, Protocol="sqs", Endpoint=fifo, Attributes=body_filter)
    aws.allow(f"{p}-f.fifo", fifo, fifo_topic)

    exported = export(tmp_path)
    body = yaml.safe_load(exported.read_text(encoding="utf-8"))["brokers"][BROKER]
    odd = body["sqs"]["queues"][f"{p}-odd"]
    assert (odd["visibility_timeout"], odd["maximum_message_size"], odd["kms_master_key_id"]) == (
        0,
        "1KiB",
        "alias/my-key",
    )
    assert odd["tags"] == {"with space": "and value", "empty": ""}
    assert len(body["sns"]["topics"][f"{p}-t"]["subscriptions"]) == 2
    assert_plans_empty(exported, p, [f"{p}-odd", f"{p}-f.fifo"], [f"{p}-t", f"{p}-t.fifo"])
