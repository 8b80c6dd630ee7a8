"""The seam between the pure engine and the brokers.

A provider package (`topoctl/providers/<type>/`) has two halves:

* a pure **compiler** (`compile.py`): the broker's section of the manifest -> desired `Resource`s,
  with semantic checks and the expansion of sugar such as `dead_letter:`. It imports no client.
* a **driver** (`driver.py`): a `Driver` subclass that reads live state and performs changes.
  Broker client libraries are imported inside it (lazily), never at package import time.

Each kind of resource a provider manages is described by a `KindSpec`: which fields force a
replacement, how two values compare, what a destructive change puts at risk.
"""

from __future__ import annotations

import abc
import json
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

from topoctl.errors import BrokerError, ManifestError, PartlyApplied, TopoctlError
from topoctl.manifest.source import Context
from topoctl.model import JSON, Action, Address, Change, FieldChange, Resource
from topoctl.retry import Retrier, RetryPolicy


@dataclass(frozen=True)
class KindSpec:
    """How the engine diffs one kind of resource."""

    kind: str
    # Fields whose change needs delete + create (the broker cannot change them in place).
    immutable: frozenset[str] = frozenset()
    # Deleting a resource of this kind also deletes, on the broker, the resources that depend on
    # it (a RabbitMQ queue takes its bindings, a JetStream stream its consumers).
    cascades: bool = False
    # Order of kinds in output (lower first); dependencies still decide the order of apply.
    rank: int = 50
    # Unit of the integer fields that hold durations or sizes ("ms", "s", "ns", "bytes"), by field
    # path (`max_age`, `consumer_limits.inactive_threshold`), so plans can show `7d`, not 604800000.
    units: Mapping[str, str] = field(default_factory=dict)
    # Volatile counts in an observed resource's `info` that a delete of it loses (messages, pending
    # entries, values of a bucket). A saved plan is refused when one of them grew since it was made.
    risk_counts: tuple[str, ...] = ("messages",)
    # Kinds whose creates this kind's create may depend on and still share its wave, within one
    # broker and one outermost parent (the first name part: a RabbitMQ vhost), when neither is half
    # of a replace: the driver takes them in one call and creates those kinds first itself (a bulk
    # API that takes a whole topology and orders it, such as RabbitMQ's definitions import), so
    # the wave split would only cost another call and another check (see engine.order).
    created_together: frozenset[str] = frozenset()

    def field_changes(self, desired: Resource, observed: Resource) -> list[FieldChange]:
        """Compare the declared fields of `desired` with `observed`. Override for special cases
        (one-way flags, partial maps, conditional immutability); raise PlanError for a change
        that no action can make."""
        changes = []
        for name, want in desired.attrs.items():
            have = observed.attrs.get(name)
            if not self.equal(name, want, have):
                changes.append(
                    FieldChange(name, have, want, forces_replacement=self.forces_replacement(name, have, want))
                )
        return changes

    def equal(self, field: str, desired: JSON, observed: JSON) -> bool:
        return bool(desired == observed)

    def forces_replacement(self, field: str, before: JSON, after: JSON) -> bool:
        return field in self.immutable

    def replace_reason(self, change: FieldChange) -> str:
        """Names what forces the replace with its old and new value: for a map (`arguments`), each
        key that differs (`arguments.x-max-length cannot change in place (1000 -> 5000)`)."""
        before, after = change.before, change.after
        if isinstance(before, Mapping) or isinstance(after, Mapping):
            old = before if isinstance(before, Mapping) else {}
            new = after if isinstance(after, Mapping) else {}
            keys = [k for k in sorted({*old, *new}, key=str) if old.get(k) != new.get(k)]
            if keys:
                return "; ".join(
                    f"{change.field}.{k} cannot change in place ({_shown(old.get(k))} -> {_shown(new.get(k))})"
                    for k in keys
                )
        return f"{change.field} cannot change in place ({_shown(before)} -> {_shown(after)})"

    def notes(self, desired: Resource, observed: Resource) -> list[str]:
        """What the plan should say about a live object that no action changes (an SNS subscription
        waiting for confirmation). Shown with the resource, never applied."""
        return []

    def exposure(self, observed: Resource) -> dict[str, int]:
        """The `risk_counts` of `observed`, for the staleness check of saved plans."""
        counts = {}
        for key in self.risk_counts:
            value = observed.info.get(key)
            if isinstance(value, int) and not isinstance(value, bool):
                counts[key] = value
        return counts

    def at_risk(self, observed: Resource) -> list[str]:
        """What a delete of `observed` loses, from its volatile `info`."""
        messages = observed.info.get("messages")
        if isinstance(messages, int) and messages > 0:
            return [f"{messages} message{'s' if messages != 1 else ''} will be lost"]
        return []


