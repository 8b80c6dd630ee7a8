"""SNS filter policies, pinned to the examples of Amazon SNS's documentation ("Amazon SNS message
filtering": string, numeric, key and IP address matching, AND/OR logic, message body filtering).
tests/integration/test_routing_sns_real.py checks them against moto where moto implements them."""

from __future__ import annotations

import json
from typing import Any

import pytest

from topoctl.errors import RouteError
from topoctl.model import JSON, Address, Resource
from topoctl.providers.aws.kinds import PENDING
from topoctl.providers.aws.routing import ROUTER, SnsTopology, accepts, examples
from topoctl.routing.model import Message, Request

ATTRS = "MessageAttributes"
CI = "customer_interests"
BODY = "MessageBody"


def on_attributes(policy: JSON, attributes: dict[str, Any]) -> bool:
    return accepts(policy, ATTRS, attributes, None)


def on_body(policy: JSON, body: dict[str, Any]) -> bool:
    return accepts(policy, BODY, {}, json.dumps(body))


@pytest.mark.parametrize(
    ("policy", "attributes", "matches"),
    [
        # String value matching
        ({CI: ["rugby", "tennis"]}, {CI: "rugby"}, True),
        ({CI: ["rugby", "tennis"]}, {CI: ["rugby", "tennis"]}, True),
        ({CI: ["rugby", "tennis"]}, {CI: "baseball"}, False),
        ({CI: ["rugby", "tennis"]}, {CI: ["baseball"]}, False),
        ({CI: ["rugby"]}, {CI: "Rugby"}, False),  # case-sensitive
        ({CI: [{"anything-but": ["rugby", "tennis"]}]}, {CI: "baseball"}, True),
        ({CI: [{"anything-but": ["rugby", "tennis"]}]}, {CI: "rugby"}, False),
        ({CI: [{"anything-but": ["rugby", "tennis"]}]}, {}, False),  # must exist
        # String.Array: "it matches if none of the array elements are listed"
        (
            {CI: [{"anything-but": ["rugby", "tennis"]}]},
            {CI: ["rugby", "x"]},
            False,
        ),
        ({CI: [{"anything-but": "rugby"}]}, {CI: "tennis"}, True),
        ({CI: [{"anything-but": {"prefix": "bas"}}]}, {CI: "baseball"}, False),
        ({CI: [{"anything-but": {"prefix": "bas"}}]}, {CI: "rugby"}, True),
        ({CI: [{"anything-but": {"suffix": "ball"}}]}, {CI: "rugby"}, True),
        (
            {CI: [{"anything-but": {"equals-ignore-case": ["Rugby"]}}]},
            {CI: "RUGBY"},
            False,
        ),
        ({CI: [{"equals-ignore-case": "tennis"}]}, {CI: "TENNIS"}, True),
        ({CI: [{"equals-ignore-case": "TENNIS"}]}, {CI: "Tennis"}, True),
        ({CI: [{"prefix": "bas"}]}, {CI: "baseball"}, True),
        ({CI: [{"prefix": "bas"}]}, {CI: "rugby"}, False),
        ({CI: [{"suffix": "ball"}]}, {CI: "baseball"}, True),
        ({CI: [{"prefix": {"equals-ignore-case": "BAS"}}]}, {CI: "baseball"}, True),
        # Numeric value matching (5 digits after the point; 3.015e2 is 301.5)
        ({"price_usd": [{"numeric": ["=", 301.5]}]}, {"price_usd": 3.015e2}, True),
        ({"price_usd": [301.5]}, {"price_usd": 301.5}, True),
        ({"price_usd": ["301.5"]}, {"price_usd": 301.5}, False),  # a string is not a number
        ({"price": [{"anything-but": [100, 500]}]}, {"price": 101}, True),
        ({"price": [{"anything-but": [100, 500]}]}, {"price": 100}, False),
        ({"price_usd": [{"numeric": ["<", 0]}]}, {"price_usd": -1}, True),
        ({"price_usd": [{"numeric": [">", 0, "<=", 150]}]}, {"price_usd": 150}, True),
        ({"price_usd": [{"numeric": [">", 0, "<=", 150]}]}, {"price_usd": 150.00001}, False),
        ({"price_usd": [{"numeric": [">", 0, "<=", 150]}]}, {"price_usd": 0}, False),
        # Key matching
        ({"store": [{"exists": True}]}, {"store": "example_corp"}, True),
        ({"store": [{"exists": True}]}, {"event": "order_placed"}, False),
        ({"store": [{"exists": False}]}, {"event": "order_placed"}, True),
        ({"store": [{"exists": False}]}, {"store": "example_corp"}, False),
        ({"store": ["x", {"exists": False}]}, {}, True),  # OR within a key, even when it is missing
        ({"arr": [{"exists": True}]}, {"arr": []}, True),  # an empty String.Array is there
        ({"arr": [{"exists": False}]}, {"arr": []}, False),
        # IP address matching
        ({"source_ip": [{"cidr": "10.0.0.0/24"}]}, {"source_ip": "10.0.0.255"}, True),
        ({"source_ip": [{"cidr": "10.0.0.0/24"}]}, {"source_ip": "10.0.1.0"}, False),
        ({"source_ip": [{"cidr": "2001:db8::/32"}]}, {"source_ip": "2001:db8::1"}, True),
        ({"source_ip": [{"cidr": "10.0.0.0/24"}]}, {"source_ip": "not an address"}, False),
        # AND / OR logic
        (
            {CI: ["rugby"], "price_usd": [{"numeric": [">", 100]}]},
            {CI: "rugby", "price_usd": 100},
            False,
        ),
        (
            {"source": ["aws.cloudwatch"], "$or": [{"metricName": ["CPUUtilization"]}, {"namespace": ["AWS/EC2"]}]},
            {"source": "aws.cloudwatch", "namespace": "AWS/EC2"},
            True,
        ),
        (
            {"source": ["aws.cloudwatch"], "$or": [{"metricName": ["CPUUtilization"]}, {"namespace": ["AWS/EC2"]}]},
            {"source": "aws.cloudwatch"},
            False,
        ),
        ({}, {}, True),
        (None, {"anything": "x"}, True),
    ],
)
def test_attribute_policies(policy: JSON, attributes: dict[str, Any], matches: bool) -> None:
    assert on_attributes(policy, attributes) is matches


