"""The lint config file: severities and options of the shipped rules, and a team's own rules.

    defaults:                       # each shipped rule: a severity (error, warning, note, off) or a
      quorum-queues: error          #   mapping of its options, with `severity` among them
      naming: {patterns: {kafka/topic: '^[a-z]+(\\.[a-z0-9-]+)+$'}}
      retention-bounds: {min: 1d, max: 30d}
    rules:                          # a team's rules (see custom.py)
      - {id: queue-owner, kind: sqs_queue, field: tags.team, condition: {required: true}, severity: error}

Bad config is one ManifestError at the config file's line, like a bad manifest.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from topoctl.errors import ManifestError
from topoctl.lint.custom import team_rule
from topoctl.lint.model import OFF, SEVERITY_WORDS, Rule, Severity
from topoctl.lint.rules import default_rules
from topoctl.manifest.source import SourceMap
from topoctl.manifest.yaml_source import load_yaml
from topoctl.units import parse_duration

# Looked for in the current directory when --config is not given.
DEFAULT_CONFIG_FILES = (".topoctl-lint.yaml", ".topoctl-lint.yml")

# YAML reads a bare `off` as false: both turn a rule off.
_SEVERITY = {"enum": [*SEVERITY_WORDS, OFF, False]}
_CONDITION: dict[str, Any] = {
    "type": "object",
    "minProperties": 1,
    "additionalProperties": False,
    "properties": {
        "required": {"type": "boolean"},
        "absent": {"type": "boolean"},
        "equals": {},
        "in": {"type": "array"},
        "not_in": {"type": "array"},
        "pattern": {"type": "string"},
        "not_pattern": {"type": "string"},
        "min": {"type": ["number", "string"]},
        "max": {"type": ["number", "string"]},
    },
}
_PLAIN = {"not": {"type": "object"}}  # `where: {type: quorum}`: a plain value means equals
_KIND = {"type": "string", "pattern": r"^(\*|[a-z_]+(/[a-z_]+)?)$"}
SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "defaults": {
            "type": "object",
            "additionalProperties": {
                "oneOf": [_SEVERITY, {"type": "object", "properties": {"severity": _SEVERITY}}],
            },
        },
        "rules": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["id", "kind", "field", "condition"],
                "properties": {
                    "id": {"type": "string", "pattern": r"^[A-Za-z0-9][A-Za-z0-9._-]*$"},
                    "kind": {"oneOf": [_KIND, {"type": "array", "items": _KIND, "minItems": 1}]},
                    "field": {"type": "string", "minLength": 1},
                    "condition": _CONDITION,
                    "severity": {"enum": list(SEVERITY_WORDS)},
                    "message": {"type": "string"},
                    "help": {"type": "string"},
                    "name": {"type": "string"},
                    "where": {
                        "type": "object",
                        "additionalProperties": {"oneOf": [_CONDITION, _PLAIN]},
                    },
                },
            },
        },
    },
}
# Options of the shipped rules, and what each must be.
_OPTIONS: dict[str, dict[str, str]] = {
    "naming": {"patterns": "mapping"},
    "dead-letter-required": {"exempt": "regex"},
    "min-replication": {"min": "integer"},
    "retention-bounds": {"min": "duration", "max": "duration"},
}


def find_config(explicit: str | None) -> Path | None:
    if explicit is not None:
        return Path(explicit)
    for name in DEFAULT_CONFIG_FILES:
        if Path(name).is_file():
            return Path(name)
    return None


def load_rules(path: Path | None) -> list[Rule]:
    """The rules in force: the shipped ones as configured (minus those turned off), then the team's."""
    rules = default_rules()
    if path is None:
        return list(rules.values())
    document, sources = _read(path)
    for rule_id, setting in (document.get("defaults") or {}).items():
        where = sources.where(("defaults", rule_id))
        if rule_id not in rules:
            from topoctl.manifest.schema import suggest

            near = suggest(str(rule_id), list(rules))
            hint = f"did you mean {near}?" if near else f"one of: {', '.join(rules)}"
            raise ManifestError(f"defaults: no shipped rule {rule_id!r} ({hint})", where)
        if setting in (OFF, False) or (isinstance(setting, Mapping) and setting.get("severity") in (OFF, False)):
            del rules[rule_id]
            continue
        rule = rules[rule_id]
        if isinstance(setting, str):
            rules[rule_id] = replace(rule, info=replace(rule.info, severity=Severity(setting)))
            continue
        options = dict(rule.options)
        for key, value in setting.items():
            if key == "severity":
                continue
            options[key] = _option(rule_id, key, value, sources.where(("defaults", rule_id, key)))
        severity = Severity(setting.get("severity", rule.info.severity.value))
        rules[rule_id] = replace(rule, info=replace(rule.info, severity=severity), options=options)
    team: list[Rule] = []
    seen = set(default_rules())
    for index, data in enumerate(document.get("rules") or []):
        where = sources.where(("rules", index))
        if data["id"] in seen:
            raise ManifestError(f"rule id {data['id']!r} is used twice (or is a shipped rule's)", where)
        seen.add(data["id"])
        for key in ("pattern", "not_pattern"):
            if key in data["condition"]:
                _regex(data["condition"][key], sources.where(("rules", index, "condition", key)))
        if "name" in data:
            _regex(data["name"], sources.where(("rules", index, "name")))
        for key in ("min", "max"):
            value = data["condition"].get(key)
            if isinstance(value, str):
                _duration_or_size(value, sources.where(("rules", index, "condition", key)))
        team.append(team_rule(data))
    return [*rules.values(), *team]


