"""The resource kinds of the AWS provider and how the engine diffs them.

    sqs_queue         <broker>/sqs_queue/<queue>
    sns_topic         <broker>/sns_topic/<topic>
    sns_subscription  <broker>/sns_subscription/<topic>/<protocol>/<endpoint>

A subscription's endpoint is the queue NAME when it delivers to a queue of this broker (account
and region), else the endpoint as AWS has it (an ARN, a URL, an e-mail address).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass

from topoctl.model import JSON, FieldChange, Resource
from topoctl.providers.aws.attributes import BYTES, QUEUE_ATTRS, SECONDS, STR, SUBSCRIPTION_ATTRS, TOPIC_ATTRS, Attr
from topoctl.providers.aws.documents import without_composed
from topoctl.providers.base import KindSpec

SQS_QUEUE = "sqs_queue"
SNS_TOPIC = "sns_topic"
SNS_SUBSCRIPTION = "sns_subscription"

PENDING = "pending_confirmation"
DEAD_LETTER_FOR = "dead_letter_for"  # info of a queue: addresses of what dead-letters into it
DANGLING = "dangling"  # info: what a live object points at that does not exist (see references.py)


@dataclass(frozen=True)
class AwsKind(KindSpec):
    """Compares in the placeholder form of ARNs (see arns.py).

    The observed side is already in that form; the desired side may hold literal ARNs with the
    real account id (written by hand in a policy), so it is normalised with the account the
    driver found (`observed.info["account"]`) before comparing."""

    attributes: Mapping[str, Attr] = dataclasses.field(default_factory=dict)

    def field_changes(self, desired: Resource, observed: Resource) -> list[FieldChange]:
        account = observed.info.get("account")
        if isinstance(account, str) and account:
            attrs: dict[str, JSON] = {}
            for key, value in desired.attrs.items():
                attr = self.attributes.get(key)
                attrs[key] = attr.normalise(value, account) if attr is not None else value
            desired = dataclasses.replace(desired, attrs=attrs)
        return super().field_changes(desired, observed)

    def notes(self, desired: Resource, observed: Resource) -> list[str]:
        dangling = observed.info.get(DANGLING)
        return [str(n) for n in dangling] if isinstance(dangling, list) else []

    def equal(self, field: str, desired: JSON, observed: JSON) -> bool:
        attr = self.attributes.get(field)
        if attr is not None and attr.codec == STR and desired == "" and observed is None:
            return True  # AWS leaves out a string attribute that is empty (no KMS key, no display name)
        return super().equal(field, desired, observed)


@dataclass(frozen=True)
class QueueKind(AwsKind):
    def at_risk(self, observed: Resource) -> list[str]:
        risks = super().at_risk(observed)
        sources = observed.info.get(DEAD_LETTER_FOR)
        if isinstance(sources, list) and sources:
            risks.append(
                f"it is the dead-letter queue of {', '.join(map(str, sources))}: their redrive points nowhere after"
            )
        return risks

    def field_changes(self, desired: Resource, observed: Resource) -> list[FieldChange]:
        changes = super().field_changes(desired, observed)
        if "policy" not in desired.attrs:
            # No topic delivers here any more and no policy is declared: take back the statements
            # topoctl composed earlier (they name topics that no longer send), keep the rest.
            live = observed.attrs.get("policy")
            left = without_composed(live)
            if left != live:
                changes.append(FieldChange("policy", live, left))
        return changes


@dataclass(frozen=True)
class TopicKind(AwsKind):
    def at_risk(self, observed: Resource) -> list[str]:
        count = observed.info.get("subscriptions")
        if isinstance(count, int) and count > 0:
            return [f"{count} subscription{'s' if count != 1 else ''} will be deleted with it"]
        return []


@dataclass(frozen=True)
class SubscriptionKind(AwsKind):
    def field_changes(self, desired: Resource, observed: Resource) -> list[FieldChange]:
        if observed.info.get(PENDING):
            # AWS shows neither the attributes nor the ARN of a subscription waiting for its
            # endpoint to confirm, and refuses to change or delete it: change nothing (see notes).
            return []
        return super().field_changes(desired, observed)

    def notes(self, desired: Resource, observed: Resource) -> list[str]:
        if observed.info.get(PENDING):
            return ["pending confirmation by its endpoint: AWS shows and changes nothing of it until then"]
        return super().notes(desired, observed)

    def at_risk(self, observed: Resource) -> list[str]:
        return []


# So plans show `visibility_timeout = 30s -> 2m` and `maximum_message_size = 256KiB`.
_QUEUE_UNITS = {
    a.key: "s" if a.codec == SECONDS else "bytes" for a in QUEUE_ATTRS.values() if a.codec in (SECONDS, BYTES)
}

QUEUE = QueueKind(SQS_QUEUE, immutable=frozenset({"fifo"}), rank=10, units=_QUEUE_UNITS, attributes=QUEUE_ATTRS)
# A topic's delete takes its subscriptions (they depend on it, and `subscriptions` counts also those
# of other accounts, which are not read); a subscription holds no messages.
TOPIC = TopicKind(
    SNS_TOPIC,
    immutable=frozenset({"fifo"}),
    cascades=True,
    rank=20,
    risk_counts=("subscriptions",),
    attributes=TOPIC_ATTRS,
)
SUBSCRIPTION = SubscriptionKind(SNS_SUBSCRIPTION, rank=30, risk_counts=(), attributes=SUBSCRIPTION_ATTRS)

KINDS: Mapping[str, KindSpec] = {k.kind: k for k in (QUEUE, TOPIC, SUBSCRIPTION)}
