"""The JSON-over-HTTP client (topoctl/providers/jsonhttp.py) against a real socket: what goes on the
wire (the path byte for byte, auth, the JSON body), keep-alive within the pool's size, and failures
worded as the socket or TLS layer puts them, without retries or redirects of its own."""

from __future__ import annotations

import base64
import json
import os
import socket
import ssl
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from tests.integration.servers import make_certificates
from topoctl.providers import jsonhttp
from topoctl.providers.jsonhttp import JsonHttp, Request, Response


@dataclass
class Seen:
    method: str
    path: str  # the request target as received
    headers: dict[str, str]
    body: bytes
    client: int  # the client's port: one per connection


@dataclass
class Server:
    url: str
    seen: list[Seen] = field(default_factory=list)
    answer: Callable[[Seen], tuple[int, dict[str, str], bytes]] = lambda seen: (200, {}, b"{}")
    delay: float = 0.0


@contextmanager
def serve(tls: ssl.SSLContext | None = None) -> Iterator[Server]:
    server_state = Server("")

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def handle_one_request(self) -> None:
            self.raw_requestline = self.rfile.readline(65537)
            if not self.raw_requestline or not self.parse_request():
                self.close_connection = True
                return
            length = int(self.headers.get("Content-Length") or 0)
            seen = Seen(
                self.command,
                self.path,
                {k.lower(): v for k, v in self.headers.items()},
                self.rfile.read(length) if length else b"",
                self.client_address[1],
            )
            server_state.seen.append(seen)
            time.sleep(server_state.delay)
            status, headers, data = server_state.answer(seen)
            try:
                self.send_response(status)
                for name, value in {"Content-Length": str(len(data)), **headers}.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)
            except OSError:  # the client gave up waiting (a timeout test)
                self.close_connection = True

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    if tls is not None:
        httpd.socket = tls.wrap_socket(httpd.socket, server_side=True)
    server_state.url = f"{'https' if tls else 'http'}://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield server_state
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def server() -> Iterator[Server]:
    with serve() as running:
        yield running


def client(url: str, **options: Any) -> JsonHttp:
    return JsonHttp(url, **{"timeout": 5.0, "connect_timeout": 5.0, "pool_size": 4, **options})


# -- the wire --------------------------------------------------------------------------------------

NAMES = ["a/b", "100%", "#x", "with space", "~tilde", "é", "日本", "a+b=c;d", "?q&r", "%2F", "."]


def test_the_path_goes_out_byte_for_byte(server: Server) -> None:
    http = client(server.url + "/mgmt")
    for name in NAMES:
        http.request("GET", f"/api/queues/%2F/{quote(name, safe='')}?disable_stats=true&x=a%2Cb")
    sent = [f"/mgmt/api/queues/%2F/{quote(name, safe='')}?disable_stats=true&x=a%2Cb" for name in NAMES]
    assert [s.path for s in server.seen] == sent
    assert sent[0] == "/mgmt/api/queues/%2F/a%2Fb?disable_stats=true&x=a%2Cb"
    assert "/%E6%97%A5%E6%9C%AC?" in sent[6] and "/%252F?" in sent[9]


def test_basic_auth_headers_and_a_compact_json_body(server: Server) -> None:
    http = client(server.url, auth=("ü", "p:w"), headers={"Content-Type": "application/json"})
    http.request("PUT", "/api/x", {"b": [1, "é"], "a": None})
    http.request("DELETE", "/api/x")
    put, delete = server.seen
    assert (put.method, put.body) == ("PUT", b'{"b":[1,"\\u00e9"],"a":null}')
    assert put.headers["authorization"] == "Basic " + base64.b64encode("ü:p:w".encode()).decode()
    assert put.headers["content-type"] == "application/json"
    assert put.headers["accept-encoding"] == "gzip, deflate"
    assert (delete.method, delete.body) == ("DELETE", b"")


def test_answers_are_returned_whatever_their_status_and_gzip_is_decoded(server: Server) -> None:
    import gzip

    server.answer = lambda seen: {
        "/gz": (200, {"Content-Encoding": "gzip", "Content-Type": "application/json"}, gzip.compress(b"[1,2]")),
        "/moved": (302, {"Location": "/elsewhere"}, b""),
        "/down": (503, {"Content-Type": "text/plain; charset=latin-1"}, "überlastet".encode("latin-1")),
    }[seen.path]
    http = client(server.url)
    assert http.request("GET", "/gz").json() == [1, 2]
    moved = http.request("GET", "/moved")  # a redirect is an answer: not followed
    assert (moved.status_code, moved.headers["location"]) == (302, "/elsewhere")
    down = http.request("GET", "/down")  # nor is a 5xx retried here (topoctl.retry decides)
    assert (down.status_code, down.text) == (503, "überlastet")
    assert [s.path for s in server.seen] == ["/gz", "/moved", "/down"]
    with pytest.raises(ValueError):
        down.json()


