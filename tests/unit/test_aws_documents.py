"""JSON attributes compare by meaning; ARNs carry the {account} placeholder both ways."""

from __future__ import annotations

import json

from topoctl.model import Address, Resource
from topoctl.providers.aws import arns
from topoctl.providers.aws.attributes import QUEUE_ATTRS, SUBSCRIPTION_ATTRS
from topoctl.providers.aws.kinds import QUEUE

ACCOUNT = "123456789012"


def test_redrive_policy_count_as_string_or_number() -> None:
    attr = QUEUE_ATTRS["redrive_policy"]
    text = '{"maxReceiveCount": "5", "deadLetterTargetArn": "arn:aws:sqs:us-east-1:123456789012:d"}'
    want = {"deadLetterTargetArn": "arn:aws:sqs:us-east-1:{account}:d", "maxReceiveCount": 5}
    assert attr.decode(text, ACCOUNT) == want
    assert (
        attr.normalise({"deadLetterTargetArn": "arn:aws:sqs:us-east-1:{account}:d", "maxReceiveCount": "5"}, None)
        == want
    )


def test_policy_equivalences() -> None:
    attr = QUEUE_ATTRS["policy"]
    a = {
        "Version": "2012-10-17",
        "Statement": {
            "Effect": "Allow",
            "Principal": "*",
            "Action": "sqs:SendMessage",
            "Resource": "arn:aws:sqs:us-east-1:123456789012:q",
            "Condition": {"ArnEquals": {"aws:SourceArn": "arn:aws:sns:us-east-1:123456789012:t"}},
        },
    }
    b = (
        '{"Statement": [{"Condition": {"ArnEquals": {"aws:SourceArn": ["arn:aws:sns:us-east-1:123456789012:t"]}},'
        ' "Resource": ["arn:aws:sqs:us-east-1:123456789012:q"], "Action": ["sqs:SendMessage"],'
        ' "Principal": {"AWS": ["*"]}, "Effect": "Allow"}], "Version": "2012-10-17"}'
    )
    assert attr.normalise(a, ACCOUNT) == attr.decode(b, ACCOUNT)
    assert attr.normalise(a, ACCOUNT)["Statement"][0]["Resource"] == ["arn:aws:sqs:us-east-1:{account}:q"]


def test_policy_statement_order_does_not_matter_but_content_does() -> None:
    attr = QUEUE_ATTRS["policy"]
    s1 = {"Sid": "1", "Effect": "Allow", "Principal": "*", "Action": "sqs:SendMessage", "Resource": "*"}
    s2 = {"Sid": "2", "Effect": "Deny", "Principal": "*", "Action": "sqs:DeleteQueue", "Resource": "*"}
    assert attr.normalise({"Statement": [s1, s2]}, None) == attr.normalise({"Statement": [s2, s1]}, None)
    assert attr.normalise({"Statement": [s1]}, None) != attr.normalise({"Statement": [s1 | {"Effect": "Deny"}]}, None)


def test_bare_account_principal_is_the_root_arn() -> None:
    attr = QUEUE_ATTRS["policy"]
    short = {"Statement": [{"Effect": "Allow", "Principal": {"AWS": "111122223333"}, "Action": "sqs:*"}]}
    long = {
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": ["arn:aws:iam::111122223333:root"]}, "Action": "sqs:*"}]
    }
    assert attr.normalise(short, None) == attr.normalise(long, None)


def test_bare_own_account_principal_matches_placeholder_root() -> None:
    attr = QUEUE_ATTRS["policy"]
    live = {"Statement": [{"Effect": "Allow", "Principal": {"AWS": ACCOUNT}, "Action": "sqs:*"}]}
    declared = {
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::{account}:root"}, "Action": "sqs:*"}]
    }
    assert attr.normalise(live, ACCOUNT) == attr.normalise(declared, ACCOUNT)


def test_filter_policy_alternatives_sorted_operators_kept() -> None:
    attr = SUBSCRIPTION_ATTRS["filter_policy"]
    a = attr.decode('{"b": {"c": ["y", "x"]}, "n": [{"numeric": [">", 10, "<", 2]}], "t": ["z", "a"]}', None)
    assert a == {"b": {"c": ["x", "y"]}, "n": [{"numeric": [">", 10, "<", 2]}], "t": ["a", "z"]}


def test_empty_and_missing_documents() -> None:
    attr = QUEUE_ATTRS["policy"]
    assert attr.decode("", ACCOUNT) is None
    assert attr.encode(None, ACCOUNT) == ""


def test_symbolise_only_the_own_account() -> None:
    value = {"a": ["arn:aws:sqs:us-east-1:123456789012:q", "arn:aws:sqs:us-east-1:999999999999:q"]}
    assert arns.symbolise(value, ACCOUNT) == {
        "a": ["arn:aws:sqs:us-east-1:{account}:q", "arn:aws:sqs:us-east-1:999999999999:q"]
    }
    assert arns.resolve(arns.symbolise(value, ACCOUNT), ACCOUNT) == value


