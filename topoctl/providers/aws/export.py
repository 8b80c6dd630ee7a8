"""Observed SQS queues, SNS topics and subscriptions -> the `sqs:` / `sns:` section of a manifest
(`topoctl export`).

Only what differs from AWS's defaults is written (leaving a field out never makes a diff: only
declared fields are compared), durations in manifest units (`4d`, `45s`), sizes as `256KiB`.
Redrive policies come out as `dead_letter:` naming the queue, the only way the manifest says it.
A queue policy loses the statements topoctl composes itself for the topics that deliver to the
queue (`topoctl-sns-<topic>`), since the compiler adds them back; anything else in it is kept.
A topic's policy is left out while it is AWS's default one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from topoctl.model import JSON, Resource
from topoctl.providers.aws.attributes import DEFAULT_REDRIVE_ALLOW, TAGS
from topoctl.providers.aws.compile import SID_PREFIX
from topoctl.providers.aws.kinds import QUEUE, SNS_SUBSCRIPTION, SNS_TOPIC, SQS_QUEUE, SUBSCRIPTION, TOPIC
from topoctl.units import readable

# What AWS does when an attribute is not set: not worth writing out.
_QUEUE_DEFAULTS: dict[str, JSON] = {
    "fifo": None,  # follows from the name (`.fifo`)
    "visibility_timeout": 30,
    "message_retention_period": 345_600,
    "delay_seconds": 0,
    "receive_message_wait_time": 0,
    "kms_data_key_reuse_period": 300,
    "maximum_message_size": 1_048_576,  # 1 MiB since 2025 (256 KiB before: still written out)
    "sqs_managed_sse_enabled": True,  # SSE-SQS is on for new queues; `false` is worth seeing
    "content_based_deduplication": False,
    "deduplication_scope": "queue",
    "fifo_throughput_limit": "perQueue",
    "redrive_allow_policy": DEFAULT_REDRIVE_ALLOW,
    "redrive_policy": None,  # written as dead_letter
    "policy": None,  # written below, without the statements topoctl composes
}
_TOPIC_DEFAULTS: dict[str, JSON] = {
    "fifo": None,
    "display_name": "",
    "signature_version": "1",
    "tracing_config": "PassThrough",
    "content_based_deduplication": False,
    "kms_master_key_id": "",
}
_SUBSCRIPTION_DEFAULTS: dict[str, JSON] = {
    "raw_message_delivery": False,
    "filter_policy": {},
    "filter_policy_scope": "MessageAttributes",
    "redrive_policy": None,
}
_AWS_DEFAULT_TOPIC_SID = "__default_statement_ID"


def export_broker(broker: str, observed: Sequence[Resource]) -> dict[str, Any]:
    mine = sorted((r for r in observed if r.broker == broker), key=lambda r: r.address)
    queue_names = {r.address.name[0] for r in mine if r.kind == SQS_QUEUE}
    subscriptions = [r for r in mine if r.kind == SNS_SUBSCRIPTION and not r.info.get("pending_confirmation")]
    senders = _senders(subscriptions, queue_names)

    queues = {r.address.name[0]: _queue(r, queue_names, senders) for r in mine if r.kind == SQS_QUEUE}
    topics: dict[str, dict[str, JSON]] = {r.address.name[0]: _topic(r) for r in mine if r.kind == SNS_TOPIC}
    for sub in subscriptions:
        topic = topics.get(sub.address.name[0])
        if topic is not None:
            listed = topic.setdefault("subscriptions", [])
            assert isinstance(listed, list)
            listed.append(_subscription(sub, queue_names))
    section: dict[str, Any] = {}
    if queues:
        section["sqs"] = {"queues": queues}
    if topics:
        section["sns"] = {"topics": topics}
    return section


def _senders(subscriptions: Sequence[Resource], queues: set[str]) -> dict[str, set[str]]:
    """queue -> the topics that deliver to it (subscription or subscription DLQ): the compiler
    composes the queue policy statements of exactly these."""
    out: dict[str, set[str]] = {}
    for sub in subscriptions:
        topic, protocol, endpoint = sub.address.name
        targets = [endpoint] if protocol == "sqs" else []
        dlq = _queue_of(_redrive_target(sub.attrs.get("redrive_policy")), queues)
        targets += [dlq] if dlq else []
        for queue in targets:
            if queue in queues:
                out.setdefault(queue, set()).add(topic)
    return out


def _queue(r: Resource, queues: set[str], senders: Mapping[str, set[str]]) -> dict[str, JSON]:
    name = r.address.name[0]
    out = _attrs(r.attrs, QUEUE.units, _QUEUE_DEFAULTS)
    policy = _without_composed(r.attrs.get("policy"), senders.get(name, set()))
    if policy is not None:
        out["policy"] = policy
    redrive = r.attrs.get("redrive_policy")
    target = _redrive_target(redrive)
    if target is not None:
        dead_letter: dict[str, JSON] = {"queue": _queue_of(target, queues) or target}
        count = redrive.get("maxReceiveCount") if isinstance(redrive, Mapping) else None
        if count is not None:
            dead_letter["max_receive_count"] = count
        out["dead_letter"] = dead_letter
    return out


def _topic(r: Resource) -> dict[str, JSON]:
    out = _attrs(r.attrs, TOPIC.units, {**_TOPIC_DEFAULTS, "policy": None})
    policy = r.attrs.get("policy")
    if isinstance(policy, Mapping) and not _is_aws_default_topic_policy(policy):
        out["policy"] = dict(policy)
    return out


def _subscription(r: Resource, queues: set[str]) -> dict[str, JSON]:
    _, protocol, endpoint = r.address.name
    out: dict[str, JSON] = {"protocol": protocol, "endpoint": endpoint}
    out.update(_attrs(r.attrs, SUBSCRIPTION.units, _SUBSCRIPTION_DEFAULTS))
    target = _redrive_target(r.attrs.get("redrive_policy"))
    if target is not None:
        out["dead_letter"] = {"queue": _queue_of(target, queues) or target}
    return out


def _attrs(attrs: Mapping[str, JSON], units: Mapping[str, str], defaults: Mapping[str, JSON]) -> dict[str, JSON]:
    out: dict[str, JSON] = {}
    for key, value in sorted(attrs.items()):
        if key in defaults and (defaults[key] is None or value == defaults[key]):
            continue
        if key == TAGS and not value:
            continue
        unit = units.get(key)
        out[key] = readable(value, unit) if unit else value
    return out


def _redrive_target(redrive: JSON) -> str | None:
    arn = redrive.get("deadLetterTargetArn") if isinstance(redrive, Mapping) else None
    return arn if isinstance(arn, str) and arn else None


def _queue_of(arn: str | None, queues: set[str]) -> str | None:
    """The queue name when `arn` is one of the exported queues (the driver writes the account as
    `{account}`, so an own queue's ARN ends in `:{account}:<name>`)."""
    if arn is None:
        return None
    name = arn.rsplit(":", 1)[-1]
    return name if name in queues and ":{account}:" in arn else None


def _without_composed(policy: JSON, senders: set[str]) -> JSON:
    if not isinstance(policy, Mapping):
        return None
    statements = policy.get("Statement")
    kept = [s for s in statements if not _composed(s, senders)] if isinstance(statements, list) else statements
    if not kept:
        return None
    return {**policy, "Statement": kept}


def _composed(statement: JSON, senders: set[str]) -> bool:
    if not isinstance(statement, Mapping):
        return False
    sid = statement.get("Sid")
    return (
        isinstance(sid, str)
        and sid.startswith(SID_PREFIX)
        and sid[len(SID_PREFIX) :] in senders
        and statement.get("Principal") == {"Service": ["sns.amazonaws.com"]}
        and statement.get("Action") == ["sqs:SendMessage"]
    )


def _is_aws_default_topic_policy(policy: Mapping[str, JSON]) -> bool:
    statements = policy.get("Statement")
    return isinstance(statements, list) and all(
        isinstance(s, Mapping) and s.get("Sid") == _AWS_DEFAULT_TOPIC_SID for s in statements
    )
