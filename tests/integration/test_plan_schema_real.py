"""Real plans, made against the real brokers, validate against the published JSON plan schema;
`show --format json` of the saved plan is the plan's JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.cli import apply_ok, topoctl
from tests.integration.rabbitmq_support import manifest_file
from tests.unit.test_plan_schema import assert_valid_plan

pytestmark = pytest.mark.integration
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.mark.parametrize("example", sorted(p.name for p in EXAMPLES.glob("*.yaml")))
def test_plans_of_the_examples_validate(example: str) -> None:
    result = topoctl("plan", "-f", EXAMPLES / example, "--format", "json", "--detailed-exitcode")
    assert result.code in (0, 2), str(result)
    assert_valid_plan(result.json)


def _vhost(stage: str) -> dict[str, Any]:
    later = stage == "later"
    return {
        "exchanges": {"orders": {"type": "topic"}},
        "queues": {
            "billing": {"type": "quorum" if later else "classic", "dead_letter": {}},
            "audit": {"type": "classic", "arguments": {"x-message-ttl": "2h" if later else "1h"}},
            "legacy": {"state": "absent"} if later else {"type": "classic"},
        },
        "bindings": [{"source": "orders", "destination": "billing", "routing_key": "order.*"}],
        "policies": {
            "ttl": {"pattern": "^audit$", "apply_to": "queues", "definition": {"expires": "2d" if later else "1d"}}
        },
    }


def test_a_real_plan_with_every_action_validates_and_show_json_is_the_plan(tmp_path: Path, vhost: str) -> None:
    first = manifest_file(tmp_path, {vhost: _vhost("first")}, "first.yaml")
    created = topoctl("plan", "-f", first, "--format", "json")
    assert_valid_plan(created.json)
    assert {c["action"] for c in created.json["changes"]} == {"create"}
    apply_ok(first)

    later = manifest_file(tmp_path, {vhost: _vhost("later")}, "later.yaml")
    saved = tmp_path / "plan.json"
    result = topoctl("plan", "-f", later, "--format", "json", "-o", saved, "--detailed-exitcode")
    assert result.code == 2, str(result)
    plan = result.json
    assert {"update", "replace", "delete"} <= {c["action"] for c in plan["changes"]}, plan["summary"]
    assert_valid_plan(plan)
    assert json.loads(saved.read_text(encoding="utf-8")) == plan
    shown = topoctl("show", saved, "--format", "json")
    assert shown.code == 0, str(shown)
    assert shown.stdout == result.stdout
    markdown = topoctl("show", saved, "--format", "markdown")
    assert "[!CAUTION]" in markdown.stdout and "<details>" in markdown.stdout
