"""What the HTTP test doubles (tests/azure_servicebus_double, tests/schema_registry_double) share:
a threading HTTP server on 127.0.0.1 that carries the double's state and runs in a daemon thread,
and the plumbing of a request handler (reading the body, writing one answer). What a request
means, the routes, is each double's own."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Generic, TypeVar

StateT = TypeVar("StateT")
DoubleT = TypeVar("DoubleT", bound="HttpDouble[Any]")


class DoubleServer(ThreadingHTTPServer, Generic[StateT]):
    daemon_threads = True
    state: StateT


class DoubleHandler(BaseHTTPRequestHandler):
    """GET, PUT and DELETE go to `_serve(method)`; a double that takes POST adds `do_POST`."""

    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes: without this, Nagle's algorithm and the client's
    # delayed ACK hold every answer back by up to 40 ms.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._serve("GET")

    def do_PUT(self) -> None:
        self._serve("PUT")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    def _serve(self, method: str) -> None:
        raise NotImplementedError

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _answer(self, status: int, content_type: str | None, data: bytes, *headers: tuple[str, str]) -> None:
        """One response: `content_type` (None: no Content-Type header), Content-Length, `headers`."""
        self.send_response(status)
        if content_type is not None:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)


class HttpDouble(Generic[StateT]):
    """A double's server, served from a daemon thread between start() and stop() (or `with`)."""

    thread_name = "http-double"
    poll_interval = 0.5  # how soon stop() is noticed

    def __init__(self, server: DoubleServer[StateT]) -> None:
        self._server = server
        self.port: int = server.server_address[1]
        self._thread: threading.Thread | None = None

    def start(self: DoubleT) -> DoubleT:
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": self.poll_interval},
            name=self.thread_name,
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self: DoubleT) -> DoubleT:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()
