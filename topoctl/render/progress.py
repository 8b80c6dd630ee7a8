"""What `apply` shows while it runs, on stderr.

On a terminal: a live display with one row per broker (done / total, failures, elapsed) under a
line naming the wave in progress, and each finished change printed above it in its action's
colour. In CI (`CI=true`), with `NO_COLOR`, or when stderr is not a terminal: the plain lines
`<address>: created`, one per change, no escape codes, exactly as before. `FORCE_COLOR` forces
colour; the live display (which moves the cursor) still needs a real terminal, so logs stay
readable.

rich is imported only when the live display is used: `topoctl --version` and `validate` do not
pay for it.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable, Collection, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import IO, Any

from topoctl.engine.order import waves
from topoctl.model import Action, Address, Change, Plan

# broker -> the (address, action) steps its driver says failed (`Driver.failed`).
Failures = Callable[[str], Collection[tuple[Address, Action]]]
PAST = {Action.CREATE: "created", Action.UPDATE: "updated", Action.DELETE: "destroyed"}
_STYLE = {Action.CREATE: "green", Action.UPDATE: "yellow", Action.DELETE: "red"}
_ANSI = {Action.CREATE: "\033[32m", Action.UPDATE: "\033[33m", Action.DELETE: "\033[31m"}


def in_ci(env: Mapping[str, str]) -> bool:
    return env.get("CI", "").lower() in ("true", "1")


def mode(stream: IO[str], env: Mapping[str, str] | None = None) -> str:
    """`live` (a terminal, colours allowed), `colour` (FORCE_COLOR off a terminal) or `plain`."""
    env = os.environ if env is None else env
    tty = _isatty(stream)
    if env.get("FORCE_COLOR"):
        return "live" if tty and not in_ci(env) else "colour"
    if env.get("NO_COLOR") or in_ci(env) or not tty or env.get("TERM") == "dumb":
        return "plain"
    return "live"


def _then(first: Callable[[], None], after: Callable[[], None]) -> None:
    try:
        first()
    finally:
        after()


def _isatty(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def line(step: Change) -> str:
    return f"{step.address}: {PAST.get(step.action, step.action.value)}"


class Plain:
    """One line per finished change, as CI logs have always had them. A display made `held` keeps
    its lines until `release`: what must come before them (the plan) is still being written."""

    def __init__(self, stream: IO[str], colour: bool = False, held: bool = False) -> None:
        self.stream = stream
        self.colour = colour
        self._lock = threading.Lock()
        self._held: list[str] | None = [] if held else None

    def step(self, step: Change) -> None:
        text = line(step)
        if self.colour:
            text = f"{_ANSI.get(step.action, '')}{text}\033[0m"
        with self._lock:
            if self._held is not None:
                self._held.append(text + "\n")
                return
            self.stream.write(text + "\n")
            self.stream.flush()

    def release(self) -> None:
        """Write the lines held so far, then each as it comes."""
        with self._lock:
            held, self._held = self._held, None
            if held:
                self.stream.write("".join(held))
                self.stream.flush()

    def stop(self, exc: BaseException) -> None:
        pass


class Tally:
    """Per broker: steps to do, done and failed, and the wave in progress. Updated from the
    drivers' threads; the wave in progress is the first one with a step not done yet (the engine
    runs waves one after the other)."""

    def __init__(self, plan: Plan) -> None:
        self.waves = waves(plan)
        self.wave_of: dict[tuple[str, str], int] = {}
        self.total: dict[str, int] = {}
        for index, wave in enumerate(self.waves):
            for step in wave:
                self.wave_of[_key(step)] = index
                self.total[step.broker] = self.total.get(step.broker, 0) + 1
        self.done: dict[str, int] = dict.fromkeys(self.total, 0)
        self.failed: dict[str, int] = dict.fromkeys(self.total, 0)
        self.stopped = ""
        self._finished: set[tuple[str, str]] = set()
        self._left = [len(w) for w in self.waves]
        self.current = 0
        self._lock = threading.Lock()

    def record(self, step: Change) -> None:
        with self._lock:
            key = _key(step)
            if key in self._finished:
                return
            self._finished.add(key)
            self.done[step.broker] = self.done.get(step.broker, 0) + 1
            index = self.wave_of.get(key)
            if index is not None:
                self._left[index] -= 1
            while self.current < len(self.waves) and self._left[self.current] <= 0:
                self.current += 1

    def fail_wave(self, named: Failures | None = None) -> None:
        """The wave in progress ended with a failure. Counted as the apply's summary counts: the
        steps a broker's driver names as failed, or, when it names none (a batching driver), its
        steps in the wave that are not done."""
        with self._lock:
            if self.current < len(self.waves):
                by_broker: dict[str, list[Change]] = {}
                for step in self.waves[self.current]:
                    by_broker.setdefault(step.broker, []).append(step)
                for broker, steps in by_broker.items():
                    keys = {_key(s) for s in steps}
                    said = {(str(a), action.value) for a, action in named(broker)} & keys if named else set()
                    self.failed[broker] += len(said) if said else len(keys - self._finished)
            self.stopped = "failed"

    @property
    def wave_text(self) -> str:
        if self.current >= len(self.waves):
            return f"all {len(self.waves)} waves done"
        text = f"wave {self.current + 1} of {len(self.waves)}"
        return f"{text}, {self.stopped}" if self.stopped else text


def _key(step: Change) -> tuple[str, str]:
    return (str(step.address), step.action.value)


class Live:
    """rich's live display: a row per broker, redrawn a few times a second, on stderr."""

    def __init__(self, plan: Plan, stream: IO[str], failures: Failures | None = None) -> None:
        self.failures = failures
        from rich.console import Console, Group
        from rich.live import Live as RichLive
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
        from rich.text import Text

        self.tally = Tally(plan)
        self.console = Console(file=stream, stderr=stream is sys.stderr, highlight=False)
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[failures]}"),
            TimeElapsedColumn(),
            console=self.console,
        )
        self.tasks = {
            broker: self.progress.add_task(broker, total=total, failures="")
            for broker, total in sorted(self.tally.total.items())
        }
        self._text = Text
        self.header = Text("")
        self._group = Group(self.header, self.progress)
        self.live = RichLive(self._group, console=self.console, refresh_per_second=8, transient=False)
        self._started = time.monotonic()
        self._update()

    def __enter__(self) -> Live:
        self.live.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._update()
        self.live.__exit__(*exc)

    def _update(self) -> None:
        self.header.plain = f"Applying: {self.tally.wave_text}"
        for broker, task in self.tasks.items():
            failed = self.tally.failed.get(broker, 0)
            self.progress.update(
                task,
                completed=self.tally.done.get(broker, 0),
                failures=f"[red]{failed} failed[/]" if failed else "",
            )

    def step(self, step: Change) -> None:
        self.tally.record(step)
        self.console.print(line(step), style=_STYLE.get(step.action), highlight=False, markup=False)
        self._update()

    def stop(self, exc: BaseException) -> None:
        from topoctl.errors import ApplyError

        if isinstance(exc, ApplyError):
            try:
                self.tally.fail_wave(self.failures)
            except Exception:  # what a display shows must never hide the apply's own error
                self.tally.stopped = "failed"
        else:  # Ctrl-C, SIGTERM: what was not started is not attempted, not failed
            self.tally.stopped = "stopped"
        self._update()


@contextmanager
def apply_display(
    plan: Plan,
    stream: IO[str] | None = None,
    failures: Failures | None = None,
    preface: Callable[[], None] | None = None,
) -> Iterator[Plain | Live]:
    """The display for one apply; on failure or interruption the live display shows the failures
    and stays on screen above the error and the summary lines. `preface` (writing the plan) comes
    before any of it: with plain lines it runs in a thread while the apply starts, the lines held
    until it is done, and it is done when the display ends; a live display starts after it."""
    stream = sys.stderr if stream is None else stream
    how = mode(stream)
    if how != "live":
        if preface is None:
            yield Plain(stream, colour=how == "colour")
            return
        plain = Plain(stream, colour=how == "colour", held=True)
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="preface") as pool:
            written = pool.submit(_then, preface, plain.release)
            try:
                yield plain
            finally:
                problem = written.exception()  # the apply's own error, if any, goes first
            if problem is not None:
                raise problem
        return
    if preface is not None:
        preface()
    display = Live(plan, stream, failures)
    with display:
        try:
            yield display
        except BaseException as exc:
            display.stop(exc)
            raise