def test_connections_are_kept_alive_and_never_more_than_the_pool(server: Server) -> None:
    server.delay = 0.05
    http = client(server.url, pool_size=2)
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda i: http.request("GET", f"/{i}"), range(24)))
    assert len(server.seen) == 24
    assert len({s.client for s in server.seen}) <= 2  # 24 requests over 2 connections at most
    http.close()


# -- failures --------------------------------------------------------------------------------------


def a_socket_that(behave: Callable[[socket.socket], None]) -> tuple[str, list[int]]:
    """A server that reads one request per connection and then does `behave`; the URL, and the
    connections it accepted (one entry each)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    accepted: list[int] = []

    def loop() -> None:
        while True:
            conn, _ = listener.accept()
            accepted.append(1)
            conn.recv(65536)
            behave(conn)

    threading.Thread(target=loop, daemon=True).start()
    return f"http://127.0.0.1:{listener.getsockname()[1]}", accepted


def send_and_close(data: bytes) -> Callable[[socket.socket], None]:
    def behave(conn: socket.socket) -> None:
        conn.sendall(data)
        conn.close()

    return behave


def test_failures_are_worded_as_the_socket_says_and_tried_once() -> None:
    def reset(conn: socket.socket) -> None:
        import struct

        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        conn.close()

    cases: list[tuple[Callable[[socket.socket], None], type[Exception], str]] = [
        (lambda conn: conn.close(), jsonhttp.RemoteProtocolError, "Server disconnected without sending a response."),
        (reset, jsonhttp.ReadError, "[Errno 104] Connection reset by peer"),
        (
            send_and_close(b'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{"a"'),
            jsonhttp.RemoteProtocolError,
            "peer closed connection without sending complete message body (received 4 bytes, expected 100)",
        ),
        (
            send_and_close(b"SSH-2.0-OpenSSH\r\n"),
            jsonhttp.RemoteProtocolError,
            "illegal status line: bytearray(b'SSH-2.0-OpenSSH')",
        ),
    ]
    for behave, error, message in cases:
        url, accepted = a_socket_that(behave)
        with pytest.raises(error) as caught:
            client(url).request("GET", "/api/x")
        assert str(caught.value) == message
        assert accepted == [1]  # no retry of its own
        assert isinstance(caught.value, jsonhttp.TransportError)


def test_refused_and_timed_out() -> None:
    free = socket.socket()
    free.bind(("127.0.0.1", 0))
    port = free.getsockname()[1]
    free.close()
    with pytest.raises(jsonhttp.ConnectError, match=r"^\[Errno 111\] Connection refused$"):
        client(f"http://127.0.0.1:{port}").request("GET", "/")
    url, _ = a_socket_that(lambda conn: None)  # reads the request, never answers
    started = time.monotonic()
    with pytest.raises(jsonhttp.ReadTimeout):
        client(url, timeout=0.3).request("GET", "/")
    assert time.monotonic() - started < 3


def test_a_request_may_wait_longer_or_shorter_than_the_clients_timeout(server: Server) -> None:
    server.delay = 0.6
    http = client(server.url, timeout=0.3)
    with pytest.raises(jsonhttp.ReadTimeout):
        http.request("GET", "/a")
    assert http.request("POST", "/b", {"k": 1}, read_timeout=3.0).status_code == 200
    started = time.monotonic()
    with pytest.raises(jsonhttp.ReadTimeout):
        client(server.url, timeout=5.0).request("GET", "/c", read_timeout=0.2)
    assert time.monotonic() - started < 0.55  # gave up at its own timeout, before the answer


def test_a_pool_kept_busy_for_the_whole_timeout_is_a_pool_timeout(server: Server) -> None:
    server.delay = 1.0
    http = client(server.url, pool_size=1, timeout=0.3)
    with ThreadPoolExecutor(max_workers=3) as pool:
        # One holds the only connection for 0.3 s (its read timeout), and the next one after it
        # another 0.3 s: the third, waiting from the start, gives up waiting at 0.3 s at the latest.
        calls = [pool.submit(http.request, "GET", f"/{i}") for i in range(3)]
        outcomes = {type(call.exception()) for call in calls}
    assert jsonhttp.PoolTimeout in outcomes and jsonhttp.ReadTimeout in outcomes
    assert outcomes <= {jsonhttp.PoolTimeout, jsonhttp.ReadTimeout}


def test_an_unsupported_scheme_fails_at_the_request() -> None:
    http = client("amqp://127.0.0.1:5672")
    with pytest.raises(jsonhttp.UnsupportedProtocol, match=r"unsupported protocol 'amqp://'"):
        http.request("GET", "/api/overview")


# -- TLS -------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("certs")
    make_certificates(directory)
    return directory


@pytest.fixture
def tls_server(certificates: Path) -> Iterator[Server]:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certificates / "server.pem", certificates / "server.key")
    with serve(context) as running:
        yield running


def test_tls_with_the_callers_ca_and_without_checks(tls_server: Server, certificates: Path) -> None:
    trusted = ssl.create_default_context(cafile=str(certificates / "ca.pem"))
    assert client(tls_server.url, verify=trusted).request("GET", "/a").status_code == 200
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert client(tls_server.url, verify=False).request("GET", "/b").status_code == 200
    assert [str(w.message) for w in caught] == []  # `verify: false` was asked for: no warning on stderr
    assert [s.path for s in tls_server.seen] == ["/a", "/b"]


def test_an_untrusted_certificate_is_a_connect_error_caused_by_the_tls_error(
    tls_server: Server, certificates: Path
) -> None:
    other = ssl.create_default_context(cafile=str(certificates / "other-ca.pem"))
    with pytest.raises(jsonhttp.ConnectError, match="CERTIFICATE_VERIFY_FAILED") as caught:
        client(tls_server.url, verify=other).request("GET", "/")
    assert isinstance(caught.value.__cause__, ssl.SSLError)  # what callers check before retrying
    assert tls_server.seen == []


# -- the seam and the environment ------------------------------------------------------------------


def test_the_transport_seam_sees_what_would_go_on_the_wire() -> None:
    seen: list[Request] = []

    def transport(request: Request) -> Response:
        seen.append(request)
        return Response(201, b'{"ok":true}')

    http = JsonHttp("http://h:1/pre", timeout=1, connect_timeout=1, pool_size=1, auth=("u", "p"), transport=transport)
    assert http.request("POST", "/api/a%2Fb?x=1", {"k": 1}).json() == {"ok": True}
    (request,) = seen
    assert (request.method, request.raw_path, request.path, request.body) == (
        "POST",
        "/pre/api/a%2Fb?x=1",
        "/pre/api/a%2Fb",
        b'{"k":1}',
    )
    assert request.headers["authorization"] == "Basic " + base64.b64encode(b"u:p").decode()


@pytest.fixture
def no_proxies(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in [k for k in os.environ if k.lower().endswith("_proxy")]:
        monkeypatch.delenv(name)
    return monkeypatch


def test_the_proxy_of_the_environment_is_used_unless_no_proxy_names_the_host(
    server: Server, no_proxies: pytest.MonkeyPatch
) -> None:
    proxy = server  # plays the proxy: it answers what it is asked to forward
    with serve() as direct:  # the target itself, reached without the proxy
        target = direct.url.replace("127.0.0.1", "localhost")
        no_proxies.setenv("HTTP_PROXY", proxy.url)
        client(target).request("GET", "/api/%2F/a%20b")
        assert [s.path for s in proxy.seen] == [f"{target}/api/%2F/a%20b"]  # the absolute form: via the proxy
        no_proxies.setenv("NO_PROXY", "example.com, localhost")
        client(target).request("GET", "/api/%2F/a%20b")
        assert [s.path for s in direct.seen] == ["/api/%2F/a%20b"] and len(proxy.seen) == 1


@pytest.mark.parametrize(
    ("no_proxy", "host", "proxied"),
    [
        ("", "rabbit.example.com", True),
        ("*", "rabbit.example.com", False),
        ("example.com", "example.com", False),
        ("example.com", "rabbit.example.com", False),  # a domain covers its subdomains
        ("example.com", "badexample.com", True),
        (".example.com", "rabbit.example.com", False),
        (".example.com", "example.com", True),  # a leading dot: the subdomains only
        ("10.0.0.1", "10.0.0.1", False),
        ("10.0.0.1", "110.0.0.1", True),
        ("::1", "[::1]", False),
        ("http://rabbit.example.com", "rabbit.example.com", False),
        ("https://rabbit.example.com", "rabbit.example.com", True),  # another scheme
    ],
)
def test_no_proxy_is_read_as_before(no_proxy: str, host: str, proxied: bool, no_proxies: pytest.MonkeyPatch) -> None:
    from topoctl.providers.jsonhttp import _environment_proxy

    no_proxies.setenv("ALL_PROXY", "proxy.example.com:3128")
    no_proxies.setenv("NO_PROXY", no_proxy)
    assert _environment_proxy(f"http://{host}:15672") == ("http://proxy.example.com:3128" if proxied else None)


def test_json_of_an_empty_or_broken_body_is_a_value_error() -> None:
    for content in (b"", b"<html>", b"\xff\xfe\x00"):
        with pytest.raises(ValueError):
            Response(200, content).json()
    assert Response(200, "é".encode()).text == "é"
    assert Response(200, b"\xff", {"content-type": "text/plain; charset=nope"}).text == "\ufffd"
    assert json.loads(Response(200, b'{"a":1}').content) == {"a": 1}