@pytest.mark.parametrize(
    ("policy", "body", "matches"),
    [
        ({"order": {"status": ["paid"]}}, {"order": {"status": "paid"}}, True),
        ({"order": {"status": ["paid"]}}, {"order": {"status": "open"}}, False),
        ({"order": {"status": ["paid"]}}, {"status": "paid"}, False),
        ({"order": {"status": [{"exists": False}]}}, {}, True),  # missing parent: missing leaf
        (
            {"Records": {"eventName": [{"prefix": "ObjectCreated:"}]}},
            {"Records": [{"eventName": "x"}, {"eventName": "ObjectCreated:Put"}]},
            True,
        ),
        ({CI: ["rugby"]}, {CI: ["baseball", "rugby"]}, True),
        ({CI: [{"anything-but": ["rugby"]}]}, {CI: ["baseball", "rugby"]}, False),
        ({"flag": [True]}, {"flag": True}, True),
        ({"flag": [True]}, {"flag": 1}, False),
        ({"gone": [None]}, {"gone": None}, True),
        ({"gone": [{"exists": True}]}, {"gone": None}, True),
        ({"amount": [{"numeric": [">=", 10]}]}, {"amount": "10"}, False),
        ({"a": ["x"], "$or": [{"b": ["y"]}, {"c": {"d": ["z"]}}]}, {"a": "x", "c": {"d": "z"}}, True),
    ],
)
def test_body_policies(policy: JSON, body: dict[str, Any], matches: bool) -> None:
    assert on_body(policy, body) is matches