def _read(path: Path) -> tuple[dict[str, Any], SourceMap]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ManifestError(f"{path}: no such lint config file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ManifestError(f"{path}: cannot read the lint config: {getattr(exc, 'strerror', None) or exc}") from None
    document, sources = load_yaml(text, str(path), os.environ)
    if document is None:
        return {}, sources
    if not isinstance(document, dict):
        raise ManifestError("a lint config is a mapping (defaults:, rules:)", f"{path}:1")
    from jsonschema import Draft202012Validator

    errors = sorted(Draft202012Validator(SCHEMA).iter_errors(document), key=lambda e: list(e.absolute_path))
    if errors:
        error = errors[0]
        at = ".".join(str(p) for p in error.absolute_path) or "the top level"
        raise ManifestError(f"lint config, {at}: {error.message}", sources.where(tuple(error.absolute_path)))
    return document, sources


def _regex(pattern: str, where: str | None) -> str:
    try:
        re.compile(pattern)
    except re.error as exc:
        raise ManifestError(f"not a regular expression: {pattern!r} ({exc})", where) from None
    return pattern


def _duration_or_size(value: str, where: str | None) -> None:
    from topoctl.units import parse_size

    for parse in (parse_duration, parse_size):
        try:
            parse(value)
            return
        except ValueError:
            continue
    raise ManifestError(f"{value!r} is neither a duration (7d, 30s) nor a size (1GiB)", where)


def _option(rule_id: str, key: str, value: Any, where: str | None) -> Any:
    kinds = _OPTIONS.get(rule_id, {})
    if key not in kinds:
        known = ", ".join(["severity", *kinds])
        raise ManifestError(f"defaults.{rule_id}: no option {key!r} (options: {known})", where)
    kind = kinds[key]
    if kind == "integer" and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
        raise ManifestError(f"defaults.{rule_id}.{key}: expected a positive integer, got {value!r}", where)
    if kind == "regex":
        return _regex(str(value), where)
    if kind == "duration" and value is not None:
        try:
            parse_duration(value, "ms")
        except ValueError as exc:
            raise ManifestError(f"defaults.{rule_id}.{key}: {exc}", where) from None
    if kind == "mapping":
        if not isinstance(value, Mapping) or not all(isinstance(v, str) for v in value.values()):
            raise ManifestError(f"defaults.{rule_id}.{key}: expected a mapping of kind to pattern", where)
        for kind_key, pattern in value.items():
            _regex(pattern, where)
            if not re.fullmatch(r"\*|[a-z_]+(/[a-z_]+)?", str(kind_key)):
                raise ManifestError(f"defaults.{rule_id}.{key}: {kind_key!r} is not a kind or type/kind", where)
    return value
