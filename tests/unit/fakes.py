"""An in-memory broker for engine tests: what a real broker cannot show (injected failures, races)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from topoctl.errors import BrokerError
from topoctl.manifest.loader import BrokerSpec, Manifest
from topoctl.model import Action, Address, Change, Resource
from topoctl.providers.base import Compiled, Driver, KindSpec, ProviderInfo, PruneScope

KINDS = {
    "queue": KindSpec("queue", immutable=frozenset({"type"}), cascades=True, rank=20),
    "binding": KindSpec("binding", rank=30),
    "exchange": KindSpec("exchange", immutable=frozenset({"type"}), cascades=True, rank=10),
}


class FakeBroker:
    """Live state shared by the drivers of one test."""

    def __init__(self) -> None:
        self.objects: dict[Address, Resource] = {}
        self.calls: list[tuple[str, str]] = []
        self.fail_on: set[str] = set()
        self.down = False

    def put(self, resource: Resource) -> None:
        self.objects[resource.address] = resource


class FakeDriver(Driver):
    type = "fake"

    def __init__(self, name: str, connection: Mapping[str, Any], broker: FakeBroker) -> None:
        super().__init__(name, connection)
        self.broker = broker

    @property
    def endpoint(self) -> str:
        return "fake://local"

    def read(self, desired: Sequence[Resource], prune: Sequence[PruneScope]) -> list[Resource]:
        if self.broker.down:
            raise BrokerError(self.name, self.endpoint, "cannot connect: connection refused")
        return list(self.broker.objects.values())

    def apply_one(self, change: Change) -> None:
        self.broker.calls.append((change.action.value, str(change.address)))
        if str(change.address) in self.broker.fail_on:
            raise BrokerError(self.name, self.endpoint, f"{change.address}: refused")
        if change.action is Action.DELETE:
            self.broker.objects.pop(change.address, None)
            if KINDS[change.kind].cascades:
                for other in list(self.broker.objects.values()):
                    if change.address in other.depends_on:
                        del self.broker.objects[other.address]
        else:
            current = dict(self.broker.objects[change.address].attrs) if change.action is Action.UPDATE else {}
            current.update(change.after or {})
            self.broker.put(Resource(change.address, current, change.depends_on))


def fake_manifest(
    broker: FakeBroker, resources: list[Resource], prune: list[PruneScope] | None = None
) -> tuple[Manifest, ProviderInfo]:
    info = ProviderInfo(
        type="fake",
        kinds=KINDS,
        compile=lambda name, section, ctx: Compiled([]),
        driver=lambda name, connection: FakeDriver(name, connection, broker),
    )
    spec = BrokerSpec("b", "fake", {}, Compiled(resources, prune or []))
    return Manifest({"b": spec}), info


def q(name: str, **attrs: Any) -> Resource:
    return Resource(Address("b", "queue", ("v", name)), attrs)


def binding(source: str, queue: str, key: str = "") -> Resource:
    return Resource(
        Address("b", "binding", ("v", source, queue, key)),
        {"routing_key": key},
        depends_on=(Address("b", "exchange", ("v", source)), Address("b", "queue", ("v", queue))),
    )


def ex(name: str, **attrs: Any) -> Resource:
    return Resource(Address("b", "exchange", ("v", name)), attrs)
