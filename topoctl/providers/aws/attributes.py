"""The SQS and SNS attributes topoctl manages: manifest key, wire name, and how values convert.

Everything is a string on the wire. In `Resource.attrs` values are normalised: durations in
seconds (the SQS unit) and sizes in bytes as ints, flags as bools, JSON documents parsed and in
their canonical form (see documents.py), with the account id written as `{account}`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from topoctl.model import JSON
from topoctl.providers.aws import arns
from topoctl.providers.aws.documents import (
    Canonical,
    canonical_filter,
    canonical_plain,
    canonical_policy,
    canonical_redrive,
    canonical_redrive_allow,
    encode,
    parse,
)

SECONDS, BYTES, BOOL, STR, DOC = "seconds", "bytes", "bool", "str", "json"


@dataclass(frozen=True)
class Attr:
    key: str  # in the manifest and in Resource.attrs
    wire: str  # the AWS attribute name
    codec: str  # SECONDS, BYTES, BOOL, STR or DOC
    canonical: Canonical = canonical_plain  # for DOC
    low: int | None = None
    high: int | None = None
    choices: tuple[str, ...] = ()
    fifo_only: bool = False
    doc: str = ""

    def decode(self, text: str | None, account: str | None) -> JSON:
        """Wire text -> normalised value."""
        if text is None:
            return None
        if self.codec in (SECONDS, BYTES):
            try:
                return int(text)
            except ValueError:
                return text
        if self.codec == BOOL:
            return text.strip().lower() == "true"
        if self.codec == DOC:
            return self.normalise(parse(text, canonical_plain), account)
        return arns.symbolise(text, account)

    def normalise(self, value: JSON, account: str | None) -> JSON:
        """A value in attrs form, with `account` turned into the placeholder."""
        if self.codec != DOC:
            return arns.symbolise(value, account)
        # Canonical first (a bare account id becomes an ARN), then again after the placeholder
        # changed the strings that sets are sorted by.
        return self.canonical(arns.symbolise(self.canonical(value), account))

    def encode(self, value: JSON, account: str) -> str:
        """Normalised value -> wire text, placeholders resolved."""
        value = arns.resolve(value, account)
        if self.codec == BOOL:
            return "true" if value else "false"
        if self.codec == DOC:
            return encode(value)
        return "" if value is None else str(value)


def _table(*attrs: Attr) -> Mapping[str, Attr]:
    return {a.key: a for a in attrs}


QUEUE_ATTRS = _table(
    Attr("fifo", "FifoQueue", BOOL),
    Attr("visibility_timeout", "VisibilityTimeout", SECONDS, low=0, high=43_200),
    Attr("message_retention_period", "MessageRetentionPeriod", SECONDS, low=60, high=1_209_600),
    Attr("delay_seconds", "DelaySeconds", SECONDS, low=0, high=900),
    Attr("maximum_message_size", "MaximumMessageSize", BYTES, low=1024, high=1_048_576),
    Attr("receive_message_wait_time", "ReceiveMessageWaitTimeSeconds", SECONDS, low=0, high=20),
    Attr("content_based_deduplication", "ContentBasedDeduplication", BOOL, fifo_only=True),
    Attr("deduplication_scope", "DeduplicationScope", STR, choices=("messageGroup", "queue"), fifo_only=True),
    Attr(
        "fifo_throughput_limit",
        "FifoThroughputLimit",
        STR,
        choices=("perQueue", "perMessageGroupId"),
        fifo_only=True,
    ),
    Attr("kms_master_key_id", "KmsMasterKeyId", STR),
    Attr("kms_data_key_reuse_period", "KmsDataKeyReusePeriodSeconds", SECONDS, low=60, high=86_400),
    Attr("sqs_managed_sse_enabled", "SqsManagedSseEnabled", BOOL),
    Attr("policy", "Policy", DOC, canonical_policy),
    Attr("redrive_policy", "RedrivePolicy", DOC, canonical_redrive),
    Attr("redrive_allow_policy", "RedriveAllowPolicy", DOC, canonical_redrive_allow),
)

TOPIC_ATTRS = _table(
    Attr("fifo", "FifoTopic", BOOL),
    Attr("display_name", "DisplayName", STR),
    Attr("delivery_policy", "DeliveryPolicy", DOC),
    Attr("policy", "Policy", DOC, canonical_policy),
    Attr("kms_master_key_id", "KmsMasterKeyId", STR),
    Attr("content_based_deduplication", "ContentBasedDeduplication", BOOL, fifo_only=True),
    Attr("signature_version", "SignatureVersion", STR, choices=("1", "2")),
    Attr("tracing_config", "TracingConfig", STR, choices=("PassThrough", "Active")),
)

SUBSCRIPTION_ATTRS = _table(
    Attr("raw_message_delivery", "RawMessageDelivery", BOOL),
    Attr("filter_policy", "FilterPolicy", DOC, canonical_filter),
    Attr("filter_policy_scope", "FilterPolicyScope", STR, choices=("MessageAttributes", "MessageBody")),
    Attr("delivery_policy", "DeliveryPolicy", DOC),
    Attr("redrive_policy", "RedrivePolicy", DOC),
    Attr("subscription_role_arn", "SubscriptionRoleArn", STR),
)

# Keys of attrs that are not attributes in the tables above.
TAGS = "tags"

# What a queue without a RedriveAllowPolicy does: any queue of the account may dead-letter into
# it. So a declared `{redrivePermission: allowAll}` matches a queue that reports none.
DEFAULT_REDRIVE_ALLOW: JSON = {"redrivePermission": "allowAll"}


def decode_all(table: Mapping[str, Attr], wire: Mapping[str, str], account: str | None) -> dict[str, JSON]:
    out: dict[str, JSON] = {}
    for attr in table.values():
        if attr.wire in wire:
            value = attr.decode(wire[attr.wire], account)
            if value is not None:
                out[attr.key] = value
    return out


def encode_all(table: Mapping[str, Attr], attrs: Mapping[str, JSON], account: str) -> dict[str, str]:
    return {table[k].wire: table[k].encode(v, account) for k, v in attrs.items() if k in table}
