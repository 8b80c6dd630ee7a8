"""`topoctl graph` for SQS/SNS: topic -> subscribed queue (or other endpoint), queue -> its
dead-letter queue (RedrivePolicy), topic -> the DLQ of a subscription's failed deliveries."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from topoctl.model import JSON, Address, Resource
from topoctl.providers.aws.arns import ACCOUNT
from topoctl.providers.aws.kinds import SNS_SUBSCRIPTION, SNS_TOPIC, SQS_QUEUE
from topoctl.providers.base import Flow

NODE_KINDS = frozenset({SQS_QUEUE, SNS_TOPIC})
DEAD_LETTERS = "dead letters"


def flows(desired: Sequence[Resource]) -> list[Flow]:
    queues = {r.address.name[0] for r in desired if r.kind == SQS_QUEUE}
    out: list[Flow] = []
    for r in desired:
        if r.kind == SQS_QUEUE:
            target = _dead_letter_target(r.broker, r.attrs.get("redrive_policy"), queues)
            if target is not None:
                count = _redrive(r.attrs.get("redrive_policy")).get("maxReceiveCount")
                label = f"{DEAD_LETTERS} after {count} receives" if count else DEAD_LETTERS
                out.append(Flow(r.address, target, label, dead_letter=True))
        elif r.kind == SNS_SUBSCRIPTION:
            out += _subscription(r, queues)
    return out


def _subscription(r: Resource, queues: set[str]) -> list[Flow]:
    topic_name, protocol, endpoint = r.address.name
    topic = Address(r.broker, SNS_TOPIC, (topic_name,))
    name = _queue_name(endpoint) if protocol == "sqs" else None
    target = (
        Address(r.broker, SQS_QUEUE, (name,))
        if name is not None and name in queues
        else Address(r.broker, f"{protocol}_endpoint", (endpoint,))  # outside the manifest: still drawn
    )
    out = [Flow(topic, target, _filter_label(r.attrs.get("filter_policy")))]
    dlq = _dead_letter_target(r.broker, r.attrs.get("redrive_policy"), queues)
    if dlq is not None:
        out.append(Flow(topic, dlq, f"{DEAD_LETTERS}: undeliverable to {name or endpoint}", dead_letter=True))
    return out


def _redrive(policy: JSON) -> Mapping[str, JSON]:
    return policy if isinstance(policy, Mapping) else {}


def _dead_letter_target(broker: str, policy: JSON, queues: set[str]) -> Address | None:
    arn = _redrive(policy).get("deadLetterTargetArn")
    if not isinstance(arn, str):
        return None
    name = _queue_name(arn)
    if name is not None and name in queues:
        return Address(broker, SQS_QUEUE, (name,))
    return Address(broker, "sqs_endpoint", (arn,))


def _queue_name(endpoint: str) -> str | None:
    """A queue of this broker: a plain name, or an ARN as the compiler writes them for its own
    queues (`arn:aws:sqs:<region>:{account}:<name>`). Any other ARN is a queue elsewhere, even if
    its name is the same as one declared here."""
    if not endpoint.startswith("arn:"):
        return endpoint
    parts = endpoint.split(":")
    return parts[5] if len(parts) == 6 and parts[2] == "sqs" and parts[4] == ACCOUNT else None


def _filter_label(policy: JSON) -> str:
    """`{type: [created, cancelled]}` -> `type: created, cancelled`; nested policies just say `filtered`."""
    if not isinstance(policy, Mapping) or not policy:
        return ""
    parts = []
    for key, values in sorted(policy.items()):
        if isinstance(values, list) and all(isinstance(v, (str, int, float)) for v in values):
            parts.append(f"{key}: {', '.join(str(v) for v in values)}")
        else:
            return "filtered"
    return "; ".join(parts)