def _shown(value: JSON) -> str:
    """A value as the manifest would write it: `classic`, `1000`, `true`; `unset` for none."""
    if value is None:
        return "unset"
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, default=str)


@dataclass(frozen=True)
class PruneScope:
    """Live objects inside a scope that the manifest does not declare are planned for deletion.

    A scope is the kinds it covers (empty: all), the name parents it is under (a vhost, a stream)
    and an optional prefix of the last name part.
    """

    kinds: frozenset[str] = frozenset()
    parent: tuple[str, ...] = ()
    prefix: str = ""

    def covers(self, address: Address) -> bool:
        if self.kinds and address.kind not in self.kinds:
            return False
        name = address.name
        if len(name) <= len(self.parent) or name[: len(self.parent)] != self.parent:
            return False
        return name[-1].startswith(self.prefix)


def covering(scopes: Sequence[PruneScope]) -> Callable[[Address], bool]:
    """`lambda a: any(s.covers(a) for s in scopes)`, trying only the scopes whose parent the
    address is under: a prune by prefix may hold a scope per declared parent (the consumers of
    each stream), thousands of them, and every live object is asked."""
    by_parent: dict[tuple[str, ...], list[PruneScope]] = {}
    for scope in scopes:
        by_parent.setdefault(scope.parent, []).append(scope)

    def covers(address: Address) -> bool:
        name = address.name
        return any(scope.covers(address) for n in range(len(name)) for scope in by_parent.get(name[:n], ()))

    return covers


@dataclass(frozen=True)
class Compiled:
    """What a provider's compiler makes of one broker section."""

    resources: list[Resource]
    prune: list[PruneScope] = field(default_factory=list)
    # Legal but probably not what the author meant ("file:line: two policies match queue x; only
    # the higher priority one applies"). Printed on stderr by validate, plan and apply.
    warnings: list[str] = field(default_factory=list)


T = TypeVar("T")


def in_background(call: Callable[[], T]) -> Future[T]:
    """`call` run in a daemon thread: one that never holds up the end of the process (a read
    ahead whose manifest turned out invalid, a broker that does not answer)."""
    future: Future[T] = Future()

    def run() -> None:
        try:
            future.set_result(call())
        except BaseException as exc:  # handed to whoever asks for the result
            future.set_exception(exc)

    threading.Thread(target=run, name="read-ahead", daemon=True).start()
    return future


Compiler = Callable[[str, Mapping[str, Any], Context], Compiled]
"""compile(broker_name, broker_section, context) -> Compiled. Pure; raises ManifestError."""


