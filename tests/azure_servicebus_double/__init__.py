"""A test double of the Azure Service Bus management API (ATOM/XML over HTTP).

It speaks to the real `azure-servicebus` SDK (ServiceBusAdministrationClient) over HTTP on
127.0.0.1, the way the official emulator's management port does, so topoctl's driver is tested
through the SDK exactly as it runs against Azure. What it reproduces, and from which source, is
listed in model.py and docs/azure-servicebus.md.

    with ServiceBusDouble() as sb:          # a namespace on a free port, Standard tier
        sb.connection_string                # Endpoint=sb://127.0.0.1:PORT;...;UseDevelopmentEmulator=true
        sb.set_counts("orders", active=5)   # the double's back door: messages in an entity

`python -m tests.azure_servicebus_double --port 5300` runs one on its own (dev/brokers does).
"""

from __future__ import annotations

from tests.azure_servicebus_double.model import Counts, Entity, Namespace
from tests.azure_servicebus_double.server import LISTEN, MANAGE, SEND, Handler, Request, State, _Server
from tests.http_double import HttpDouble

# The official emulator's well-known development key (public, not a secret).
EMULATOR_KEY_NAME = "RootManageSharedAccessKey"
EMULATOR_KEY = "SAS_KEY_VALUE"


class ServiceBusDouble(HttpDouble[State]):
    thread_name = "sb-double"

    def __init__(self, port: int = 0, sku: str = "Standard", key: str = EMULATOR_KEY, name: str = "sbdouble") -> None:
        server = _Server(("127.0.0.1", port), Handler)
        super().__init__(server)
        self.host = f"127.0.0.1:{self.port}"
        self.key = key
        self.state = State(
            Namespace(name=name, host=self.host, sku=sku),
            keys={EMULATOR_KEY_NAME: (key, frozenset({MANAGE, LISTEN, SEND}))},
        )
        server.state = self.state
        server.audience = self.host

    @property
    def namespace(self) -> Namespace:
        return self.state.namespace

    @property
    def requests(self) -> list[Request]:
        return self.state.requests

    def connection_string(self, key_name: str = EMULATOR_KEY_NAME, key: str | None = None) -> str:
        return (
            f"Endpoint=sb://{self.host};SharedAccessKeyName={key_name};"
            f"SharedAccessKey={self.key if key is None else key};UseDevelopmentEmulator=true"
        )

    def add_key(self, name: str, key: str, rights: frozenset[str]) -> None:
        self.state.keys[name] = (key, rights)

    def fail_once(self, method: str, path: str, status: int, detail: str) -> None:
        """The next `method` on `path` (e.g. "PUT", "/orders") answers `status` with `detail`."""
        self.state.faults[(method, path)] = (status, detail)

    def entity(self, *path: str) -> Entity:
        """A queue or topic, or a subscription (topic, subscription), by name."""
        ns = self.namespace
        with ns.lock:
            entity = ns.entities[path[0].lower()]
            return entity.subscriptions[path[1].lower()] if len(path) > 1 else entity

    def set_counts(self, *path: str, active: int = 0, dead_letter: int = 0, scheduled: int = 0) -> None:
        with self.namespace.lock:
            self.entity(*path).counts = Counts(active=active, dead_letter=dead_letter, scheduled=scheduled)


__all__ = ["EMULATOR_KEY", "EMULATOR_KEY_NAME", "ServiceBusDouble"]
