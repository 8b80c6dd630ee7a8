"""The `type: aws` section of a manifest -> desired SQS queues, SNS topics and subscriptions.

Besides converting values, compiling expands the sugar:

* `dead_letter:` on a queue adds the dead-letter queue (unless declared) and the RedrivePolicy;
* `dead_letter:` on a subscription adds its SQS dead-letter queue and the RedrivePolicy;
* every topic that delivers to a queue of this broker (subscription or subscription DLQ) adds a
  statement to that queue's `policy`, composed into one document with the declared policy.

ARNs of this broker's objects carry the `{account}` placeholder (see arns.py).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from topoctl.manifest.source import Context
from topoctl.model import JSON, Address, Resource
from topoctl.providers.aws import arns
from topoctl.providers.aws.attributes import (
    BOOL,
    BYTES,
    DOC,
    QUEUE_ATTRS,
    SECONDS,
    SUBSCRIPTION_ATTRS,
    TAGS,
    TOPIC_ATTRS,
    Attr,
)
from topoctl.providers.aws.documents import SID_PREFIX, as_document, canonical_policy, canonical_redrive
from topoctl.providers.aws.kinds import SNS_SUBSCRIPTION, SNS_TOPIC, SQS_QUEUE
from topoctl.providers.base import Compiled, PruneScope

__all__ = ["SID_PREFIX", "compile_broker", "default_dlq_name"]

FIFO_SUFFIX = ".fifo"
DLQ_SUFFIX = "-dlq"
DEFAULT_MAX_RECEIVE_COUNT = 5
POLICY_VERSION = "2012-10-17"

_QUEUE_NAME = re.compile(r"[A-Za-z0-9_-]{1,75}(\.fifo)?|[A-Za-z0-9_-]{1,80}")
_TOPIC_NAME = re.compile(r"[A-Za-z0-9_-]{1,251}(\.fifo)?|[A-Za-z0-9_-]{1,256}")
# Subscription attributes SNS accepts only for some protocols.
_PROTOCOL_ONLY = {
    "raw_message_delivery": ("sqs", "http", "https", "firehose"),
    "delivery_policy": ("http", "https"),
    "subscription_role_arn": ("firehose",),
}
# Keys handled outside the attribute tables.
_QUEUE_SUGAR = frozenset({"fifo", "redrive_policy"})
_SUBSCRIPTION_SUGAR = frozenset({"redrive_policy"})


@dataclass
class _Queue:
    name: str
    fifo: bool
    ctx: Context
    attrs: dict[str, JSON] = field(default_factory=dict)
    depends_on: list[Address] = field(default_factory=list)
    absent: bool = False
    senders: set[str] = field(default_factory=set)  # topics delivering to it


def compile_broker(broker: str, section: Mapping[str, Any], ctx: Context) -> Compiled:
    region = _region(section, ctx)
    compiler = _Compiler(broker, region)
    queues_ctx = ctx.at("sqs", "queues")
    queues = queues_ctx.mapping(ctx.at("sqs").mapping(section.get("sqs")).get("queues"))
    for name, spec in queues.items():
        compiler.declare_queue(str(name), spec, queues_ctx.at(name))
    for name, spec in queues.items():
        compiler.queue_dead_letter(str(name), spec, queues_ctx.at(name))
    compiler.refuse_dead_letter_cycles()
    topics_ctx = ctx.at("sns", "topics")
    topics = topics_ctx.mapping(ctx.at("sns").mapping(section.get("sns")).get("topics"))
    for name, spec in topics.items():
        compiler.topic(str(name), spec, topics_ctx.at(name))
    return Compiled(compiler.resources(), _prune(section.get("prune"), ctx.at("prune"), compiler))


def _region(section: Mapping[str, Any], ctx: Context) -> str:
    conn_ctx = ctx.at("connection")
    connection = conn_ctx.mapping(section.get("connection"))
    region = connection.get("region")
    if not isinstance(region, str) or not region.strip():
        raise conn_ctx.error("connection.region is required (e.g. us-east-1)")
    keys = [k for k in ("access_key_id", "secret_access_key") if connection.get(k)]
    if len(keys) == 1:
        raise conn_ctx.error("connection: give both access_key_id and secret_access_key, or neither")
    workers = connection.get("max_workers")
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise conn_ctx.at("max_workers").error("max_workers must be a positive integer")
    return region.strip()


def default_dlq_name(name: str, fifo: bool) -> str:
    base = name[: -len(FIFO_SUFFIX)] if fifo else name
    return base + DLQ_SUFFIX + (FIFO_SUFFIX if fifo else "")


class _Compiler:
    def __init__(self, broker: str, region: str) -> None:
        self.broker = broker
        self.region = region
        self.queues: dict[str, _Queue] = {}
        self.topics: list[Resource] = []
        self.subscriptions: list[Resource] = []
        self.present_topics: list[str] = []

    def address(self, kind: str, *name: str) -> Address:
        return Address(self.broker, kind, name)

    # --- queues -------------------------------------------------------------------------------

    def declare_queue(self, name: str, spec: object, ctx: Context) -> None:
        spec = ctx.mapping(spec)
        fifo = _fifo(name, spec, ctx, _QUEUE_NAME, "queue", 80)
        queue = _Queue(name, fifo, ctx)
        self.queues[name] = queue
        if _absent(spec, ctx):
            queue.absent = True
            return
        queue.attrs["fifo"] = fifo
        for key, value in spec.items():
            attr = QUEUE_ATTRS.get(str(key))
            if attr is not None and attr.key not in _QUEUE_SUGAR:
                queue.attrs[attr.key] = _value(attr, value, ctx.at(key), fifo, "queue")
        if TAGS in spec:
            queue.attrs[TAGS] = _tags(spec[TAGS], ctx.at(TAGS))
        _check_queue(queue.attrs, ctx)

    def queue_dead_letter(self, name: str, spec: object, ctx: Context) -> None:
        spec = ctx.mapping(spec)
        queue = self.queues[name]
        if queue.absent or "dead_letter" not in spec or spec["dead_letter"] is None:
            return
        dl_ctx = ctx.at("dead_letter")
        dl = spec["dead_letter"]
        if dl is False:  # explicitly none: remove a live RedrivePolicy
            queue.attrs["redrive_policy"] = None
            return
        settings = dl_ctx.mapping({} if dl is True else dl)
        target = settings.get("queue") or default_dlq_name(name, queue.fifo)
        count = settings.get("max_receive_count", DEFAULT_MAX_RECEIVE_COUNT)
        if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= 1000:
            raise dl_ctx.at("max_receive_count").error(
                f"max_receive_count must be an integer from 1 to 1000, got {count!r}"
            )
        target = self._own_queue(str(target))
        if target == name:
            raise dl_ctx.error(f"queue {name} cannot be its own dead-letter queue")
        if arns.is_arn(target):
            arn = target
            self._check_arn_target(arn, queue.fifo, dl_ctx.at("queue"), f"the dead-letter queue of {name}")
            queue.depends_on += self._declared_by_arn(arn, name)
        else:
            self._dead_letter_queue(target, queue.fifo, dl_ctx, f"the dead-letter queue of {name}")
            arn = arns.queue_arn(self.region, target)
            queue.depends_on.append(self.address(SQS_QUEUE, target))
        queue.attrs["redrive_policy"] = canonical_redrive({"deadLetterTargetArn": arn, "maxReceiveCount": count})

    def refuse_dead_letter_cycles(self) -> None:
        """SQS creates a queue only after its dead-letter queue: a cycle can never be applied."""
        for start in self.queues.values():
            path = [start.name]
            queue = start
            while True:
                following = [d.name[0] for d in queue.depends_on if d.kind == SQS_QUEUE]
                if not following or following[0] not in self.queues:
                    break
                queue = self.queues[following[0]]
                if queue.name == start.name:
                    raise start.ctx.at("dead_letter").error(
                        "dead-letter queues form a cycle: " + " -> ".join([*path, start.name])
                    )
                if queue.name in path:
                    break  # a cycle that does not pass through `start`: reported from its own queue
                path.append(queue.name)

    def _own_queue(self, target: str) -> str:
        """A dead-letter target: the name of a declared queue written as its `{account}` ARN is that
        queue (created first, checked for FIFO-ness, its policy composed), any other ARN stays."""
        name = arns.own_queue_name(target, self.region, arns.ACCOUNT) if arns.is_arn(target) else None
        return name if name is not None and name in self.queues else target

    def _declared_by_arn(self, arn: str, source: str = "") -> list[Address]:
        """The declared queue a queue ARN of this region names with a literal account id: it is
        most likely this broker's own (the account is unknown offline), so it is created before
        what points at it. Harmless if it is another account's: only the order changes."""
        parsed = arns.parse_queue_arn(arn)
        if parsed is None or parsed[0] != self.region or parsed[2] == source or parsed[2] not in self.queues:
            return []
        return [self.address(SQS_QUEUE, parsed[2])]

    @staticmethod
    def _check_arn_target(arn: str, fifo: bool, ctx: Context, what: str) -> None:
        """SQS and SNS refuse a dead-letter queue of the other type (FIFO or standard)."""
        parsed = arns.parse_queue_arn(arn)
        if parsed is not None and parsed[2].endswith(FIFO_SUFFIX) != fifo:
            kind = "FIFO" if fifo else "standard"
            raise ctx.error(
                f"{what} must be a {kind} queue" + (" (its name ends in .fifo)" if fifo else "") + f", not {arn}"
            )

    def _dead_letter_queue(self, name: str, fifo: bool, ctx: Context, what: str) -> _Queue:
        """The queue named `name`, declared or added here; its FIFO-ness must be `fifo`."""
        kind = "FIFO" if fifo else "standard"
        queue = self.queues.get(name)
        if queue is None:
            if not _QUEUE_NAME.fullmatch(name):
                raise ctx.error(
                    f"{what} would be named {name!r}, which is not a valid queue name"
                    " (at most 80 characters: letters, digits, - and _); name it with `queue:`"
                )
            queue = _Queue(name, name.endswith(FIFO_SUFFIX), ctx)
            queue.attrs["fifo"] = queue.fifo
            self.queues[name] = queue
        if queue.absent:
            raise ctx.error(f"{what} is {name}, which has state: absent")
        if queue.fifo != fifo:
            raise ctx.error(
                f"{what} must be a {kind} queue" + (" (its name ends in .fifo)" if fifo else "") + f", not {name}"
            )
        return queue

    # --- topics and subscriptions -------------------------------------------------------------

    def topic(self, name: str, spec: object, ctx: Context) -> None:
        spec = ctx.mapping(spec)
        fifo = _fifo(name, spec, ctx, _TOPIC_NAME, "topic", 256)
        address = self.address(SNS_TOPIC, name)
        if _absent(spec, ctx):
            # Deleting a topic deletes its subscriptions: nothing to declare for them.
            self.topics.append(Resource(address, {}, absent=True, source=ctx.where()))
            return
        attrs: dict[str, JSON] = {"fifo": fifo}
        for key, value in spec.items():
            attr = TOPIC_ATTRS.get(str(key))
            if attr is not None and attr.key != "fifo":
                attrs[attr.key] = _value(attr, value, ctx.at(key), fifo, "topic")
        if TAGS in spec:
            attrs[TAGS] = _tags(spec[TAGS], ctx.at(TAGS))
        self.topics.append(Resource(address, attrs, source=ctx.where()))
        self.present_topics.append(name)
        subs_ctx = ctx.at("subscriptions")
        subs = spec.get("subscriptions") or []
        if not isinstance(subs, list):
            raise subs_ctx.error("subscriptions must be a list")
        seen: dict[tuple[str, str], int] = {}
        for i, sub in enumerate(subs):
            resource = self.subscription(name, fifo, sub, subs_ctx.at(i))
            identity = (resource.address.name[1], resource.address.name[2])
            if identity in seen:
                raise subs_ctx.at(i).error(
                    f"topic {name} subscribes {identity[0]}:{identity[1]} twice"
                    f" (also subscription #{seen[identity] + 1})"
                )
            seen[identity] = i
            self.subscriptions.append(resource)

    def subscription(self, topic: str, fifo: bool, spec: object, ctx: Context) -> Resource:
        spec = ctx.mapping(spec)
        protocol = spec.get("protocol")
        endpoint = spec.get("endpoint")
        if not isinstance(protocol, str) or not protocol:
            raise ctx.error("a subscription needs a protocol (sqs, lambda, http, https, email, ...)")
        if not isinstance(endpoint, str) or not endpoint:
            raise ctx.error("a subscription needs an endpoint")
        topic_address = self.address(SNS_TOPIC, topic)
        depends_on = [topic_address]
        delivers_to: _Queue | None = None
        if protocol == "sqs" and arns.is_arn(endpoint):
            depends_on += self._declared_by_arn(endpoint)
        if protocol == "sqs" and not arns.is_arn(endpoint):
            queue = self.queues.get(endpoint)
            if queue is None:
                raise ctx.at("endpoint").error(
                    f"endpoint {endpoint!r} is not a queue of this broker (declare it under sqs.queues,"
                    " or give the queue's ARN)"
                )
            if queue.absent:
                raise ctx.at("endpoint").error(f"endpoint {endpoint} is a queue with state: absent")
            if queue.fifo and not fifo:
                raise ctx.at("endpoint").error(
                    f"a standard topic cannot deliver to the FIFO queue {endpoint}; use a FIFO topic"
                )
            depends_on.append(self.address(SQS_QUEUE, endpoint))
            delivers_to = queue
        address = self.address(SNS_SUBSCRIPTION, topic, protocol, endpoint)
        if _absent(spec, ctx):
            return Resource(address, {}, absent=True, source=ctx.where())
        attrs: dict[str, JSON] = {}
        for key, value in spec.items():
            attr = SUBSCRIPTION_ATTRS.get(str(key))
            if attr is not None and attr.key not in _SUBSCRIPTION_SUGAR:
                attrs[attr.key] = _value(attr, value, ctx.at(key), fifo, "subscription")
        for key, protocols in _PROTOCOL_ONLY.items():
            if key in attrs and protocol not in protocols:
                raise ctx.at(key).error(
                    f"{key} applies to {', '.join(protocols)} subscriptions only, not {protocol} (SNS refuses it)"
                )
        if protocol == "firehose" and not attrs.get("subscription_role_arn"):
            raise ctx.error("a firehose subscription needs subscription_role_arn (the role SNS writes with)")
        if attrs.get("filter_policy_scope") == "MessageBody" and not attrs.get("filter_policy"):
            # SNS keeps no scope on a subscription without a filter policy: it would read back as
            # MessageAttributes and plan the same change forever.
            raise ctx.at("filter_policy_scope").error(
                "filter_policy_scope: MessageBody needs a filter_policy (SNS keeps no scope without one)"
            )
        dl = spec.get("dead_letter")
        if dl is False:
            attrs["redrive_policy"] = None
        elif dl is not None:
            dl_ctx = ctx.at("dead_letter")
            settings = dl_ctx.mapping({} if dl is True else dl)
            target = self._own_queue(str(settings.get("queue") or default_dlq_name(topic, fifo)))
            if arns.is_arn(target):
                arn = target
                what = f"the dead-letter queue of a subscription of {topic}"
                self._check_arn_target(arn, fifo, dl_ctx.at("queue"), what)
                depends_on += self._declared_by_arn(arn)
            else:
                dlq = self._dead_letter_queue(
                    target, fifo, dl_ctx, f"the dead-letter queue of a subscription of {topic}"
                )
                dlq.senders.add(topic)
                arn = arns.queue_arn(self.region, target)
                depends_on.append(self.address(SQS_QUEUE, target))
            attrs["redrive_policy"] = {"deadLetterTargetArn": arn}
        if delivers_to is not None:
            delivers_to.senders.add(topic)
        return Resource(address, attrs, depends_on=tuple(dict.fromkeys(depends_on)), source=ctx.where())

    # --- output -------------------------------------------------------------------------------

    def resources(self) -> list[Resource]:
        out: list[Resource] = []
        for queue in self.queues.values():
            address = self.address(SQS_QUEUE, queue.name)
            if queue.absent:
                out.append(Resource(address, {}, absent=True, source=queue.ctx.where()))
                continue
            if queue.senders:
                queue.attrs["policy"] = self._compose_policy(queue)
            out.append(
                Resource(
                    address,
                    queue.attrs,
                    depends_on=tuple(dict.fromkeys(queue.depends_on)),
                    source=queue.ctx.where(),
                )
            )
        return out + self.topics + self.subscriptions

    def _compose_policy(self, queue: _Queue) -> JSON:
        """The queue's declared policy plus one statement per topic that delivers to it."""
        declared = queue.attrs.get("policy")
        doc: dict[str, JSON] = dict(declared) if isinstance(declared, dict) else {"Version": POLICY_VERSION}
        statements = list(canonical_policy({"Statement": doc.get("Statement") or []})["Statement"])
        sids = {s.get("Sid") for s in statements if isinstance(s, dict)}
        meanings = {_meaning(s) for s in statements}
        queue_arn = arns.queue_arn(self.region, queue.name)
        for topic in sorted(queue.senders):
            statement = canonical_policy(
                {
                    "Statement": {
                        "Sid": SID_PREFIX + topic,
                        "Effect": "Allow",
                        "Principal": {"Service": "sns.amazonaws.com"},
                        "Action": "sqs:SendMessage",
                        "Resource": queue_arn,
                        "Condition": {"ArnEquals": {"aws:SourceArn": arns.topic_arn(self.region, topic)}},
                    }
                }
            )["Statement"][0]
            if _meaning(statement) in meanings:
                continue  # the declared policy already lets this topic deliver
            if statement["Sid"] in sids:
                raise queue.ctx.at("policy").error(
                    f"statement Sid {statement['Sid']!r} is reserved for the statement topoctl composes"
                    f" to let topic {topic} deliver to this queue"
                )
            statements.append(statement)
        doc["Statement"] = statements
        return canonical_policy(doc)


