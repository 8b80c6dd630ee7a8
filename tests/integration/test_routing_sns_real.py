"""`topoctl route` for SNS against moto: random filter policies on SQS subscriptions, read back
through the driver (what `route --live` sees), random messages published; the queues that received
each must be exactly those `route` predicted.

moto implements part of SNS filtering differently from AWS (see docs/routing.md, "Limits"): these
policies stay within what it implements as AWS documents it (one type per attribute, lowercase
`equals-ignore-case`, `exists: false` alone, no `cidr`, no `$or` in a body policy). The rest of the
operators are pinned to AWS's documented examples in tests/unit/test_routing_sns.py.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.integration.routing_support import Tally, examples_against_a_real_broker
from topoctl.model import Address, Resource
from topoctl.providers.aws.driver import AwsDriver
from topoctl.providers.aws.routing import SnsTopology
from topoctl.routing.model import Message

pytestmark = pytest.mark.integration

ENDPOINT = os.environ.get("AWS_ENDPOINT_URL") or "http://127.0.0.1:5000"
REGION = "us-east-1"
KEYS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
BROKER = "prop-cloud"
WORDS = ("red", "Red", "blue", "reddish")
NUMBERS = (1, 5, 10)

# -- conditions per attribute type ------------------------------------------------------------------

string_condition = st.one_of(
    st.sampled_from(WORDS),
    st.sampled_from(("re", "b", "Re")).map(lambda p: {"prefix": p}),
    st.sampled_from(("ed", "ue", "sh")).map(lambda s: {"suffix": s}),
    st.sampled_from(("red", "blue")).map(lambda w: {"equals-ignore-case": w}),
    st.lists(st.sampled_from(WORDS), min_size=1, max_size=2, unique=True).map(lambda ws: {"anything-but": ws}),
    st.sampled_from(WORDS).map(lambda w: {"anything-but": w}),
    st.sampled_from(("re", "b")).map(lambda p: {"anything-but": {"prefix": p}}),
    st.just({"exists": True}),
)
number_condition = st.one_of(
    st.sampled_from(NUMBERS),
    st.tuples(st.sampled_from((">", ">=", "<", "<=", "=")), st.sampled_from(NUMBERS)).map(
        lambda t: {"numeric": list(t)}
    ),
    st.tuples(st.sampled_from((0, 2)), st.sampled_from((5, 9))).map(lambda t: {"numeric": [">=", t[0], "<", t[1]]}),
    st.lists(st.sampled_from(NUMBERS), min_size=1, max_size=2, unique=True).map(lambda ns: {"anything-but": ns}),
    st.just({"exists": True}),
)
array_condition = st.one_of(st.sampled_from(WORDS), st.just({"exists": True}))
ABSENT = st.just([{"exists": False}])  # alone in its list (moto stops at the first other condition)


def conditions(kind: st.SearchStrategy[Any]) -> st.SearchStrategy[list[Any]]:
    return ABSENT | st.lists(kind, min_size=1, max_size=3)


TYPES = {"s1": string_condition, "n1": number_condition, "arr": array_condition}


@st.composite
def attribute_policy(draw: st.DrawFn) -> dict[str, Any]:
    names = draw(st.lists(st.sampled_from(sorted(TYPES)), min_size=1, max_size=2, unique=True))
    policy = {n: draw(conditions(TYPES[n])) for n in names}
    if draw(st.booleans()):
        alternatives = draw(st.lists(st.sampled_from(sorted(TYPES)), min_size=2, max_size=2, unique=True))
        policy = {"$or": [{n: draw(conditions(TYPES[n]))} for n in alternatives]}
    return policy


@st.composite
def body_policy(draw: st.DrawFn) -> dict[str, Any]:
    policy: dict[str, Any] = {}
    if draw(st.booleans()):
        policy["color"] = draw(conditions(string_condition))
    if draw(st.booleans()):
        policy["amount"] = draw(conditions(number_condition))
    if draw(st.booleans()) or not policy:
        policy["order"] = {"kind": draw(st.lists(string_condition, min_size=1, max_size=2))}
    return policy


Subscription = tuple[str, dict[str, Any]]  # scope, filter policy
subscription = st.one_of(
    st.none(),  # no filter policy: everything
    attribute_policy().map(lambda p: ("MessageAttributes", p)),
    body_policy().map(lambda p: ("MessageBody", p)),
)

attribute_values = st.fixed_dictionaries(
    {},
    optional={
        "s1": st.sampled_from(WORDS),
        "n1": st.sampled_from((0, 1, 2, 5, 7, 10, 11)),
        "arr": st.lists(st.sampled_from(WORDS), max_size=3),
    },
)
bodies = st.fixed_dictionaries(
    {},
    optional={
        "color": st.sampled_from(WORDS),
        "amount": st.sampled_from((0, 1, 2, 5, 7, 10, 11)),
        "order": st.fixed_dictionaries({}, optional={"kind": st.sampled_from(WORDS)}),
    },
)


class Sns:
    def __init__(self) -> None:
        kwargs: dict[str, Any] = {"endpoint_url": ENDPOINT, "region_name": REGION, **KEYS}
        self.sns = boto3.client("sns", **kwargs)
        self.sqs = boto3.client("sqs", **kwargs)
        self.account = boto3.client("sts", **kwargs).get_caller_identity()["Account"]
        connection = {
            "region": REGION,
            "endpoint_url": ENDPOINT,
            "access_key_id": "testing",
            "secret_access_key": "testing",
        }
        self.driver = AwsDriver(BROKER, connection)

    def observed(self, topic: str, queues: list[str]) -> SnsTopology:
        """What `route --live` sees: the driver reads the topic (with its subscriptions) and queues."""
        wanted = [Resource(Address(BROKER, "sns_topic", (topic,)), {})]
        wanted += [Resource(Address(BROKER, "sqs_queue", (q,)), {}) for q in queues]
        return SnsTopology(BROKER, self.driver.read(wanted, []))


@pytest.fixture(scope="module")
def aws() -> Iterator[Sns]:
    try:
        client = Sns()
    except Exception as exc:  # an unreachable broker fails the run, it never skips it
        pytest.fail(f"moto is not reachable at {ENDPOINT} (start it: dev/brokers up moto): {exc}")
    yield client
    client.driver.close()


TALLY = Tally("sns")


@pytest.fixture(scope="module", autouse=True)
def _tally() -> Iterator[None]:
    yield
    TALLY.save()


def _wire(attributes: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for name, value in attributes.items():
        if isinstance(value, list):
            out[name] = {"DataType": "String.Array", "StringValue": json.dumps(value)}
        elif isinstance(value, int):
            out[name] = {"DataType": "Number", "StringValue": str(value)}
        else:
            out[name] = {"DataType": "String", "StringValue": value}
    return out


@dataclass
class Fanout:
    topic: str
    arn: str
    queues: list[str]
    urls: list[str]

    def publish(self, aws: Sns, attributes: dict[str, Any], text: str) -> None:
        kwargs: dict[str, Any] = {"TopicArn": self.arn, "Message": text}
        if attributes:
            kwargs["MessageAttributes"] = _wire(attributes)
        aws.sns.publish(**kwargs)

    def received(self, aws: Sns) -> dict[int, set[str]]:
        """Message `_id` -> the queues it reached, every queue drained."""
        got: dict[int, set[str]] = {}
        for queue, url in zip(self.queues, self.urls, strict=True):
            while received := aws.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
                for m in received:
                    got.setdefault(json.loads(m["Body"])["_id"], set()).add(queue)
                entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(received)]
                aws.sqs.delete_message_batch(QueueUrl=url, Entries=entries)
        return got


@contextmanager
def fanout(aws: Sns, name: str, subscriptions: Sequence[Subscription | None]) -> Iterator[Fanout]:
    """A new topic and a new queue per subscription (raw delivery, its filter policy if any),
    deleted afterwards."""
    tag = f"t{uuid.uuid4().hex[:8]}"
    topic = f"{tag}-{name}"
    queues = [f"{tag}-q{i}" for i in range(len(subscriptions))]
    topic_arn = aws.sns.create_topic(Name=topic)["TopicArn"]
    urls = [aws.sqs.create_queue(QueueName=q)["QueueUrl"] for q in queues]
    try:
        for queue, sub in zip(queues, subscriptions, strict=True):
            attributes = {"RawMessageDelivery": "true"}
            if sub is not None:
                attributes |= {"FilterPolicyScope": sub[0], "FilterPolicy": json.dumps(sub[1])}
            endpoint = f"arn:aws:sqs:{REGION}:{aws.account}:{queue}"
            aws.sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=endpoint, Attributes=attributes)
        yield Fanout(topic, topic_arn, queues, urls)
    finally:
        aws.sns.delete_topic(TopicArn=topic_arn)
        for url in urls:
            aws.sqs.delete_queue(QueueUrl=url)


@examples_against_a_real_broker
@given(
    subscriptions=st.lists(subscription, min_size=1, max_size=3),
    messages=st.lists(st.tuples(attribute_values, bodies), min_size=3, max_size=8),
)
def test_route_predicts_the_queues_sns_delivers_to(
    aws: Sns,
    subscriptions: list[tuple[str, dict[str, Any]] | None],
    messages: list[tuple[dict[str, Any], dict[str, Any]]],
) -> None:
    with fanout(aws, "topic", subscriptions) as fan:
        topology = aws.observed(fan.topic, fan.queues)
        TALLY.topologies += 1
        tally = Tally("one")
        source = Address(BROKER, "sns_topic", (fan.topic,))
        predicted = {}
        for n, (attributes, body) in enumerate(messages):
            text = json.dumps({**body, "_id": n})
            route = topology.route(Message(BROKER, source, headers=attributes, body=text))
            predicted[n] = {Address.parse(a).name[0] for a in route.addresses}
            fan.publish(aws, attributes, text)
        got = fan.received(aws)
        for n, (attributes, body) in enumerate(messages):
            tally.compare(f"{attributes} {body} vs {subscriptions}", predicted[n], got.get(n, set()))
            TALLY.routed += bool(predicted[n])
        TALLY.cases += tally.cases
        TALLY.disagreements += tally.disagreements
        tally.check()


# One subscription per operator, and messages on both sides of it: every operator moto implements as
# AWS documents it is checked explicitly, not only when the random policies happen to use it.
OPERATORS: list[tuple[str, dict[str, Any], list[dict[str, Any]]]] = [
    ("MessageAttributes", {"s1": ["red"]}, [{"s1": "red"}, {"s1": "Red"}, {}]),
    ("MessageAttributes", {"s1": [{"prefix": "re"}]}, [{"s1": "reddish"}, {"s1": "Red"}]),
    ("MessageAttributes", {"s1": [{"suffix": "sh"}]}, [{"s1": "reddish"}, {"s1": "red"}]),
    ("MessageAttributes", {"s1": [{"equals-ignore-case": "red"}]}, [{"s1": "Red"}, {"s1": "RED"}, {"s1": "blue"}]),
    ("MessageAttributes", {"s1": [{"anything-but": ["red", "blue"]}]}, [{"s1": "Red"}, {"s1": "red"}, {}]),
    ("MessageAttributes", {"s1": [{"anything-but": {"prefix": "re"}}]}, [{"s1": "Red"}, {"s1": "reddish"}]),
    ("MessageAttributes", {"n1": [5]}, [{"n1": 5}, {"n1": 6}]),
    ("MessageAttributes", {"n1": [{"numeric": [">", 0, "<=", 5]}]}, [{"n1": 5}, {"n1": 0}, {"n1": 6}]),
    ("MessageAttributes", {"n1": [{"anything-but": [1, 5]}]}, [{"n1": 5}, {"n1": 7}]),
    ("MessageAttributes", {"s1": [{"exists": True}]}, [{"s1": "x"}, {"n1": 1}]),
    ("MessageAttributes", {"s1": [{"exists": False}]}, [{"s1": "x"}, {"n1": 1}]),
    ("MessageAttributes", {"arr": ["red"]}, [{"arr": ["blue", "red"]}, {"arr": ["blue"]}, {"arr": []}]),
    ("MessageAttributes", {"$or": [{"s1": ["red"]}, {"n1": [1]}]}, [{"n1": 1}, {"s1": "red"}, {"s1": "blue"}]),
    ("MessageAttributes", {"s1": ["red"], "n1": [1]}, [{"s1": "red", "n1": 1}, {"s1": "red"}]),
    ("MessageBody", {"order": {"kind": ["red"]}}, [{"order": {"kind": "red"}}, {"order": {"kind": "blue"}}, {}]),
    ("MessageBody", {"amount": [{"numeric": [">=", 2, "<", 9]}]}, [{"amount": 2}, {"amount": 9}]),
    ("MessageBody", {"color": [{"prefix": "re"}], "amount": [1]}, [{"color": "red", "amount": 1}, {"color": "red"}]),
]


def test_each_filter_operator_routes_as_sns_delivers(aws: Sns) -> None:
    with fanout(aws, "ops", [(scope, policy) for scope, policy, _ in OPERATORS]) as fan:
        topology = aws.observed(fan.topic, fan.queues)
        source = Address(BROKER, "sns_topic", (fan.topic,))
        sent = [(scope, m) for scope, _, messages in OPERATORS for m in messages]
        predicted = {}
        for n, (scope, m) in enumerate(sent):
            attributes, body = (m, {}) if scope == "MessageAttributes" else ({}, m)
            text = json.dumps({**body, "_id": n})
            predicted[n] = {
                Address.parse(a).name[0]
                for a in topology.route(Message(BROKER, source, headers=attributes, body=text)).addresses
            }
            fan.publish(aws, attributes, text)
        got = fan.received(aws)
        tally = Tally("one")
        for n, (scope, m) in enumerate(sent):
            tally.compare(f"{scope} {m}", predicted[n], got.get(n, set()))
        TALLY.cases += tally.cases
        TALLY.routed += sum(bool(p) for p in predicted.values())
        # Each operator both accepted and refused something: the table is not vacuous.
        for i, queue in enumerate(fan.queues):
            assert any(queue in p for p in predicted.values()), OPERATORS[i]
        tally.check()
