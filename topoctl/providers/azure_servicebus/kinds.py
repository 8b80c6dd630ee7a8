"""The Service Bus resource kinds and how the engine diffs them.

    queue         <broker>/queue/<queue>
    topic         <broker>/topic/<topic>
    subscription  <broker>/subscription/<topic>/<subscription>
    rule          <broker>/rule/<topic>/<subscription>/<rule>

Field names are the SDK's property names (`lock_duration`, `max_delivery_count`, `forward_to`).
Durations are whole milliseconds or `forever` (see values.py). A rule is its filter and action, so
rules are compared whole: a filter kind the manifest no longer names is a change too.

A subscription's `default_rule` says whether the service's `$Default` rule stays; it is intent for
the create (the driver removes `$Default` right after creating the subscription when it must go)
and never compared: the `$Default` rule resource itself carries the comparison.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from topoctl.model import JSON, FieldChange, Resource
from topoctl.providers.azure_servicebus.values import same_entity
from topoctl.providers.base import KindSpec

QUEUE = "queue"
TOPIC = "topic"
SUBSCRIPTION = "subscription"
RULE = "rule"

DURATION_FIELDS = (
    "lock_duration",
    "default_message_time_to_live",
    "auto_delete_on_idle",
    "duplicate_detection_history_time_window",
)
FORWARD_FIELDS = ("forward_to", "forward_dead_lettered_messages_to")
RULE_FIELDS = ("filter", "sql_filter", "parameters", "correlation_filter", "action", "action_parameters")
INTENT = frozenset({"default_rule"})

# info keys of observed entities
MESSAGES = "messages"
DEAD_LETTERS = "dead_letter_messages"
SUBSCRIPTIONS = "subscriptions"
FORWARDED_FROM = "forwarded_from"

_UNITS = {f: "ms" for f in DURATION_FIELDS}


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'s' if n != 1 else ''}"


def _count(resource: Resource, key: str) -> int:
    value = resource.info.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


@dataclass(frozen=True)
class EntityKind(KindSpec):
    """Queues, topics and subscriptions."""

    entity: str = "queue"  # how the service words it in its errors: Queue, Topic, Subscription

    def field_changes(self, desired: Resource, observed: Resource) -> list[FieldChange]:
        return [c for c in super().field_changes(desired, observed) if c.field not in INTENT]

    def equal(self, field: str, desired: JSON, observed: JSON) -> bool:
        if field in FORWARD_FIELDS:
            return same_entity(desired or None, observed or None)
        if field == "user_metadata":
            return (desired or "") == (observed or "")
        return bool(desired == observed)

    def replace_reason(self, change: FieldChange) -> str:
        # The base wording (`requires_session cannot change in place (false -> true)`), and why.
        return f"{super().replace_reason(change)}: the service cannot change it on an existing {self.entity}"

    def at_risk(self, observed: Resource) -> list[str]:
        out = []
        messages = _count(observed, MESSAGES)
        dead = _count(observed, DEAD_LETTERS)
        if messages:
            extra = f" (of which {dead} dead-lettered)" if dead else ""
            out.append(f"{_plural(messages, 'message')}{extra} will be lost")
        sources = observed.info.get(FORWARDED_FROM)
        if isinstance(sources, list) and sources:
            out.append(f"{', '.join(map(str, sources))} forward{'s' if len(sources) == 1 else ''} here")
        return out


@dataclass(frozen=True)
class TopicKind(EntityKind):
    def at_risk(self, observed: Resource) -> list[str]:
        out = []
        subscriptions = _count(observed, SUBSCRIPTIONS)
        if subscriptions:
            messages = _count(observed, MESSAGES)
            held = f", holding {_plural(messages, 'message')}," if messages else ""
            verb = "goes" if subscriptions == 1 else "go"
            out.append(f"its {_plural(subscriptions, 'subscription')}{held} {verb} with it")
        return out + [r for r in super().at_risk(observed) if "message" not in r]


@dataclass(frozen=True)
class RuleKind(KindSpec):
    def field_changes(self, desired: Resource, observed: Resource) -> list[FieldChange]:
        if not desired.attrs:
            return []  # `$Default` kept as the service made it: only its existence is managed
        changes = []
        for name in RULE_FIELDS:
            want, have = desired.attrs.get(name), observed.attrs.get(name)
            if not _same_rule_value(want, have):
                changes.append(FieldChange(name, have, want))
        return changes

    def at_risk(self, observed: Resource) -> list[str]:
        return []


def _same_rule_value(a: JSON, b: JSON) -> bool:
    # An empty parameter or property map is the same as none.
    if isinstance(a, Mapping) and not a:
        a = None
    if isinstance(b, Mapping) and not b:
        b = None
    return bool(a == b)


QUEUE_KIND = EntityKind(
    QUEUE,
    immutable=frozenset({"requires_session", "enable_partitioning", "requires_duplicate_detection"}),
    rank=10,
    units=_UNITS,
    risk_counts=(MESSAGES,),
    entity="queue",
)
TOPIC_KIND = TopicKind(
    TOPIC,
    immutable=frozenset({"enable_partitioning", "requires_duplicate_detection"}),
    cascades=True,
    rank=20,
    units=_UNITS,
    risk_counts=(SUBSCRIPTIONS,),
    entity="topic",
)
SUBSCRIPTION_KIND = EntityKind(
    SUBSCRIPTION,
    immutable=frozenset({"requires_session"}),
    cascades=True,
    rank=30,
    units=_UNITS,
    risk_counts=(MESSAGES,),
    entity="subscription",
)
RULE_KIND = RuleKind(RULE, rank=40, risk_counts=())

KINDS: dict[str, KindSpec] = {k.kind: k for k in (QUEUE_KIND, TOPIC_KIND, SUBSCRIPTION_KIND, RULE_KIND)}
