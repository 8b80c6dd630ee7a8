"""The provider conformance suite: the same life cycle, run against every real broker.

A broker's test module subclasses `Conformance` and provides manifests as functions of a unique
namespace string `ns` (use it in every name so runs never collide):

    class TestRabbitConformance(Conformance):
        def manifest(self, ns, stage): ...      # the whole manifest document (a dict) for a stage
        def address(self, ns, stage): ...       # the address the stage changes
        def cleanup(self, ns): ...              # remove whatever the test left on the broker

Stages, in order (`stages` may leave "replace" out where no field can force one):

- "create" (a few resources): applied, then the plan is empty;
- "update" (one field the broker can change in place): plans `update` for `address(ns, "update")`
  and nothing else, applies, and the plan is empty;
- "replace" (one field it cannot change): plans a destructive `replace`, is refused without
  --allow-destructive with nothing changed, applies with it, and the plan is empty;
- "delete" (a resource marked `state: absent`): plans `delete`, is refused without the flag,
  applies with it, the plan is empty, and the resource is gone.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.cli import Result, assert_empty, plan_json, planned, topoctl, write_manifest

STAGES = ("create", "update", "replace", "delete")


class Conformance:
    def manifest(self, ns: str, stage: str) -> dict[str, Any]:
        raise NotImplementedError

    def address(self, ns: str, stage: str) -> str:
        raise NotImplementedError

    def cleanup(self, ns: str) -> None:
        raise NotImplementedError

    @pytest.fixture
    def ns(self) -> Iterator[str]:
        ns = f"conf{uuid.uuid4().hex[:8]}"
        yield ns
        self.cleanup(ns)

    def _file(self, tmp_path: Path, ns: str, stage: str) -> Path:
        return write_manifest(tmp_path / f"{stage}.yaml", self.manifest(ns, stage))

    def _plan(self, path: Path) -> Result:
        return plan_json(path)

    def _assert_empty(self, path: Path) -> None:
        assert_empty(path)

    # A broker where nothing but the name decides what forces a replace (SQS: FIFO-ness is the
    # `.fifo` suffix, part of the address) leaves "replace" out.
    stages: tuple[str, ...] = STAGES

    @pytest.mark.integration
    def test_life_cycle(self, tmp_path: Path, ns: str) -> None:
        assert self.stages[0] == "create"
        for stage in self.stages:
            getattr(self, f"_{stage}")(tmp_path, ns)

    def _create(self, tmp_path: Path, ns: str) -> None:
        create = self._file(tmp_path, ns, "create")
        first = planned(self._plan(create))
        assert first and set(first.values()) == {"create"}, first
        result = topoctl("apply", "-f", create, "--auto-approve")
        assert result.code == 0, str(result)
        assert "Apply complete!" in result.stderr
        self._assert_empty(create)

    def _update(self, tmp_path: Path, ns: str) -> None:
        update = self._file(tmp_path, ns, "update")
        changes = planned(self._plan(update))
        assert changes == {self.address(ns, "update"): "update"}, changes
        result = topoctl("apply", "-f", update, "--auto-approve")
        assert result.code == 0, str(result)
        self._assert_empty(update)

    def _replace(self, tmp_path: Path, ns: str) -> None:
        replace = self._file(tmp_path, ns, "replace")
        plan = self._plan(replace)
        changes = planned(plan)
        assert changes.get(self.address(ns, "replace")) == "replace", changes
        assert all(c["destructive"] for c in plan.json["changes"] if c["action"] == "replace")
        self._refused_then_applied(replace, changes)

    def _delete(self, tmp_path: Path, ns: str) -> None:
        delete = self._file(tmp_path, ns, "delete")
        changes = planned(self._plan(delete))
        assert changes.get(self.address(ns, "delete")) == "delete", changes
        self._refused_then_applied(delete, changes)
        # Gone for real: the create manifest wants it back.
        create = self._file(tmp_path, ns, "create")
        assert planned(self._plan(create)).get(self.address(ns, "delete")) == "create"

    def _refused_then_applied(self, path: Path, changes: dict[str, str]) -> None:
        refused = topoctl("apply", "-f", path, "--auto-approve")
        assert refused.code == 1, str(refused)
        assert "--allow-destructive" in refused.stderr
        assert planned(self._plan(path)) == changes, "a refused apply changed something"
        result = topoctl("apply", "-f", path, "--auto-approve", "--allow-destructive")
        assert result.code == 0, str(result)
        self._assert_empty(path)