def _meaning(statement: JSON) -> str:
    rest = {k: v for k, v in statement.items() if k != "Sid"} if isinstance(statement, dict) else statement
    return json.dumps(rest, sort_keys=True)


def _absent(spec: Mapping[str, Any], ctx: Context) -> bool:
    state = spec.get("state", "present")
    if state not in ("present", "absent"):
        raise ctx.at("state").error(f"state must be present or absent, got {state!r}")
    return bool(state == "absent")


def _fifo(name: str, spec: Mapping[str, Any], ctx: Context, pattern: re.Pattern[str], what: str, limit: int) -> bool:
    if not pattern.fullmatch(name):
        raise ctx.error(
            f"{name!r} is not a valid {what} name: at most {limit} characters, letters, digits, - and _,"
            " with .fifo at the end for FIFO"
        )
    fifo = name.endswith(FIFO_SUFFIX)
    declared = spec.get("fifo")
    if declared is not None and bool(declared) != fifo:
        if declared:
            raise ctx.at("fifo").error(f"a FIFO {what}'s name must end in .fifo: name it {name}.fifo")
        raise ctx.at("fifo").error(f"{name} ends in .fifo, so it is a FIFO {what}: drop `fifo: false`")
    return fifo


def _value(attr: Attr, value: object, ctx: Context, fifo: bool, what: str) -> JSON:
    if attr.fifo_only and not fifo:
        raise ctx.error(f"{attr.key} applies to FIFO {what}s only (names ending in .fifo)")
    if attr.codec in (SECONDS, BYTES):
        number = ctx.duration(value, "s") if attr.codec == SECONDS else ctx.size(value)
        if (attr.low is not None and number < attr.low) or (attr.high is not None and number > attr.high):
            unit = "seconds" if attr.codec == SECONDS else "bytes"
            raise ctx.error(f"{attr.key} must be from {attr.low} to {attr.high} {unit}, got {value!r}")
        return number
    if attr.codec == BOOL:
        if not isinstance(value, bool):
            raise ctx.error(f"{attr.key} must be true or false, got {value!r}")
        return value
    if attr.codec == DOC:
        doc = as_document(value)
        if doc is None:
            raise ctx.error(f"{attr.key} must be a mapping (or the JSON text of one)")
        return attr.normalise(dict(doc), None)
    if isinstance(value, (dict, list)) or value is None:
        raise ctx.error(f"{attr.key} must be a string, got {value!r}")
    text = str(value).lower() if isinstance(value, bool) else str(value)
    if attr.choices and text not in attr.choices:
        raise ctx.error(f"{attr.key} must be one of {', '.join(attr.choices)}, got {value!r}")
    return text


