"""`topoctl graph` edges of the AWS provider."""

from __future__ import annotations

from topoctl.model import Address, Resource
from topoctl.providers.aws.flows import flows

B = "cloud"


def test_a_queue_elsewhere_with_a_declared_name_is_not_the_declared_queue() -> None:
    remote = "arn:aws:sqs:eu-west-1:111122223333:billing"
    own = "arn:aws:sqs:us-east-1:{account}:billing-dlq"
    desired = [
        Resource(Address(B, "sqs_queue", ("billing",)), {"redrive_policy": {"deadLetterTargetArn": own}}),
        Resource(Address(B, "sqs_queue", ("billing-dlq",)), {}),
        Resource(Address(B, "sqs_queue", ("audit",)), {"redrive_policy": {"deadLetterTargetArn": remote}}),
        Resource(Address(B, "sns_topic", ("t",)), {}),
        Resource(Address(B, "sns_subscription", ("t", "sqs", remote)), {}),
        Resource(Address(B, "sns_subscription", ("t", "sqs", "billing")), {}),
    ]
    edges = {(str(f.source), str(f.target)) for f in flows(desired)}
    assert edges == {
        (f"{B}/sqs_queue/billing", f"{B}/sqs_queue/billing-dlq"),
        (f"{B}/sqs_queue/audit", f"{B}/sqs_endpoint/{remote}"),
        (f"{B}/sns_topic/t", f"{B}/sqs_endpoint/{remote}"),
        (f"{B}/sns_topic/t", f"{B}/sqs_queue/billing"),
    }
