"""Carrying out a plan: waves in dependency order, brokers side by side, bounded parallelism."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from topoctl.engine.order import waves
from topoctl.engine.planner import Session
from topoctl.errors import ApplyError, DestructiveRefused, TopoctlError
from topoctl.manifest.loader import Manifest
from topoctl.model import Action, Change, Plan

Progress = Callable[[Change], None]


@dataclass
class ApplyResult:
    added: int = 0
    changed: int = 0
    destroyed: int = 0
    done: list[Change] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record(self, step: Change) -> None:
        with self._lock:
            self.done.append(step)
            if step.action is Action.CREATE:
                self.added += 1
            elif step.action is Action.UPDATE:
                self.changed += 1
            else:
                self.destroyed += 1

    @property
    def line(self) -> str:
        return f"Resources: {self.added} added, {self.changed} changed, {self.destroyed} destroyed."


def refuse_destructive(plan: Plan, allow_destructive: bool) -> None:
    if allow_destructive or not plan.destructive:
        return
    listed = "\n".join(f"  {c.action.value:8} {c.address}" for c in plan.destructive)
    raise DestructiveRefused(
        f"the plan has {len(plan.destructive)} destructive change(s) and --allow-destructive was not given;"
        f" nothing was changed:\n{listed}"
    )


def execute(session: Session, plan: Plan, parallelism: int = 8, progress: Progress | None = None) -> ApplyResult:
    """Run the plan's steps. Stops after the first wave with a failure; what ran is reported."""
    result = ApplyResult()

    def done(step: Change) -> None:
        result.record(step)
        if progress is not None:
            progress(step)

    for wave in waves(plan):
        by_broker: dict[str, list[Change]] = {}
        for step in wave:
            by_broker.setdefault(step.broker, []).append(step)
        errors: list[BaseException] = []

        def run(broker: str, steps: list[Change], errors: list[BaseException] = errors) -> None:
            try:
                session.driver(broker).apply(steps, parallelism, done)
            except BaseException as exc:  # collected: the other brokers' steps still finish
                errors.append(exc)

        if len(by_broker) == 1:
            ((broker, steps),) = by_broker.items()
            run(broker, steps)
        else:
            with ThreadPoolExecutor(max_workers=len(by_broker), thread_name_prefix="apply") as pool:
                for broker, steps in by_broker.items():
                    pool.submit(run, broker, steps)
        if errors:
            first = errors[0]
            if isinstance(first, KeyboardInterrupt):
                raise first
            message = str(first) if isinstance(first, TopoctlError) else f"{type(first).__name__}: {first}"
            raise ApplyError(f"apply failed: {message}\nApplied before the failure: {result.line}") from first
    return result


def apply_plan(
    plan: Plan,
    manifest: Manifest,
    allow_destructive: bool = False,
    parallelism: int = 8,
    progress: Progress | None = None,
) -> ApplyResult:
    refuse_destructive(plan, allow_destructive)
    with Session(manifest) as session:
        return execute(session, plan, parallelism, progress)