def _check_queue(attrs: Mapping[str, JSON], ctx: Context) -> None:
    """What SQS would refuse at apply time, said with its line before anything is contacted."""
    if attrs.get("kms_master_key_id") and attrs.get("sqs_managed_sse_enabled") is True:
        raise ctx.at("sqs_managed_sse_enabled").error(
            "sqs_managed_sse_enabled: true and kms_master_key_id exclude each other (SSE-SQS or SSE-KMS)"
        )
    allow = attrs.get("redrive_allow_policy")
    if isinstance(allow, dict):
        permission = allow.get("redrivePermission")
        sources = allow.get("sourceQueueArns")
        where = ctx.at("redrive_allow_policy")
        if permission not in ("allowAll", "denyAll", "byQueue"):
            raise where.error(
                f"redrive_allow_policy.redrivePermission must be allowAll, denyAll or byQueue, got {permission!r}"
            )
        if permission == "byQueue" and not (isinstance(sources, list) and 1 <= len(sources) <= 10):
            raise where.error("redrive_allow_policy: byQueue needs sourceQueueArns, a list of 1 to 10 queue ARNs")
        if permission != "byQueue" and sources is not None:
            raise where.error(f"redrive_allow_policy: sourceQueueArns only goes with byQueue, not {permission}")


def _tags(value: object, ctx: Context) -> dict[str, JSON]:
    tags = ctx.mapping(value)
    out: dict[str, JSON] = {}
    for key, tag in tags.items():
        if isinstance(tag, (dict, list)) or tag is None:
            raise ctx.at(key).error(f"tag {key} must be a string, got {tag!r}")
        out[str(key)] = str(tag).lower() if isinstance(tag, bool) else str(tag)
    return out


