"""The published JSON plan schema (`schemas/plan.schema.json`) describes `Plan.to_json()` exactly."""

from __future__ import annotations

import json
from dataclasses import replace
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from tests.cli import topoctl
from topoctl.engine.diff import diff
from topoctl.manifest.schema import SCHEMA_DIR, validate_document
from topoctl.manifest.source import SourceMap
from topoctl.model import Action, Address, Change, Plan
from topoctl.render import render_json

from .fakes import KINDS, q
from .test_render import sample_plan

PLAN_SCHEMA = SCHEMA_DIR / "plan.schema.json"


@cache
def plan_validator() -> Draft202012Validator:
    schema = json.loads(PLAN_SCHEMA.read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def assert_valid_plan(document: Any) -> None:
    """Used by the integration tests too, on plans made against real brokers."""
    errors = sorted(plan_validator().iter_errors(document), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors)


def _with_notes() -> Plan:
    note = Change(
        Address("b", "queue", ("v", "audit")),
        Action.UPDATE,
        {"type": "classic", "arguments": {"x-queue-version": 2}},
        {"type": "classic"},
        observed_fingerprint="0123456789abcdef",
        notes=("arguments.x-queue-version is set on the broker but not in the manifest (kept)",),
    )
    return replace(
        sample_plan(),
        notes=(note,),
        manifests=("topology/",),
        brokers={"b": "rabbitmq", "events": "kafka"},
        targets=("b/queue",),
    )


@pytest.mark.parametrize(
    "plan",
    [sample_plan(), Plan(changes=()), _with_notes(), diff([q("a/b%c", type="x")], [], lambda a: KINDS[a.kind])],
    ids=["sample", "empty", "notes-and-metadata", "encoded-name"],
)
def test_plans_validate(plan: Plan) -> None:
    assert_valid_plan(json.loads(render_json(plan)))


def test_schema_is_strict_about_what_to_json_writes() -> None:
    doc = json.loads(render_json(sample_plan()))
    broken: list[tuple[str, Any]] = []
    extra = json.loads(json.dumps(doc))
    extra["changes"][0]["surprise"] = 1
    broken.append(("unknown field", extra))
    wrong = json.loads(json.dumps(doc))
    replace_change = next(c for c in wrong["changes"] if c["action"] == "replace")
    replace_change["destructive"] = False
    broken.append(("replace not destructive", wrong))
    missing = json.loads(json.dumps(doc))
    del missing["summary"]["delete"]
    broken.append(("summary incomplete", missing))
    version = dict(doc, format_version="2")
    broken.append(("other format version", version))
    for what, document in broken:
        assert not plan_validator().is_valid(document), f"the schema accepts a plan with {what}"


def test_plan_schema_does_not_disturb_the_manifest_schema() -> None:
    # The manifest validator registers every *.schema.json in the directory.
    assert PLAN_SCHEMA.parent == SCHEMA_DIR
    validate_document({"version": 1, "brokers": {}}, SourceMap())


def test_schemas_dir_publishes_it() -> None:
    published = Path(__file__).resolve().parents[2] / "schemas" / "plan.schema.json"
    assert published.read_text(encoding="utf-8") == PLAN_SCHEMA.read_text(encoding="utf-8")


def test_show_json_is_the_saved_plan(tmp_path: Path) -> None:
    plan = _with_notes()
    path = tmp_path / "plan.json"
    path.write_text(render_json(plan), encoding="utf-8")
    shown = topoctl("show", path, "--format", "json")
    assert shown.code == 0, str(shown)
    assert shown.stdout == render_json(plan)
    assert_valid_plan(shown.json)
