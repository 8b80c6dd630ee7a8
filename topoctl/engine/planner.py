"""Reading the brokers (in parallel) and planning: the I/O side of `plan`, around the pure `diff`."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from types import TracebackType

from topoctl.engine.ahead import ReadAhead
from topoctl.engine.apart import run_apart
from topoctl.engine.diff import diff
from topoctl.engine.order import waves
from topoctl.engine.risk import dependents, exposure, grown
from topoctl.errors import PlanError, StalePlanError, TopoctlError
from topoctl.manifest.loader import BrokerSpec, Manifest
from topoctl.model import Address, Change, Plan, Resource, RoutingChange, fingerprint
from topoctl.providers import provider
from topoctl.providers.base import Driver, KindSpec

MAX_SHOWN = 10


class Session:
    """The drivers of one manifest's brokers, opened on first use and closed together."""

    def __init__(self, manifest: Manifest, read_apart: bool = False, ahead: ReadAhead | None = None) -> None:
        self.manifest = manifest
        # Read brokers in processes of their own: only for a session that never applies (its
        # drivers would not keep what they learned while reading).
        self.read_apart = read_apart
        self.ahead = ahead  # drivers that started reading while the manifest was compiled
        self._drivers: dict[str, Driver] = {}
        self._kinds: dict[str, Mapping[str, KindSpec]] = {}
        # Set to stop an apply: no change starts after it, on any broker (see `applier.execute`).
        self.stopping = threading.Event()
        self.stop_reason = "stopped"
        self.stop_exit_code = 130
        self._waves: tuple[Plan, list[list[Change]]] | None = None  # see `waves`

    def stop(self, reason: str, exit_code: int) -> None:
        """Ask a running apply to stop: changes in flight finish, nothing new starts."""
        self.stop_reason, self.stop_exit_code = reason, exit_code
        self.stopping.set()

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object | type[BaseException] | TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        for driver in self._drivers.values():
            driver.close()
        self._drivers.clear()
        if self.ahead is not None:
            self.ahead.close()

    def driver(self, broker: str) -> Driver:
        if broker not in self._drivers:
            spec = self.broker(broker)
            driver = self.ahead.take(broker, spec.connection) if self.ahead is not None else None
            if driver is None:
                driver = provider(spec.type).driver(broker, spec.connection)
            driver.stopping = self.stopping
            self._drivers[broker] = driver
        return self._drivers[broker]

    def broker(self, name: str) -> BrokerSpec:
        try:
            return self.manifest.brokers[name]
        except KeyError:
            raise PlanError(f"broker {name!r} is not in the manifest") from None

    def spec_of(self, address: Address) -> KindSpec:
        kinds = self._kinds.get(address.broker)
        if kinds is None:  # asked once per object of a plan: the provider is looked up once a broker
            kinds = self._kinds[address.broker] = provider(self.broker(address.broker).type).kinds
        try:
            return kinds[address.kind]
        except KeyError:
            raise PlanError(f"{address}: unknown kind {address.kind!r}") from None

    def read(self, brokers: Iterable[str]) -> list[Resource]:
        """Live state of `brokers`, read concurrently: a plan costs the slowest broker, not the sum.
        Every broker that cannot be read is reported, not just the first. With `read_apart`,
        each broker is read in a process of its own (see `engine.apart`)."""
        names = list(dict.fromkeys(brokers))

        def job(name: str) -> Callable[[], list[Resource]]:
            spec = self.manifest.brokers[name]
            return lambda: self.driver(name).read(spec.resources, spec.compiled.prune)

        outcomes = run_apart([job(n) for n in names], processes=self.read_apart)
        failures = [o for o in outcomes if isinstance(o, BaseException)]
        if len(failures) == 1 or any(not isinstance(e, TopoctlError) for e in failures):
            raise failures[0]
        if failures:
            raise TopoctlError(f"{len(failures)} brokers cannot be read:\n" + "\n".join(f"  {e}" for e in failures))
        return [r for o in outcomes for r in o]  # type: ignore[union-attr]

    def plan(self, targets: Sequence[str] = ()) -> Plan:
        brokers = self._brokers_for(targets)
        observed = self.read(brokers)
        desired = [r for name in brokers for r in self.manifest.brokers[name].resources]
        prune = {name: self.manifest.brokers[name].compiled.prune for name in brokers}
        plan = diff(desired, observed, self.spec_of, prune, targets)
        types = {name: spec.type for name, spec in self.manifest.brokers.items()}
        # After the (pure) diff: which messages the changes re-route, from the same observed state.
        routing: tuple[RoutingChange, ...] = ()
        if plan.changes:  # the routing model is imported only for a plan that changes something
            from topoctl.routing.changes import routing_changes

            routing = routing_changes(plan.changes, observed, types, lambda a: self.spec_of(a).cascades)
        plan = replace(plan, manifests=self.manifest.paths, brokers=types, targets=tuple(targets), routing=routing)
        self.waves(plan)  # an order must exist (no dependency cycle) before the plan is shown
        return plan

    def waves(self, plan: Plan) -> list[list[Change]]:
        """The plan's steps in waves (`engine.order`), worked out once for the last plan asked
        about: a plan is ordered when it is made and again when it is applied (4,200 creates:
        30 ms each time). The lists are shared: callers read them."""
        if self._waves is None or self._waves[0] is not plan:
            self._waves = (plan, waves(plan))
        return self._waves[1]

    def _brokers_for(self, targets: Sequence[str]) -> list[str]:
        names = list(self.manifest.brokers)
        if not targets:
            return names
        wanted = []
        for target in targets:
            broker = target.split("/", 1)[0]
            if broker not in self.manifest.brokers:
                raise PlanError(f"--target {target}: no broker {broker!r} in the manifest (have: {', '.join(names)})")
            wanted.append(broker)
        return list(dict.fromkeys(wanted))

    def check_fresh(self, plan: Plan) -> None:
        """Refuse a saved plan when anything it touches changed since it was made, or when a
        destructive change would now take more with it than was approved (see `engine.risk`)."""
        brokers = sorted({c.broker for c in plan.changes})
        observed = self.read(brokers)
        live = {r.address: r for r in observed}
        below = dependents(observed)
        stale = [str(c.address) for c in plan.changes if fingerprint(live.get(c.address)) != c.observed_fingerprint]
        more: list[str] = []
        for change in plan.destructive:
            if change.address in live:
                now = exposure(live[change.address], below, self.spec_of)
                more += [f"{change.address}: {m}" for m in grown(change.exposure, now)]
        if stale or more:
            shown = ", ".join(stale[:5]) + (f" and {len(stale) - 5} more" if len(stale) > 5 else "")
            lines = [f"{shown} changed since the plan was made"] if stale else []
            if more:
                lines.append("what its destructive changes would delete grew since the plan was made:")
                lines += [f"  {m}" for m in more[:MAX_SHOWN]]
                if len(more) > MAX_SHOWN:
                    lines.append(f"  and {len(more) - MAX_SHOWN} more")
            raise StalePlanError(
                "saved plan is stale: " + "\n".join(lines) + "\nNothing was changed; run `topoctl plan` again"
            )


def make_plan(manifest: Manifest, targets: Sequence[str] = ()) -> Plan:
    with Session(manifest) as session:
        return session.plan(targets)
