"""The default rule set: what platform teams ask for in review, checked offline on the manifest.

Each rule looks at the compiled resources (so `dead_letter:` sugar, policies and raw arguments all
count) and at the message flows between them. docs/lint.md documents every rule and its options.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from topoctl.lint.model import Finding, Location, Rule, RuleInfo, Severity, Subject
from topoctl.model import JSON, Address, Resource
from topoctl.units import parse_duration


def _finding(rule: str, message: str, location: Location | None, address: Address | None = None) -> Finding:
    # The severity is the configured one; the runner sets it.
    return Finding(rule, Severity.WARNING, message, location, address)


def _describe(resource: Resource) -> str:
    return f"{resource.kind} {resource.address.display_name}"


# -- naming ---------------------------------------------------------------------------------------

# Kinds whose last name part is a name someone chose (bindings, ACLs and subscriptions are named by
# what they connect).
NAMED_KINDS = frozenset(
    {
        "vhost",
        "exchange",
        "queue",
        "topic",
        "stream",
        "consumer",
        "kv_bucket",
        "object_store",
        "sqs_queue",
        "sns_topic",
        "group",
        "subscription",
    }
)
DEFAULT_NAME = r"^[A-Za-z0-9][A-Za-z0-9._:-]*$"


def _pattern_for(patterns: Mapping[str, str], broker_type: str, kind: str) -> str | None:
    for key in (f"{broker_type}/{kind}", kind, "*"):
        if key in patterns:
            return patterns[key]
    return DEFAULT_NAME if kind in NAMED_KINDS else None


def check_naming(subject: Subject, options: Mapping[str, Any]) -> Iterator[Finding]:
    patterns: Mapping[str, str] = options.get("patterns") or {}
    compiled: dict[str, re.Pattern[str]] = {}
    for resource in subject.resources():
        pattern = _pattern_for(patterns, subject.broker_type(resource), resource.kind)
        if pattern is None:
            continue
        regex = compiled.setdefault(pattern, re.compile(pattern))
        name = resource.address.name[-1]
        if not regex.search(name):
            yield _finding(
                "naming",
                f"{resource.kind} name {name!r} does not match {pattern}",
                subject.location(resource),
                resource.address,
            )


# -- dead letters ---------------------------------------------------------------------------------

# The kinds that hand messages to consumers which may fail them, by broker type.
_WORKERS = {"rabbitmq": "queue", "aws": "sqs_queue", "nats": "consumer", "redis": "group"}
# Kinds that only pass messages on: a dead letter sent to one ends where it routes to.
_ROUTERS = frozenset({"exchange", "sns_topic"})


def _dead_letter_destinations(subject: Subject) -> set[Address]:
    """Everything a dead letter can land in: the targets of dead-letter flows, and what they route to."""
    out: dict[Address, list[Address]] = {}
    for flow in subject.flows:
        if not flow.dead_letter:
            out.setdefault(flow.source, []).append(flow.target)
    seen: set[Address] = set()
    todo = [f.target for f in subject.flows if f.dead_letter]
    while todo:
        address = todo.pop()
        if address in seen:
            continue
        seen.add(address)
        if address.kind in _ROUTERS:
            todo += out.get(address, [])
    return seen


def _needs_dead_letter(resource: Resource, broker_type: str) -> bool:
    if _WORKERS.get(broker_type) != resource.kind:
        return False
    attrs = resource.attrs
    if broker_type == "rabbitmq":  # streams keep messages; a temporary queue is nobody's work queue
        return attrs.get("type") != "stream" and attrs.get("durable", True) is True and not attrs.get("auto_delete")
    if broker_type == "nats":  # nothing is redelivered without acks
        return bool(attrs.get("ack_policy", "explicit") != "none")
    return True


def check_dead_letter(subject: Subject, options: Mapping[str, Any]) -> Iterator[Finding]:
    exempt = re.compile(options["exempt"]) if options.get("exempt") else None
    has_dead_letter = {f.source for f in subject.flows if f.dead_letter}
    destinations = _dead_letter_destinations(subject)
    for resource in subject.resources():
        if not _needs_dead_letter(resource, subject.broker_type(resource)):
            continue
        address = resource.address
        if address in has_dead_letter or address in destinations:
            continue
        if exempt is not None and exempt.search(address.name[-1]):
            continue
        yield _finding(
            "dead-letter-required",
            f"{_describe(resource)} has no dead-letter target: a message that keeps failing is "
            "redelivered forever or dropped (add dead_letter:)",
            subject.location(resource),
            address,
        )


# -- replication ----------------------------------------------------------------------------------

_REPLICATION = {
    ("kafka", "topic"): "replication_factor",
    ("nats", "stream"): "replicas",
    ("nats", "kv_bucket"): "replicas",
    ("nats", "object_store"): "replicas",
}


def check_replication(subject: Subject, options: Mapping[str, Any]) -> Iterator[Finding]:
    minimum = int(options.get("min", 3))
    for resource in subject.resources():
        field = _REPLICATION.get((subject.broker_type(resource), resource.kind))
        if field is None:
            continue
        value = resource.attrs.get(field)
        if value is None and minimum > 1:
            message = f"{_describe(resource)} does not declare {field} (the broker's default applies; want {minimum}+)"
        elif isinstance(value, int) and value < minimum:
            message = f"{_describe(resource)} has {field} {value}, below {minimum}"
        else:
            continue
        yield _finding("min-replication", message, subject.location(resource, [field]), resource.address)


def check_quorum(subject: Subject, options: Mapping[str, Any]) -> Iterator[Finding]:
    for resource in subject.resources("rabbitmq", ["queue"]):
        attrs = resource.attrs
        if attrs.get("type", "classic") != "classic" or not attrs.get("durable", True) or attrs.get("auto_delete"):
            continue
        yield _finding(
            "quorum-queues",
            f"{_describe(resource)} is a classic queue, kept on one node: use type: quorum (or stream)",
            subject.location(resource, ["type"]),
            resource.address,
        )


# -- retention ------------------------------------------------------------------------------------

# (broker type, kind) -> (field path, unit, values that mean "no limit")
_RETENTION: dict[tuple[str, str], tuple[tuple[str, ...], str, tuple[JSON, ...]]] = {
    ("kafka", "topic"): (("config", "retention.ms"), "ms", (-1, "-1")),
    ("nats", "stream"): (("max_age",), "ns", (0,)),
    ("aws", "sqs_queue"): (("message_retention_period",), "s", ()),
}


def _get(attrs: Mapping[str, JSON], path: tuple[str, ...]) -> JSON:
    value: JSON = attrs
    for key in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def _bound(options: Mapping[str, Any], key: str, unit: str) -> int | None:
    raw = options.get(key)
    return None if raw is None else parse_duration(raw, unit)


def check_retention(subject: Subject, options: Mapping[str, Any]) -> Iterator[Finding]:
    for resource in subject.resources():
        spec = _RETENTION.get((subject.broker_type(resource), resource.kind))
        if spec is None:
            continue
        path, unit, unlimited = spec
        value = _get(resource.attrs, path)
        if value is None:
            continue
        low, high = _bound(options, "min", unit), _bound(options, "max", unit)
        field = ".".join(path)
        where = subject.location(resource, list(path))
        if value in unlimited:
            if high is not None:
                yield _finding(
                    "retention-bounds",
                    f"{_describe(resource)} keeps messages forever ({field}: {value}); {options['max']} at most",
                    where,
                    resource.address,
                )
            continue
        try:
            amount = int(value)
        except (TypeError, ValueError):
            continue
        if low is not None and amount < low:
            yield _finding(
                "retention-bounds",
                f"{_describe(resource)} keeps messages {_shown(amount, unit)}, less than {options['min']} ({field})",
                where,
                resource.address,
            )
        elif high is not None and amount > high:
            yield _finding(
                "retention-bounds",
                f"{_describe(resource)} keeps messages {_shown(amount, unit)}, more than {options['max']} ({field})",
                where,
                resource.address,
            )


def _shown(amount: int, unit: str) -> str:
    from topoctl.units import readable

    value = readable(amount, unit)
    return str(value) if isinstance(value, str) else f"{amount}{unit}"


# -- prune ----------------------------------------------------------------------------------------

# Keys of a `prune:` mapping that do not delete objects (Kafka's `config` removes config keys).
_NOT_DELETING = frozenset({"prefix", "config"})


def _deletes_unscoped(value: Any, broker_type: str) -> bool:
    if value is True:
        return True
    if not isinstance(value, Mapping) or value.get("prefix"):
        return False
    switches = {k: v for k, v in value.items() if k not in _NOT_DELETING}
    if broker_type == "kafka":  # `topics` and `acls` are off unless switched on
        return any(v is True for v in switches.values())
    # Elsewhere a kind left out is pruned: only explicit `false`s everywhere make it harmless.
    return not switches or any(v is not False for v in switches.values())


def _prune_paths(document: Mapping[str, Any]) -> Iterator[tuple[tuple[Any, ...], str, Any]]:
    for broker, section in (document.get("brokers") or {}).items():
        if not isinstance(section, Mapping):
            continue
        kind = str(section.get("type"))
        if "prune" in section:
            yield ("brokers", broker, "prune"), kind, section["prune"]
        for vhost, body in (section.get("vhosts") or {}).items() if kind == "rabbitmq" else ():
            if isinstance(body, Mapping) and "prune" in body:
                yield ("brokers", broker, "vhosts", vhost, "prune"), kind, body["prune"]


def check_prune(subject: Subject, options: Mapping[str, Any]) -> Iterator[Finding]:
    for path, broker_type, value in _prune_paths(subject.document):
        if not _deletes_unscoped(value, broker_type):
            continue
        scope = f"vhost {path[3]!r} of broker {path[1]!r}" if len(path) > 3 else f"broker {path[1]!r}"
        yield _finding(
            "prune-needs-prefix",
            f"prune without a prefix on {scope}: every undeclared object there is deleted, including "
            "those other teams or tools created (use prune: {prefix: ...})",
            subject.at(path),
        )


def _rule(rule_id: str, summary: str, severity: Severity, check: Any, help: str, **options: Any) -> Rule:
    return Rule(RuleInfo(rule_id, summary, severity, help), check, options)


DEFAULT_RULES: tuple[Rule, ...] = (
    _rule(
        "naming",
        "Names follow the naming pattern of their kind.",
        Severity.WARNING,
        check_naming,
        "Rename the object, or set the pattern of its kind under defaults.naming.patterns in the lint config.",
        patterns={},
    ),
    _rule(
        "dead-letter-required",
        "Work queues and consumers have a dead-letter target.",
        Severity.WARNING,
        check_dead_letter,
        "Add dead_letter: to the queue, consumer or group (or a policy with dead-letter-exchange on RabbitMQ).",
        exempt=None,
    ),
    _rule(
        "min-replication",
        "Kafka topics and NATS streams and buckets declare enough replicas.",
        Severity.WARNING,
        check_replication,
        "Declare replication_factor (Kafka) or replicas (NATS) of at least the minimum.",
        min=3,
    ),
    _rule(
        "quorum-queues",
        "RabbitMQ durable queues are quorum queues (or streams), replicated.",
        Severity.WARNING,
        check_quorum,
        "Declare type: quorum (changing the type replaces the queue: plan it when it is drained).",
    ),
    _rule(
        "retention-bounds",
        "Retention of topics, streams and SQS queues lies within the allowed bounds.",
        Severity.WARNING,
        check_retention,
        "Set retention.ms (Kafka), max_age (NATS) or message_retention_period (SQS) within the bounds.",
        min="1h",
        max="90d",
    ),
    _rule(
        "prune-needs-prefix",
        "prune: is scoped by a name prefix.",
        Severity.ERROR,
        check_prune,
        "Use prune: {prefix: <your team's prefix>} so only your objects can be deleted.",
    ),
)


def _none(subject: Subject, options: Mapping[str, Any]) -> Iterator[Finding]:
    return iter(())  # the runner reports these, from the suppression comments (suppress.py)


DEFAULT_RULES += (
    _rule(
        "suppression-reason",
        "Every `# topoctl:ignore` names a rule and gives a reason.",
        Severity.WARNING,
        _none,
        "Write `# topoctl:ignore RULE-ID why this is fine`.",
    ),
    _rule(
        "unused-suppression",
        "Every `# topoctl:ignore` suppresses a finding.",
        Severity.WARNING,
        _none,
        "Remove the comment: nothing on the line it covers breaks that rule any more.",
    ),
)


def default_rules() -> dict[str, Rule]:
    return {rule.info.id: rule for rule in DEFAULT_RULES}


def all_findings(rules: Iterable[Rule], subject: Subject) -> Iterator[Finding]:
    from dataclasses import replace

    for rule in rules:
        for finding in rule.check(subject, rule.options):
            yield replace(finding, rule=rule.info.id, severity=rule.info.severity)