def test_own_queue_name() -> None:
    assert arns.own_queue_name("arn:aws:sqs:us-east-1:123456789012:q.fifo", "us-east-1", ACCOUNT) == "q.fifo"
    assert arns.own_queue_name("arn:aws:sqs:eu-west-1:123456789012:q", "us-east-1", ACCOUNT) is None
    assert arns.own_queue_name("arn:aws:sqs:us-east-1:999999999999:q", "us-east-1", ACCOUNT) is None
    assert arns.partition("cn-north-1") == "aws-cn"


def test_literal_own_account_arn_in_manifest_matches_observed_placeholder() -> None:
    address = Address("b", "sqs_queue", ("q",))
    literal = {
        "Statement": [
            {"Effect": "Allow", "Principal": "*", "Action": "sqs:*", "Resource": "arn:aws:sqs:us-east-1:123456789012:q"}
        ]
    }
    desired = Resource(address, {"policy": QUEUE_ATTRS["policy"].normalise(literal, None)})
    observed = Resource(
        address, {"policy": QUEUE_ATTRS["policy"].normalise(literal, ACCOUNT)}, info={"account": ACCOUNT}
    )
    assert QUEUE.field_changes(desired, observed) == []
    changed = Resource(address, {"policy": None}, info={"account": ACCOUNT})
    assert [c.field for c in QUEUE.field_changes(desired, changed)] == ["policy"]


def test_fifo_change_forces_replacement() -> None:
    address = Address("b", "sqs_queue", ("q",))
    (change,) = QUEUE.field_changes(Resource(address, {"fifo": True}), Resource(address, {"fifo": False}))
    assert change.forces_replacement


def test_composed_statements_are_taken_back_when_no_topic_delivers() -> None:
    address = Address("b", "sqs_queue", ("q",))
    mine = {"Sid": "mine", "Effect": "Allow", "Principal": "*", "Action": "sqs:GetQueueAttributes", "Resource": "*"}
    composed = {"Sid": "topoctl-sns-gone", "Effect": "Allow", "Principal": {"Service": "sns.amazonaws.com"}}
    attr = QUEUE_ATTRS["policy"]
    live = attr.normalise({"Version": "2012-10-17", "Statement": [mine, composed]}, None)
    (change,) = QUEUE.field_changes(
        Resource(address, {"fifo": False}), Resource(address, {"fifo": False, "policy": live})
    )
    assert change.field == "policy"
    assert change.after == attr.normalise({"Version": "2012-10-17", "Statement": [mine]}, None)
    only_composed = attr.normalise({"Statement": [composed]}, None)
    (change,) = QUEUE.field_changes(Resource(address, {}), Resource(address, {"policy": only_composed}))
    assert change.after is None
    untouched = attr.normalise({"Statement": [mine]}, None)
    assert QUEUE.field_changes(Resource(address, {}), Resource(address, {"policy": untouched})) == []


def test_condition_values_compare_as_the_strings_iam_sees() -> None:
    # IAM compares condition values as strings: `true`, "true" and ["true"] are one condition.
    attr = QUEUE_ATTRS["policy"]

    def policy(condition: object) -> object:
        statement = {"Effect": "Deny", "Principal": "*", "Action": "sqs:*", "Resource": "*", "Condition": condition}
        return attr.normalise({"Statement": [statement]}, ACCOUNT)

    declared = policy({"Bool": {"aws:SecureTransport": False}, "NumericLessThan": {"s3:max-keys": 10}})
    live = attr.decode(
        '{"Statement": [{"Effect": "Deny", "Principal": {"AWS": "*"}, "Action": "sqs:*", "Resource": "*",'
        ' "Condition": {"Bool": {"aws:SecureTransport": "false"}, "NumericLessThan": {"s3:max-keys": ["10"]}}}]}',
        ACCOUNT,
    )
    assert declared == live


def test_bare_account_placeholder_principal_is_the_root_arn() -> None:
    # IAM stores a bare account id as the account's root ARN; `{account}` is a bare id too.
    attr = QUEUE_ATTRS["policy"]
    statement = {"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "*"}
    declared = attr.normalise({"Statement": [{**statement, "Principal": {"AWS": "{account}"}}]}, ACCOUNT)
    live = attr.decode(
        json.dumps({"Statement": [{**statement, "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}}]}), ACCOUNT
    )
    assert declared == live


def test_queue_durations_and_sizes_carry_their_units_for_plans() -> None:
    assert QUEUE.units["visibility_timeout"] == "s"
    assert QUEUE.units["maximum_message_size"] == "bytes"
    assert "policy" not in QUEUE.units and "fifo" not in QUEUE.units