class Driver(abc.ABC):
    """Live I/O for one broker of the manifest. Instances are used from worker threads."""

    type: ClassVar[str]

    def __init__(self, name: str, connection: Mapping[str, Any]) -> None:
        self.name = name
        self.connection = connection
        # Set when the apply is asked to stop (the engine shares one event with every driver).
        self.stopping = threading.Event()
        # Retries of transient failures (topoctl/retry.py), `connection.retries` of the manifest.
        try:
            policy = RetryPolicy.from_connection(connection)
        except ValueError as exc:
            raise ManifestError(f"broker {name!r}: {exc}") from None
        self.retry = Retrier(policy, lambda: self.stopping.is_set())
        # The steps (address, action) whose call raised, also in part: the summary of a failed apply
        # tells them from the ones that never started. Drivers that batch may leave it empty.
        self.failed: set[tuple[Address, Action]] = set()

    @property
    @abc.abstractmethod
    def endpoint(self) -> str:
        """Where the broker is, for messages: a URL or host:port with any credentials removed."""

    @abc.abstractmethod
    def read(self, desired: Sequence[Resource], prune: Sequence[PruneScope]) -> list[Resource]:
        """Every live, manageable resource (system objects left out), in as few round trips as
        the broker allows. `desired` and `prune` may narrow what is worth reading. Raises
        BrokerError (with `self.name` and `self.endpoint`) when the broker cannot be reached."""

    def read_ahead(self, section: Mapping[str, Any]) -> bool:
        """Start reading, in the background, what `read` will most likely ask for, guessed from the
        broker's manifest section as parsed (not yet validated: any value may be missing or
        wrong). `read` must use what was read ahead only for requests identical to its own, and
        only once. Whether anything was started; by default nothing is (see `engine.ahead`)."""
        return False

    def read_ahead_compiled(self, resources: Sequence[Resource]) -> None:
        """After `read_ahead` started: the broker's section compiled (valid, while the rest of the
        manifest may not be yet), for what a read needs compiled resources to ask for. The same
        rules as `read_ahead`; by default nothing more is started."""
        return None

    @abc.abstractmethod
    def apply_one(self, change: Change) -> None:
        """Perform one change. A replace arrives as two calls: DELETE of the old, then CREATE."""

    def apply(self, changes: Sequence[Change], parallelism: int, done: Callable[[Change], None]) -> None:
        """Perform changes that do not depend on one another (one wave of the plan). Override to
        batch (Kafka's CreateTopics takes many topics at once).

        Every change that took effect, also in part (PartlyApplied), is reported through `done`,
        even when another one failed: the summary of a failed apply must name all that was done.
        Once `stopping` is set (Ctrl-C, SIGTERM) no change starts; those in flight finish. The
        failures are raised at the end, all of them, in plan order."""
        errors: dict[int, BaseException] = {}

        def finished(index: int, error: BaseException | None) -> None:
            self.finished(changes[index], error, done)
            if error is not None:
                errors[index] = error

        def run(change: Change) -> bool:
            if self.stopping.is_set() or self.retry.gave_up is not None:  # not attempted
                return False
            self.apply_one(change)
            return True

        if parallelism <= 1 or len(changes) <= 1:
            for index, change in enumerate(changes):
                try:
                    if not run(change):
                        break
                except TopoctlError as exc:
                    finished(index, exc)
                    break  # one at a time: stop at the first failure
                finished(index, None)
        else:
            with ThreadPoolExecutor(max_workers=parallelism, thread_name_prefix=f"{self.name}-apply") as pool:
                futures = {pool.submit(run, c): i for i, c in enumerate(changes)}
                try:
                    for future in as_completed(futures):
                        error = future.exception()
                        if error is not None or future.result():
                            finished(futures[future], error)
                except BaseException:  # a second Ctrl-C: start nothing more, now
                    for future in futures:
                        future.cancel()
                    raise
        self.raise_failures(errors)

    def finished(self, change: Change, error: BaseException | None, done: Callable[[Change], None]) -> None:
        """A change of `apply` has run: reported through `done` when it took effect (also in part),
        remembered in `failed` when it raised."""
        if error is None or isinstance(error, PartlyApplied):
            done(change)
        if error is not None:
            self.failed.add((change.address, change.action))

    def raise_failures(self, errors: Mapping[int, BaseException]) -> None:
        """The failures of an `apply` (by index of their change), all of them, in plan order."""
        if len(errors) == 1 or any(not isinstance(e, BrokerError) for e in errors.values()):
            raise errors[min(errors)]
        if errors:
            prefix = f"broker {self.name!r} ({self.endpoint}): "
            raise BrokerError(
                self.name,
                self.endpoint,
                f"{len(errors)} changes failed:\n"
                + "\n".join(f"  {str(errors[i]).removeprefix(prefix)}" for i in sorted(errors)),
            )

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""


@dataclass(frozen=True)
class Flow:
    """One edge of the message-flow graph: messages go from `source` to `target`."""

    source: Address
    target: Address
    label: str = ""
    dead_letter: bool = False


Exporter = Callable[[str, Sequence[Resource]], dict[str, Any]]
"""`<package>.export.export_broker(broker_name, observed)` -> the broker's manifest section (without
`type`/`connection`), such that planning the export against the same broker is empty."""

FlowsOf = Callable[[Sequence[Resource]], list[Flow]]
"""`<package>.flows.flows(desired)` -> the message-flow edges between the broker's resources, for
`topoctl graph`."""


@dataclass(frozen=True)
class ProviderInfo:
    """The registry entry of a broker type: its kinds, compiler and driver, loaded lazily."""

    type: str
    kinds: Mapping[str, KindSpec]
    compile: Compiler
    driver: Callable[[str, Mapping[str, Any]], Driver]
