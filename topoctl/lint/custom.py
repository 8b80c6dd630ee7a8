"""A team's own rules, written in the lint config: which resources, which field, what must hold.

    rules:
      - id: queue-owner
        kind: aws/sqs_queue          # <broker type>/<kind>, a kind of any broker, or a list of them
        field: tags.team             # a path in the resource's values, as `plan --format json` shows them
        condition: {required: true}  # what must hold: required, absent, equals, in, not_in, pattern,
        severity: error              #   not_pattern, min, max (durations and sizes as in manifests)
        message: every queue names the team that owns it
        where: {type: quorum}        # optional: only resources whose fields meet these conditions
        name: '^orders\\.'           # optional: only resources whose name matches

Fields are read from the compiled resource, so values are normalised (`7d` and `604800000` are the
same retention) and `dead_letter:` shows as what it compiles to.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from topoctl.lint.model import Finding, Rule, RuleInfo, Severity, Subject
from topoctl.model import JSON, Resource
from topoctl.units import parse_duration, parse_size, readable

CONDITIONS = ("required", "absent", "equals", "in", "not_in", "pattern", "not_pattern", "min", "max")
_MISSING = object()


def field_value(resource: Resource, field: str) -> Any:
    """The value at a dotted path (keys may hold dots: `config.retention.ms`); `_MISSING` if unset.
    `name` is the resource's own name and `address` its address, unless the resource has such a field."""
    parts = field.split(".")
    node: Any = resource.attrs
    while parts:
        if not isinstance(node, Mapping):
            return _MISSING
        for n in range(len(parts), 0, -1):
            key = ".".join(parts[:n])
            if key in node:
                node, parts = node[key], parts[n:]
                break
        else:
            if field == "name":
                return resource.address.name[-1]
            if field == "address":
                return str(resource.address)
            return _MISSING
    return node


def unit_of(broker_type: str, kind: str, field: str) -> str | None:
    """The unit a field's integers are in: the kind says so, or the name does (`*.ms`, `*.bytes`)."""
    from topoctl.providers import provider

    try:
        spec = provider(broker_type).kinds.get(kind)
    except ValueError:
        spec = None
    if spec is not None and field in spec.units:
        return spec.units[field]
    if field.endswith(".ms") or field.endswith("_ms"):
        return "ms"
    if field.endswith("bytes"):
        return "bytes"
    return None


def _number(value: JSON, unit: str | None) -> int | float | None:
    """A value to compare: integers (Kafka's are strings) and, with a unit, `7d` or `1GiB`."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, str):
        text = value.strip()
        try:
            return int(text)
        except ValueError:
            pass
        try:
            return float(text)
        except ValueError:
            pass
        try:
            if unit == "bytes":
                return parse_size(text)
            return parse_duration(text, unit or "ms")
        except ValueError:
            return None
    return None


def _threshold(value: JSON, unit: str | None) -> int | float:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    if unit == "bytes":
        return parse_size(value)
    return parse_duration(value, unit if unit in ("ns", "us", "ms", "s") else "ms")


def _shown(value: Any, unit: str | None = None) -> str:
    """A value as a manifest writes it: `400d` rather than Kafka's '34560000000' when the unit is known."""
    if value is _MISSING:
        return "unset"
    if unit is not None:
        number = _number(value, unit)
        if isinstance(number, int):
            friendly = readable(number, unit)
            if isinstance(friendly, str):
                return friendly
    return repr(value) if isinstance(value, str) else str(value)


def violation(condition: Mapping[str, Any], value: Any, unit: str | None) -> str | None:
    """Why `value` breaks `condition` (None: it holds). Conditions other than required/absent say
    nothing about a field that is not set."""
    if condition.get("required") and value is _MISSING:
        return "is not set"
    if (condition.get("absent") or condition.get("required") is False) and value is not _MISSING:
        return f"is set ({_shown(value)})"
    if value is _MISSING:
        return None
    if "equals" in condition and value != condition["equals"]:
        return f"is {_shown(value)}, not {_shown(condition['equals'])}"
    if "in" in condition and value not in condition["in"]:
        return f"is {_shown(value)}, not one of {', '.join(_shown(v) for v in condition['in'])}"
    if "not_in" in condition and value in condition["not_in"]:
        return f"is {_shown(value)}"
    if "pattern" in condition and not re.search(condition["pattern"], str(value)):
        return f"is {_shown(value)}, which does not match {condition['pattern']}"
    if "not_pattern" in condition and re.search(condition["not_pattern"], str(value)):
        return f"is {_shown(value)}, which matches {condition['not_pattern']}"
    if "min" in condition or "max" in condition:
        number = _number(value, unit)
        if number is None:
            return f"is {_shown(value)}, not a number"
        if "min" in condition and number < _threshold(condition["min"], unit):
            return f"is {_shown(value, unit)}, less than {condition['min']}"
        if "max" in condition and number > _threshold(condition["max"], unit):
            return f"is {_shown(value, unit)}, more than {condition['max']}"
    return None


@dataclass(frozen=True)
class TeamRule:
    id: str
    kinds: tuple[str, ...]  # `kind` or `type/kind`; `*` for all
    field: str
    condition: Mapping[str, Any]
    message: str
    where: Mapping[str, Any]
    name: str | None

    def applies(self, broker_type: str, resource: Resource) -> bool:
        if not any(k in ("*", resource.kind, f"{broker_type}/{resource.kind}") for k in self.kinds):
            return False
        if self.name is not None and not re.search(self.name, resource.address.name[-1]):
            return False
        for field, wanted in self.where.items():
            condition = wanted if isinstance(wanted, Mapping) else {"equals": wanted}
            value = field_value(resource, field)
            if violation(condition, value, unit_of(broker_type, resource.kind, field)) is not None:
                return False
            if value is _MISSING and not condition.get("absent") and condition.get("required") is not False:
                return False  # `where: {type: quorum}` does not select a queue that does not say its type
        return True

    def check(self, subject: Subject, options: Mapping[str, Any]) -> Iterator[Finding]:
        for resource in subject.resources():
            broker_type = subject.broker_type(resource)
            if not self.applies(broker_type, resource):
                continue
            value = field_value(resource, self.field)
            why = violation(self.condition, value, unit_of(broker_type, resource.kind, self.field))
            if why is None:
                continue
            message = f"{resource.kind} {resource.address.display_name}: {self.field} {why}"
            if self.message:
                message += f": {self.message}"
            yield Finding(
                self.id,
                Severity.WARNING,
                message,
                subject.location(resource, self.field.split(".")),
                resource.address,
            )


def team_rule(data: Mapping[str, Any]) -> Rule:
    kinds = data["kind"]
    rule = TeamRule(
        id=data["id"],
        kinds=tuple(kinds) if isinstance(kinds, Sequence) and not isinstance(kinds, str) else (kinds,),
        field=data["field"],
        condition=data["condition"],
        message=data.get("message", ""),
        where=data.get("where") or {},
        name=data.get("name"),
    )
    summary = data.get("message") or f"{rule.field} of {', '.join(rule.kinds)}: {_condition_text(rule.condition)}"
    info = RuleInfo(rule.id, summary, Severity(data.get("severity", "error")), data.get("help", ""), default=False)
    return Rule(info, rule.check)


def _condition_text(condition: Mapping[str, Any]) -> str:
    return ", ".join(f"{k} {v}" for k, v in condition.items())
