"""The AWS provider against moto (dev/brokers up moto), through the CLI.

Every test works under its own name prefix and removes what it made. moto does not enforce the
60-second QueueDeletedRecently window, QueueAlreadyExists, pending confirmations or
RedriveAllowPolicy read-back: tests/unit/test_aws_driver.py covers those with injected errors.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from tests.cli import apply_ok, assert_empty, plan_json, planned, topoctl, write_manifest

ENDPOINT = os.environ.get("AWS_ENDPOINT_URL") or "http://127.0.0.1:5000"
REGION = "us-east-1"
KEYS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
B = "cloud"
WORKERS = 32
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "aws.yaml"
pytestmark = pytest.mark.integration


class Aws:
    def __init__(self) -> None:
        config = Config(max_pool_connections=WORKERS, retries={"total_max_attempts": 3, "mode": "standard"})
        kwargs: dict[str, Any] = {"endpoint_url": ENDPOINT, "region_name": REGION, "config": config, **KEYS}
        self.sqs = boto3.client("sqs", **kwargs)
        self.sns = boto3.client("sns", **kwargs)
        self.account = boto3.client("sts", **kwargs).get_caller_identity()["Account"]

    def queue_arn(self, name: str) -> str:
        return f"arn:aws:sqs:{REGION}:{self.account}:{name}"

    def topic_arn(self, name: str) -> str:
        return f"arn:aws:sns:{REGION}:{self.account}:{name}"

    def url(self, name: str) -> str:
        return str(self.sqs.get_queue_url(QueueName=name)["QueueUrl"])

    def attrs(self, name: str) -> dict[str, str]:
        return dict(self.sqs.get_queue_attributes(QueueUrl=self.url(name), AttributeNames=["All"])["Attributes"])

    def queue_urls(self, prefix: str) -> list[str]:
        urls: list[str] = []
        kwargs: dict[str, Any] = {"QueueNamePrefix": prefix, "MaxResults": 1000}
        while True:
            page = self.sqs.list_queues(**kwargs)
            urls += page.get("QueueUrls", [])
            if not page.get("NextToken"):
                return urls
            kwargs["NextToken"] = page["NextToken"]

    def queue_names(self, prefix: str) -> list[str]:
        return [u.rsplit("/", 1)[-1] for u in self.queue_urls(prefix)]

    def delete_queues(self, urls: list[str]) -> None:
        with ThreadPoolExecutor(WORKERS) as pool:
            list(pool.map(lambda url: self.sqs.delete_queue(QueueUrl=url), urls))

    def subscriptions(self, topic: str) -> list[dict[str, str]]:
        return list(self.sns.list_subscriptions_by_topic(TopicArn=self.topic_arn(topic))["Subscriptions"])

    def subscription_attrs(self, arn: str) -> dict[str, str]:
        return dict(self.sns.get_subscription_attributes(SubscriptionArn=arn)["Attributes"])

    def cleanup(self, prefix: str) -> None:
        pages = self.sns.get_paginator("list_topics").paginate()
        topics = [t["TopicArn"] for p in pages for t in p["Topics"] if t["TopicArn"].split(":")[-1].startswith(prefix)]
        for arn in topics:
            for sub in self.sns.list_subscriptions_by_topic(TopicArn=arn)["Subscriptions"]:
                if sub["SubscriptionArn"].startswith("arn:"):
                    self.sns.unsubscribe(SubscriptionArn=sub["SubscriptionArn"])
            self.sns.delete_topic(TopicArn=arn)
        # moto lists at most 1000 queues (even with a prefix): delete until none is left.
        while urls := self.queue_urls(prefix):
            self.delete_queues(urls)


@pytest.fixture(scope="module")
def aws() -> Aws:
    try:
        client = Aws()
        client.sqs.list_queues(MaxResults=1)
    except Exception as exc:  # an unreachable broker fails the run, it never skips it
        pytest.fail(f"moto is not reachable at {ENDPOINT} (start it: dev/brokers up moto): {exc}")
    return client


@pytest.fixture
def ns(aws: Aws) -> Iterator[str]:
    ns = f"t{uuid.uuid4().hex[:8]}-"
    yield ns
    aws.cleanup(ns)


def manifest(tmp_path: Path, name: str = "m.yaml", **sections: Any) -> Path:
    connection = {
        "region": REGION,
        "endpoint_url": ENDPOINT,
        "access_key_id": "testing",
        "secret_access_key": "testing",
    }
    doc = {"version": 1, "brokers": {B: {"type": "aws", "connection": connection, **sections}}}
    return write_manifest(tmp_path / name, doc)


def apply_and_settle(path: Path, *flags: str) -> None:
    apply_ok(path, *flags)
    assert_empty(path)


# --- the shipped example ------------------------------------------------------------------------


def test_example_applies_and_replans_empty(aws: Aws, tmp_path: Path) -> None:
    # The example has fixed names: work on a copy with a unique prefix.
    ns = f"t{uuid.uuid4().hex[:8]}-"
    text = EXAMPLE.read_text(encoding="utf-8").replace("shop-", ns)
    path = tmp_path / "aws.yaml"
    path.write_text(text, encoding="utf-8")
    try:
        apply_and_settle(path)
        assert aws.attrs(f"{ns}orders-dlq.fifo")["FifoQueue"] == "true"
        redrive = json.loads(aws.attrs(f"{ns}billing")["RedrivePolicy"])
        assert redrive == {"deadLetterTargetArn": aws.queue_arn(f"{ns}billing-dlq"), "maxReceiveCount": 5}
        endpoints = {s["Endpoint"] for s in aws.subscriptions(f"{ns}order-events")}
        assert endpoints == {aws.queue_arn(f"{ns}{q}") for q in ("billing", "shipping", "audit")}
    finally:
        aws.cleanup(ns)


# --- scale ----------------------------------------------------------------------------------------


def test_more_than_1000_queues_plan_and_apply(aws: Aws, tmp_path: Path) -> None:
    # The most expensive test of the suite, so made cheap: the queues are created and deleted with
    # raw boto3 on many threads; one apply (its printed plan is checked) and one plan. A short
    # prefix, and names whose next character spreads them below 1000 each, keep moto's
    # prefix-split listing (see driver.py) shallow.
    prefix = "L" + uuid.uuid4().hex[:5] + "-"
    names = [f"{prefix}{i:03x}" for i in range(1050)]
    with ThreadPoolExecutor(WORKERS) as pool:
        urls = list(pool.map(lambda n: str(aws.sqs.create_queue(QueueName=n)["QueueUrl"]), names))
    try:
        changed = names[-3:]  # beyond the first page of 1000
        queues = {n: {"visibility_timeout": "1m" if n in changed else "30s"} for n in names}
        path = manifest(tmp_path, sqs={"queues": queues})
        # A queue missed by the listing would show up as a create.
        result = apply_ok(path)
        output = result.stdout + result.stderr
        assert "Plan: 0 to add, 3 to change, 0 to destroy." in output
        updated = sorted(line.split(": ")[0].strip() for line in output.splitlines() if line.endswith(": updated"))
        assert updated == [f"{B}/sqs_queue/{n}" for n in changed]
        assert_empty(path)
        assert aws.attrs(changed[0])["VisibilityTimeout"] == "60"
    finally:
        aws.delete_queues(urls)


# --- queues ---------------------------------------------------------------------------------------


def test_visibility_timeout_updates_in_place(aws: Aws, ns: str, tmp_path: Path) -> None:
    q = f"{ns}work"
    apply_and_settle(manifest(tmp_path, sqs={"queues": {q: {"visibility_timeout": "30s", "tags": {"a": "1"}}}}))
    url, before = aws.url(q), aws.attrs(q)
    aws.sqs.send_message(QueueUrl=url, MessageBody="keep me")
    path = manifest(tmp_path, "m2.yaml", sqs={"queues": {q: {"visibility_timeout": "2m", "tags": {"b": "2"}}}})
    result = plan_json(path)
    assert result.code == 2
    (change,) = result.json["changes"]
    assert change["action"] == "update" and not change["destructive"]
    assert {f["field"] for f in change["fields"]} == {"visibility_timeout", "tags"}
    apply_and_settle(path)
    after = aws.attrs(q)
    assert aws.url(q) == url
    assert after["CreatedTimestamp"] == before["CreatedTimestamp"]
    assert after["VisibilityTimeout"] == "120"
    assert after["ApproximateNumberOfMessages"] == "1"
    assert aws.sqs.list_queue_tags(QueueUrl=url).get("Tags") == {"b": "2"}


def test_json_attributes_compare_by_meaning(aws: Aws, ns: str, tmp_path: Path) -> None:
    q, dlq = f"{ns}src", f"{ns}src-dlq"
    aws.sqs.create_queue(QueueName=dlq)
    policy = {
        "Statement": [
            {
                "Resource": aws.queue_arn(q),
                "Action": ["sqs:SendMessage", "sqs:GetQueueAttributes"],
                "Principal": {"AWS": [aws.account]},
                "Effect": "Allow",
                "Sid": "own",
            }
        ],
        "Version": "2012-10-17",
    }
    redrive = {"maxReceiveCount": "4", "deadLetterTargetArn": aws.queue_arn(dlq)}
    aws.sqs.create_queue(QueueName=q, Attributes={"Policy": json.dumps(policy), "RedrivePolicy": json.dumps(redrive)})
    declared_policy = {
        "Version": "2012-10-17",
        "Statement": {
            "Sid": "own",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{aws.account}:root"},
            "Action": ["sqs:GetQueueAttributes", "sqs:SendMessage"],
            "Resource": f"arn:aws:sqs:{REGION}:{{account}}:{q}",
        },
    }
    path = manifest(tmp_path, sqs={"queues": {q: {"policy": declared_policy, "dead_letter": {"max_receive_count": 4}}}})
    result = plan_json(path)
    assert result.code == 0, str(result)
    assert result.json["changes"] == []
    changed = manifest(tmp_path, "m2.yaml", sqs={"queues": {q: {"dead_letter": {"max_receive_count": 6}}}})
    assert planned(plan_json(changed)) == {f"{B}/sqs_queue/{q}": "update"}


def test_fifo_queue_with_fifo_dlq(aws: Aws, ns: str, tmp_path: Path) -> None:
    q = f"{ns}orders.fifo"
    queues = {q: {"content_based_deduplication": True, "deduplication_scope": "messageGroup", "dead_letter": {}}}
    apply_and_settle(manifest(tmp_path, sqs={"queues": queues}))
    assert aws.attrs(f"{ns}orders-dlq.fifo")["FifoQueue"] == "true"
    assert json.loads(aws.attrs(q)["RedrivePolicy"])["deadLetterTargetArn"] == aws.queue_arn(f"{ns}orders-dlq.fifo")


def test_prune_and_state_absent(aws: Aws, ns: str, tmp_path: Path) -> None:
    keep, stray, gone = f"{ns}keep", f"{ns}stray", f"{ns}gone"
    outside = f"x{ns}outside"
    for name in (keep, stray, gone, outside):
        aws.sqs.create_queue(QueueName=name)
    try:
        path = manifest(tmp_path, prune={"prefix": ns}, sqs={"queues": {keep: {}, gone: {"state": "absent"}}})
        changes = planned(plan_json(path))
        assert changes == {f"{B}/sqs_queue/{stray}": "delete", f"{B}/sqs_queue/{gone}": "delete"}
        refused = topoctl("apply", "-f", path, "--auto-approve")
        assert refused.code == 1 and "--allow-destructive" in refused.stderr
        assert set(aws.queue_names(ns)) == {keep, stray, gone}
        apply_and_settle(path, "--allow-destructive")
        assert aws.queue_names(ns) == [keep]
        assert aws.queue_names(f"x{ns}") == [outside]
    finally:
        aws.cleanup(f"x{ns}")


# --- SNS ------------------------------------------------------------------------------------------


def test_queue_policy_composed_from_two_topics(aws: Aws, ns: str, tmp_path: Path) -> None:
    q, a, b = f"{ns}inbox", f"{ns}a", f"{ns}b"
    own = {"Sid": "mine", "Effect": "Allow", "Principal": "*", "Action": "sqs:GetQueueAttributes", "Resource": "*"}

    def doc(b_state: str, a_state: str = "present", policy: bool = True) -> dict[str, Any]:
        queue = {"policy": {"Version": "2012-10-17", "Statement": [own]}} if policy else {}
        return {
            "sqs": {"queues": {q: queue}},
            "sns": {
                "topics": {
                    a: {"subscriptions": [{"protocol": "sqs", "endpoint": q, "state": a_state}]},
                    b: {"subscriptions": [{"protocol": "sqs", "endpoint": q, "state": b_state}]},
                }
            },
        }

    apply_and_settle(manifest(tmp_path, **doc("present")))
    policy = json.loads(aws.attrs(q)["Policy"])
    sources = {s["Sid"]: s.get("Condition", {}).get("ArnEquals", {}).get("aws:SourceArn") for s in policy["Statement"]}
    assert sources == {"mine": None, f"topoctl-sns-{a}": [aws.topic_arn(a)], f"topoctl-sns-{b}": [aws.topic_arn(b)]}
    # Fan-out works end to end: a message published on a reaches the queue.
    aws.sns.publish(TopicArn=aws.topic_arn(a), Message="hello")
    received = aws.sqs.receive_message(QueueUrl=aws.url(q), WaitTimeSeconds=2)["Messages"]
    assert [json.loads(m["Body"])["Message"] for m in received] == ["hello"]

    path = manifest(tmp_path, "m2.yaml", **doc("absent"))
    changes = planned(plan_json(path))
    assert changes == {f"{B}/sns_subscription/{b}/sqs/{q}": "delete", f"{B}/sqs_queue/{q}": "update"}
    apply_and_settle(path, "--allow-destructive")
    sids = {s["Sid"] for s in json.loads(aws.attrs(q)["Policy"])["Statement"]}
    assert sids == {"mine", f"topoctl-sns-{a}"}
    assert [s["Protocol"] for s in aws.subscriptions(b)] == []

    # No topic delivers any more and the policy is no longer declared: topoctl takes back its
    # statements and leaves the hand-written one.
    path = manifest(tmp_path, "m3.yaml", **doc("absent", "absent", policy=False))
    apply_and_settle(path, "--allow-destructive")
    assert [s["Sid"] for s in json.loads(aws.attrs(q)["Policy"])["Statement"]] == ["mine"]


def test_subscription_filter_policy_updates_in_place(aws: Aws, ns: str, tmp_path: Path) -> None:
    q, t = f"{ns}q", f"{ns}t"

    def doc(types: list[str], scope: str) -> dict[str, Any]:
        sub = {"protocol": "sqs", "endpoint": q, "filter_policy": {"type": types}, "filter_policy_scope": scope}
        return {"sqs": {"queues": {q: {}}}, "sns": {"topics": {t: {"display_name": "T", "subscriptions": [sub]}}}}

    apply_and_settle(manifest(tmp_path, **doc(["created"], "MessageAttributes")))
    (sub,) = aws.subscriptions(t)
    path = manifest(tmp_path, "m2.yaml", **doc(["paid", "created"], "MessageBody"))
    assert planned(plan_json(path)) == {f"{B}/sns_subscription/{t}/sqs/{q}": "update"}
    apply_and_settle(path)
    (after,) = aws.subscriptions(t)
    assert after["SubscriptionArn"] == sub["SubscriptionArn"]
    attrs = aws.subscription_attrs(sub["SubscriptionArn"])
    assert json.loads(attrs["FilterPolicy"]) == {"type": ["created", "paid"]}
    assert attrs["FilterPolicyScope"] == "MessageBody"


def test_subscription_dead_letter(aws: Aws, ns: str, tmp_path: Path) -> None:
    q, t = f"{ns}q", f"{ns}t"
    sub = {"protocol": "sqs", "endpoint": q, "dead_letter": {}}
    apply_and_settle(manifest(tmp_path, sqs={"queues": {q: {}}}, sns={"topics": {t: {"subscriptions": [sub]}}}))
    (live,) = aws.subscriptions(t)
    redrive = json.loads(aws.subscription_attrs(live["SubscriptionArn"])["RedrivePolicy"])
    assert redrive == {"deadLetterTargetArn": aws.queue_arn(f"{t}-dlq")}
    (statement,) = json.loads(aws.attrs(f"{t}-dlq")["Policy"])["Statement"]
    assert statement["Condition"]["ArnEquals"]["aws:SourceArn"] == [aws.topic_arn(t)]
    assert statement["Principal"] == {"Service": ["sns.amazonaws.com"]}


def test_fifo_topic_to_fifo_queue(aws: Aws, ns: str, tmp_path: Path) -> None:
    q, t = f"{ns}q.fifo", f"{ns}t.fifo"
    topic = {"content_based_deduplication": True, "subscriptions": [{"protocol": "sqs", "endpoint": q}]}
    apply_and_settle(manifest(tmp_path, sqs={"queues": {q: {}}}, sns={"topics": {t: topic}}))
    attrs = aws.sns.get_topic_attributes(TopicArn=aws.topic_arn(t))["Attributes"]
    assert attrs["FifoTopic"] == "true" and attrs["ContentBasedDeduplication"] == "true"


def test_topic_attributes_and_tags_update_in_place(aws: Aws, ns: str, tmp_path: Path) -> None:
    t = f"{ns}t"
    apply_and_settle(manifest(tmp_path, sns={"topics": {t: {"display_name": "One", "tags": {"a": "1"}}}}))
    path = manifest(tmp_path, "m2.yaml", sns={"topics": {t: {"display_name": "Two", "tags": {"b": "2"}}}})
    assert planned(plan_json(path)) == {f"{B}/sns_topic/{t}": "update"}
    apply_and_settle(path)
    arn = aws.topic_arn(t)
    assert aws.sns.get_topic_attributes(TopicArn=arn)["Attributes"]["DisplayName"] == "Two"
    assert aws.sns.list_tags_for_resource(ResourceArn=arn)["Tags"] == [{"Key": "b", "Value": "2"}]


# --- connection -----------------------------------------------------------------------------------


def test_unreachable_endpoint_fails_with_broker_name(tmp_path: Path) -> None:
    connection = {
        "region": REGION,
        "endpoint_url": "http://127.0.0.1:9",
        "access_key_id": "k",
        "secret_access_key": "s3cret",
    }
    path = write_manifest(
        tmp_path / "m.yaml",
        {"version": 1, "brokers": {B: {"type": "aws", "connection": connection, "sqs": {"queues": {"q": {}}}}}},
    )
    result = topoctl("plan", "-f", path)
    assert result.code == 1
    assert "cloud" in result.stderr and "cannot connect" in result.stderr
    assert "s3cret" not in result.stderr + result.stdout
    assert "Traceback" not in result.stderr


def test_filter_policy_scope_switches_both_ways_with_a_nested_policy(aws: Aws, ns: str, tmp_path: Path) -> None:
    # SNS checks a filter policy against the subscription's current scope, and nested policies
    # are for MessageBody only: the order of the two SetSubscriptionAttributes calls matters.
    q, t = f"{ns}q", f"{ns}t"
    flat = {"filter_policy": {"type": ["created"]}, "filter_policy_scope": "MessageAttributes"}
    nested = {"filter_policy": {"order": {"type": ["created"]}}, "filter_policy_scope": "MessageBody"}

    def doc(sub: dict[str, Any]) -> dict[str, Any]:
        subscription = {"protocol": "sqs", "endpoint": q, **sub}
        return {"sqs": {"queues": {q: {}}}, "sns": {"topics": {t: {"subscriptions": [subscription]}}}}

    apply_and_settle(manifest(tmp_path, **doc(flat)))
    apply_and_settle(manifest(tmp_path, "m2.yaml", **doc(nested)))
    (sub,) = aws.subscriptions(t)
    attrs = aws.subscription_attrs(sub["SubscriptionArn"])
    assert (json.loads(attrs["FilterPolicy"]), attrs["FilterPolicyScope"]) == (
        {"order": {"type": ["created"]}},
        "MessageBody",
    )
    apply_and_settle(manifest(tmp_path, "m3.yaml", **doc(flat)))
    attrs = aws.subscription_attrs(sub["SubscriptionArn"])
    assert (json.loads(attrs["FilterPolicy"]), attrs["FilterPolicyScope"]) == (
        {"type": ["created"]},
        "MessageAttributes",
    )


def test_subscription_attributes_removed_and_tags_changed(aws: Aws, ns: str, tmp_path: Path) -> None:
    q, t = f"{ns}q", f"{ns}t"
    sub: dict[str, Any] = {
        "protocol": "sqs",
        "endpoint": q,
        "raw_message_delivery": True,
        "filter_policy": {"n": [{"numeric": [">", 0]}], "type": ["b", "a"]},
        "dead_letter": {},
    }
    queue: dict[str, Any] = {
        "tags": {"keep": "1", "change": "a", "drop": True},
        "dead_letter": {"max_receive_count": 2},
    }
    sections: dict[str, Any] = {
        "sqs": {"queues": {q: queue}},
        "sns": {"topics": {t: {"tags": {"x": "y"}, "subscriptions": [sub]}}},
    }
    apply_and_settle(manifest(tmp_path, **sections))
    # Removed: the filter policy ({} is how), the subscription's and the queue's redrive, tags.
    sub.update(filter_policy={}, raw_message_delivery=False, dead_letter=False)
    queue.update(tags={"keep": "1", "change": "b", "new": 3}, dead_letter=False)
    sections["sns"]["topics"][t]["tags"] = {}
    path = manifest(tmp_path, "m2.yaml", **sections)
    assert planned(plan_json(path)) == {
        f"{B}/sqs_queue/{q}": "update",
        f"{B}/sns_topic/{t}": "update",
        f"{B}/sns_subscription/{t}/sqs/{q}": "update",
    }
    apply_and_settle(path)
    (live,) = aws.subscriptions(t)
    attrs = aws.subscription_attrs(live["SubscriptionArn"])
    assert json.loads(attrs["FilterPolicy"] or "{}") == {} and not attrs.get("RedrivePolicy")
    assert "RedrivePolicy" not in aws.attrs(q)
    assert aws.sqs.list_queue_tags(QueueUrl=aws.url(q))["Tags"] == {"keep": "1", "change": "b", "new": "3"}
    assert aws.sns.list_tags_for_resource(ResourceArn=aws.topic_arn(t))["Tags"] == []


def test_topic_attributes_the_endpoint_does_not_report(aws: Aws, ns: str, tmp_path: Path) -> None:
    # moto accepts SignatureVersion and TracingConfig but never reports them back: their defaults
    # plan empty, another value fails the apply with a clear message instead of re-planning forever.
    t = f"{ns}t"
    apply_and_settle(manifest(tmp_path, sns={"topics": {t: {"signature_version": 1, "tracing_config": "PassThrough"}}}))
    path = manifest(tmp_path, "m2.yaml", sns={"topics": {t: {"signature_version": "2"}}})
    result = topoctl("apply", "-f", path, "--auto-approve")
    assert result.code == 1, str(result)
    assert "SignatureVersion was accepted but the endpoint does not report it back" in result.stderr
    assert "Traceback" not in result.stderr


def test_policy_spellings_and_composed_statements_plan_empty(aws: Aws, ns: str, tmp_path: Path) -> None:
    # One meaning, two spellings: statement order, "*" vs {AWS: "*"}, scalars vs one-element
    # lists, condition values as booleans or strings, JSON text vs mapping, the account literal vs
    # {account}; merged with the statement composed for the topic that delivers to the queue.
    q, t = f"{ns}q", f"{ns}t"
    secure = {
        "Sid": "tls",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "sqs:*",
        "Resource": "*",
        "Condition": {"Bool": {"aws:SecureTransport": False}},
    }
    own: dict[str, Any] = {
        "Sid": "own",
        "Effect": "Allow",
        "Principal": {"AWS": aws.account},
        "Action": ["sqs:ReceiveMessage", "sqs:DeleteMessage"],
        "Resource": f"arn:aws:sqs:{REGION}:{aws.account}:{q}",
    }
    one = {"Version": "2012-10-17", "Statement": [secure, own]}
    other = {
        "Version": "2012-10-17",
        "Statement": [
            {**own, "Principal": {"AWS": ["arn:aws:iam::{account}:root"]}, "Action": own["Action"][::-1]},
            {
                **secure,
                "Principal": {"AWS": ["*"]},
                "Action": ["sqs:*"],
                "Condition": {"Bool": {"aws:SecureTransport": ["false"]}},
            },
        ],
    }

    def doc(policy: Any) -> dict[str, Any]:
        sub = {"protocol": "sqs", "endpoint": q}
        return {"sqs": {"queues": {q: {"policy": policy}}}, "sns": {"topics": {t: {"subscriptions": [sub]}}}}

    apply_and_settle(manifest(tmp_path, **doc(one)))
    sids = sorted(s["Sid"] for s in json.loads(aws.attrs(q)["Policy"])["Statement"])
    assert sids == ["own", "tls", f"topoctl-sns-{t}"]
    assert_empty(manifest(tmp_path, "m2.yaml", **doc(json.dumps(other))))


def test_empty_kms_key_means_none(aws: Aws, ns: str, tmp_path: Path) -> None:
    # AWS leaves out an empty KmsMasterKeyId: "" declared is "no key", not a change on every plan.
    q, t = f"{ns}q", f"{ns}t"
    keyed = {"kms_master_key_id": "alias/aws/sqs"}
    apply_and_settle(
        manifest(tmp_path, sqs={"queues": {q: keyed}}, sns={"topics": {t: {"kms_master_key_id": "alias/x"}}})
    )
    none = {"kms_master_key_id": ""}
    apply_and_settle(manifest(tmp_path, "m2.yaml", sqs={"queues": {q: none}}, sns={"topics": {t: none}}))
    assert not aws.attrs(q).get("KmsMasterKeyId")
    assert not aws.sns.get_topic_attributes(TopicArn=aws.topic_arn(t))["Attributes"].get("KmsMasterKeyId")
    apply_and_settle(
        manifest(tmp_path, "m3.yaml", sqs={"queues": {f"{ns}new": none}}, sns={"topics": {f"{ns}new": none}})
    )


def test_fifo_deduplication_settings_update_in_place(aws: Aws, ns: str, tmp_path: Path) -> None:
    q, t = f"{ns}q.fifo", f"{ns}t.fifo"

    def doc(dedup: bool, scope: str) -> dict[str, Any]:
        queue = {"content_based_deduplication": dedup, "deduplication_scope": scope}
        topic = {"content_based_deduplication": dedup, "subscriptions": [{"protocol": "sqs", "endpoint": q}]}
        return {"sqs": {"queues": {q: queue}}, "sns": {"topics": {t: topic}}}

    apply_and_settle(manifest(tmp_path, **doc(True, "queue")))
    path = manifest(tmp_path, "m2.yaml", **doc(False, "messageGroup"))
    assert planned(plan_json(path)) == {f"{B}/sqs_queue/{q}": "update", f"{B}/sns_topic/{t}": "update"}
    apply_and_settle(path)
    assert aws.attrs(q)["ContentBasedDeduplication"] == "false"
    assert aws.attrs(q)["DeduplicationScope"] == "messageGroup"


def test_target_applies_a_subscription_with_what_it_needs(aws: Aws, ns: str, tmp_path: Path) -> None:
    q, other, t = f"{ns}q", f"{ns}other", f"{ns}t"
    sections: dict[str, Any] = {
        "sqs": {"queues": {q: {"dead_letter": {}}, other: {}}},
        "sns": {"topics": {t: {"subscriptions": [{"protocol": "sqs", "endpoint": q}]}}},
    }
    path = manifest(tmp_path, **sections)
    target = f"{B}/sns_subscription/{t}/sqs/{q}"
    needed = {target, f"{B}/sns_topic/{t}", f"{B}/sqs_queue/{q}", f"{B}/sqs_queue/{q}-dlq"}
    result = topoctl("plan", "-f", path, "--format", "json", "--target", target)
    assert set(planned(result)) == needed
    apply_ok(path, "--target", target)
    assert planned(plan_json(path)) == {f"{B}/sqs_queue/{other}": "create"}
    assert [s["Sid"] for s in json.loads(aws.attrs(q)["Policy"])["Statement"]] == [f"topoctl-sns-{t}"]


# --- what a plan points at, what a failed apply did (issue 17) ---------------------------------------


def test_missing_dead_letter_queue_of_own_account_is_a_plan_error(aws: Aws, ns: str, tmp_path: Path) -> None:
    # Issue 17: `bb-u9` plain and `bb-u6` dead-lettering into a queue of the broker's own account
    # and region that does not exist planned 2 to add, then the apply failed on bb-u6.
    u9, u6, missing = f"{ns}bb-u9", f"{ns}bb-u6", f"{ns}bb-nonexist"
    queues = {u9: {}, u6: {"dead_letter": {"queue": aws.queue_arn(missing)}}}
    path = manifest(tmp_path, sqs={"queues": queues})
    for command in (("plan", "-f", path), ("apply", "-f", path, "--auto-approve")):
        result = topoctl(*command)
        assert result.code == 1, str(result)
        assert f"queue {u6} (declared at {path}:" in result.stderr
        assert f"dead_letter queue {aws.queue_arn(missing)} exists neither live nor in the manifest" in result.stderr
        assert "Traceback" not in result.stderr
    assert aws.queue_names(ns) == []
    # Declared, or live: the same reference plans and applies.
    aws.sqs.create_queue(QueueName=missing)
    apply_and_settle(path)
    assert sorted(aws.queue_names(ns)) == sorted([u9, u6, missing])


def test_missing_dead_letter_queue_of_a_subscription_is_a_plan_error(aws: Aws, ns: str, tmp_path: Path) -> None:
    q, t, missing, gone = f"{ns}q", f"{ns}t", f"{ns}nonexist", f"{ns}gone"
    aws.sqs.create_queue(QueueName=gone)
    subscriptions = [
        {"protocol": "sqs", "endpoint": q, "dead_letter": {"queue": aws.queue_arn(missing)}},
        {"protocol": "sqs", "endpoint": aws.queue_arn(gone)},
    ]
    sections: dict[str, Any] = {
        "sqs": {"queues": {q: {}, gone: {"state": "absent"}}},
        "sns": {"topics": {t: {"subscriptions": subscriptions}}},
    }
    result = topoctl("plan", "-f", manifest(tmp_path, **sections))
    assert result.code == 1, str(result)
    assert f"subscription {t}/sqs/{q}" in result.stderr
    assert f"dead_letter queue {aws.queue_arn(missing)} exists neither live nor in the manifest" in result.stderr
    assert f"endpoint {aws.queue_arn(gone)} is declared with state: absent, so this plan deletes it" in result.stderr
    assert aws.queue_names(ns) == [gone]
    topics = [x["TopicArn"] for page in aws.sns.get_paginator("list_topics").paginate() for x in page["Topics"]]
    assert aws.topic_arn(t) not in topics


def test_failed_apply_counts_every_change_it_made(aws: Aws, ns: str, tmp_path: Path) -> None:
    # A DLQ of another account is not checked (the credentials cannot see it); moto refuses it at
    # apply time. bb-u6 is first in the wave and fails; bb-u9, created beside it, is counted.
    u9, u6 = f"{ns}bb-u9", f"{ns}bb-u6"
    elsewhere = f"arn:aws:sqs:{REGION}:210987654321:{ns}bb-nonexist"
    path = manifest(tmp_path, sqs={"queues": {u9: {}, u6: {"dead_letter": {"queue": elsewhere}}}})
    assert planned(plan_json(path)) == {f"{B}/sqs_queue/{u9}": "create", f"{B}/sqs_queue/{u6}": "create"}
    result = topoctl("apply", "-f", path, "--auto-approve")
    assert result.code == 1, str(result)
    assert f"cannot create queue {u6}" in result.stderr
    assert "Resources: 1 added, 0 changed, 0 destroyed." in result.stderr  # what the apply did
    assert aws.queue_names(ns) == [u9]


def test_change_made_in_part_is_counted(aws: Aws, ns: str, tmp_path: Path) -> None:
    # moto creates a queue with a RedriveAllowPolicy and a topic with a SignatureVersion, and
    # reports neither back: the apply fails after the queue was created and the topic changed.
    q, t = f"{ns}q", f"{ns}t"
    apply_and_settle(manifest(tmp_path, sns={"topics": {t: {}}}))
    sections = {
        "sqs": {"queues": {q: {"redrive_allow_policy": {"redrivePermission": "denyAll"}}}},
        "sns": {"topics": {t: {"signature_version": "2"}}},
    }
    result = topoctl("apply", "-f", manifest(tmp_path, "m2.yaml", **sections), "--auto-approve")
    assert result.code == 1, str(result)
    assert "2 changes failed:" in result.stderr
    assert "RedriveAllowPolicy was accepted but the endpoint does not report it back" in result.stderr
    assert "SignatureVersion was accepted but the endpoint does not report it back" in result.stderr
    assert "Resources: 1 added, 1 changed, 0 destroyed." in result.stderr  # what the apply did
    assert aws.queue_names(ns) == [q]


def test_saved_topic_delete_is_stale_once_a_subscription_was_added(aws: Aws, ns: str, tmp_path: Path) -> None:
    q, late, t = f"{ns}q", f"{ns}late", f"{ns}t"
    sub = {"protocol": "sqs", "endpoint": q}
    apply_and_settle(manifest(tmp_path, sqs={"queues": {q: {}}}, sns={"topics": {t: {"subscriptions": [sub]}}}))
    path = manifest(tmp_path, "m2.yaml", sqs={"queues": {q: {}}}, sns={"topics": {t: {"state": "absent"}}})
    saved = tmp_path / "plan.json"
    assert topoctl("plan", "-f", path, "-o", saved).code == 0
    (change,) = [c for c in json.loads(saved.read_text())["changes"] if c["action"] == "delete"]
    assert change["exposure"][f"{B}/sns_topic/{t}"] == {"subscriptions": 1}
    aws.sqs.create_queue(QueueName=late)
    aws.sns.subscribe(TopicArn=aws.topic_arn(t), Protocol="sqs", Endpoint=aws.queue_arn(late))
    result = topoctl("apply", saved, "--allow-destructive")
    assert result.code == 1, str(result)
    assert "saved plan is stale" in result.stderr
    assert f"{B}/sns_topic/{t}: subscriptions 1 -> 2" in result.stderr
    assert len(aws.subscriptions(t)) == 2