def _prune(value: object, ctx: Context, compiler: _Compiler) -> list[PruneScope]:
    """`prune: true`, or `{prefix, queues, topics, subscriptions}` (each kind on by default)."""
    if value is None or value is False:
        return []
    settings = {} if value is True else ctx.mapping(value)
    prefix = settings.get("prefix", "")
    if not isinstance(prefix, str):
        raise ctx.at("prefix").error("prune.prefix must be a string")
    flags = {}
    for key in ("queues", "topics", "subscriptions"):
        flag = settings.get(key, True)
        if not isinstance(flag, bool):
            raise ctx.at(key).error(f"prune.{key} must be true or false")
        flags[key] = flag
    scopes: list[PruneScope] = []
    if flags["queues"]:
        scopes.append(PruneScope(kinds=frozenset({SQS_QUEUE}), prefix=prefix))
    if flags["topics"]:
        scopes.append(PruneScope(kinds=frozenset({SNS_TOPIC}), prefix=prefix))
    if flags["subscriptions"]:
        kinds = frozenset({SNS_SUBSCRIPTION})
        if not prefix and flags["topics"]:
            scopes.append(PruneScope(kinds=kinds))
        else:
            # The prefix selects topics; a subscription is pruned under a declared topic in scope
            # (one of an undeclared topic in scope goes with its topic; with `topics: false`,
            # undeclared topics keep theirs).
            scopes.extend(PruneScope(kinds=kinds, parent=(t,)) for t in compiler.present_topics if t.startswith(prefix))
    return scopes