def test_a_body_that_is_not_a_json_object_matches_no_body_policy() -> None:
    assert not accepts({"a": ["x"]}, BODY, {}, "plain text")
    assert not accepts({"a": ["x"]}, BODY, {}, "[1, 2]")
    assert accepts({}, BODY, {}, "plain text")


B = "cloud"


def sub(topic: str, queue: str, policy: JSON = None, scope: str | None = None, **info: Any) -> Resource:
    attrs: dict[str, JSON] = {}
    if policy is not None:
        attrs["filter_policy"] = policy
    if scope is not None:
        attrs["filter_policy_scope"] = scope
    return Resource(Address(B, "sns_subscription", (topic, "sqs", queue)), attrs, info=info)


def resources() -> list[Resource]:
    return [
        Resource(Address(B, "sns_topic", ("orders",)), {}),
        Resource(Address(B, "sqs_queue", ("billing",)), {}),
        Resource(Address(B, "sqs_queue", ("all",)), {}),
        sub("orders", "billing", {"type": ["created"]}),
        sub("orders", "all"),
        sub("orders", "arn:aws:sqs:us-east-1:{account}:late", **{PENDING: True}),
        Resource(Address(B, "sns_subscription", ("orders", "https", "https://example.com/hook")), {}),
    ]


def test_topic_routes_to_subscriptions_and_their_queues() -> None:
    topology = SnsTopology(B, resources())
    source = Address(B, "sns_topic", ("orders",))
    found = topology.route(Message(B, source, headers={"type": "created"}))
    assert [str(d.address) for d in found.destinations] == [
        "cloud/sns_subscription/orders/https/https:%2F%2Fexample.com%2Fhook",
        "cloud/sqs_queue/all",
        "cloud/sqs_queue/billing",
    ]
    assert [str(h.address) for h in found.destinations[2].path] == [
        "cloud/sns_topic/orders",
        "cloud/sns_subscription/orders/sqs/billing",
        "cloud/sqs_queue/billing",
    ]
    with pytest.raises(RouteError, match="no SNS topic"):
        topology.route(Message(B, Address(B, "sns_topic", ("nope",))))


def test_examples_exercise_every_condition() -> None:
    policy = {
        "type": ["created", {"prefix": "order-"}],
        "amount": [{"numeric": [">", 100]}],
        "region": [{"anything-but": ["eu"]}],
        "store": [{"exists": False}],
    }
    found = examples(policy, body=False)
    assert found[0] == {"type": "created", "amount": 99, "region": "eu"}
    assert {"type": "order-", "amount": 99, "region": "eu"} in found
    assert {"type": "created", "amount": 101, "region": "eu"} in found
    assert {"type": "created", "amount": 99, "region": "other"} in found
    assert examples({"$or": [{"a": ["x"]}, {"b": [1]}]}, body=False) == [{"a": "x"}, {"b": 1}]
    assert examples({"order": {"status": ["paid", "open"]}}, body=True) == [
        {"order": {"status": "paid"}},
        {"order": {"status": "open"}},
    ]


@pytest.mark.parametrize(
    ("request_", "error"),
    [
        (Request(source="cloud/sns_topic/t", routing_key="k"), "--routing-key is not for an SNS"),
        (Request(source="cloud/sns_topic/t", headers=("a=1",)), "--header is for RabbitMQ"),
        (Request(source="cloud/sns_topic/t", attributes=("a:=true",)), "String"),
        (Request(source="cloud/sqs_queue/q"), "expected an SNS topic"),
        (Request(), "--from"),
    ],
)
def test_request_errors(request_: Request, error: str) -> None:
    with pytest.raises(RouteError, match=error):
        ROUTER.message(B, request_)


def test_typed_attributes() -> None:
    message = ROUTER.message(B, Request(source="cloud/sns_topic/t", attributes=("a=1", "n:=5", 'l:=["x","y"]')))
    assert message.headers == {"a": "1", "n": 5, "l": ["x", "y"]}
    assert message.to_json()["attributes"] == {"a": "1", "n": 5, "l": ["x", "y"]}
