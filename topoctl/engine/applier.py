"""Carrying out a plan: waves in dependency order, brokers side by side, bounded parallelism."""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from topoctl.engine.order import split
from topoctl.engine.planner import Session
from topoctl.errors import ApplyError, DestructiveRefused, Interrupted, TopoctlError
from topoctl.manifest.loader import Manifest
from topoctl.model import Action, Address, Change, Plan

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
    """Run the plan's steps. Stops after the first wave with a failure, or before the next wave once
    `session.stopping` is set (the drivers start no new change then); what ran is reported."""
    result = ApplyResult()

    def done(step: Change) -> None:
        result.record(step)
        if progress is not None:
            progress(step)

    for wave in session.waves(plan):
        if session.stopping.is_set():
            break
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
            failed = _failed_steps(session, by_broker, result)
            raise ApplyError(f"apply failed: {message}\n{outcome(plan, result, failed)}") from first
    if session.stopping.is_set() and len(result.done) < sum(len(w) for w in session.waves(plan)):
        raise Interrupted(
            f"{session.stop_reason}: no new change was started after it.\n{outcome(plan, result)}",
            session.stop_exit_code,
        )
    return result


Step = tuple[Address, Action]


def _failed_steps(session: Session, wave: Mapping[str, Sequence[Change]], result: ApplyResult) -> set[Step]:
    """The steps of the failed wave that raised. A driver that says which did (the base class does)
    is believed; for one that batches and did not, every step of its share that is not done failed."""
    finished = {(s.address, s.action) for s in result.done}
    failed: set[Step] = set()
    for broker, steps in wave.items():
        keys = {(s.address, s.action) for s in steps}
        named = session.driver(broker).failed & keys
        failed |= named if named else keys - finished
    return failed


def outcome(plan: Plan, result: ApplyResult, failed_steps: Collection[Step] = ()) -> str:
    """`812 of 3,001 changes applied; 1 failed; 2,188 not attempted.` and the counts by action, plus
    every replace caught halfway (deleted, not yet created again), which a rerun must finish. A
    change whose step failed after it took effect in part counts as failed."""
    finished = {(s.address, s.action) for s in result.done}
    applied = failed = 0
    halfway = []
    for change in plan.changes:
        steps = [(s.address, s.action) for s in split(change) if s is not None]
        if any(s in failed_steps for s in steps):
            failed += 1
        elif all(s in finished for s in steps):
            applied += 1
            continue
        if change.action is Action.REPLACE and steps[0] in finished and steps[1] not in finished:
            halfway.append(change.address)
    total = len(plan.changes)
    lines = [
        f"{applied:,} of {total:,} changes applied; {failed:,} failed; {total - applied - failed:,} not attempted. "
        f"{result.line}"
    ]
    lines += [f"{a} was deleted for its replace and is not created yet: apply again to create it" for a in halfway]
    lines.append("Nothing else was touched; `topoctl apply` again plans and applies only what is left.")
    return "\n".join(lines)


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
