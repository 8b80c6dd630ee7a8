"""A test double of Confluent's Schema Registry REST API, on 127.0.0.1 over plain HTTP.

No Confluent-compatible registry can be installed on the machines these tests run on, so topoctl's
driver is tested against this instead, over HTTP as it meets a real one. What it reproduces (routes,
status and error codes, messages, Avro compatibility, soft and permanent deletes) and from which
source is said in model.py and docs/kafka.md; the real-registry test
(tests/integration/test_kafka_registry_real.py) runs the same life cycle against a real one.

    with SchemaRegistryDouble() as sr:        # a registry on a free port
        sr.url                                # http://127.0.0.1:PORT
        sr.registry.global_level = "FULL"     # the back door: the registry's state
        sr.require_basic("user", "secret")    # 401 without these credentials

`SchemaRegistryDouble(certfile=..., keyfile=...)` serves HTTPS. Tests use the fixtures of
fixtures.py (a registry per test, its URL in $TOPOCTL_TEST_SR_URL).
"""

from __future__ import annotations

from tests.http_double import HttpDouble
from tests.schema_registry_double.model import Registry
from tests.schema_registry_double.server import Handler, Request, Server, State

__all__ = ["Registry", "Request", "SchemaRegistryDouble"]


class SchemaRegistryDouble(HttpDouble[State]):
    thread_name = "sr-double"
    poll_interval = 0.05

    def __init__(self, port: int = 0, certfile: str | None = None, keyfile: str | None = None) -> None:
        super().__init__(Server(("127.0.0.1", port), Handler))
        self._server.state = State()
        self.url = f"http://127.0.0.1:{self.port}"
        if certfile is not None:  # HTTPS, with this certificate
            import ssl

            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(certfile, keyfile)
            self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
            self.url = f"https://127.0.0.1:{self.port}"

    @property
    def state(self) -> State:
        return self._server.state

    @property
    def registry(self) -> Registry:
        return self._server.state.registry

    @property
    def requests(self) -> list[Request]:
        return self._server.state.requests

    def require_basic(self, username: str, password: str) -> None:
        self.state.auth = ("basic", f"{username}:{password}")

    def require_token(self, token: str) -> None:
        self.state.auth = ("bearer", token)

    def fail_once(self, method: str, path: str, status: int, code: int, message: str) -> None:
        """The next `method` on `path` (decoded, e.g. "/subjects/x-value/versions") answers this."""
        self.state.faults[(method, path)] = (status, code, message)
