"""JSON over HTTP for the REST APIs topoctl drives (RabbitMQ's management API, a schema registry):
one pooled, thread-safe client over urllib3.

urllib3, because it is cheap to start: the client used before imported an async stack (anyio, and
trio when installed) and loaded a CA bundle for every client, even for http:// URLs, a quarter of the
CPU of a RabbitMQ command (issue 10). What the callers rely on:

* the path goes out as given. Callers percent-encode every segment (`quote(name, safe="")`), which
  leaves nothing for urllib3 to do: it escapes only characters a path may not hold and upper-cases
  escapes, and such a path has neither (tests/unit/test_jsonhttp.py checks the wire);
* no retries and no redirects here: topoctl.retry decides what is tried again, and a 3xx is an answer;
* a request without an answer raises `TransportError` (`TimeoutException` for a timeout), worded as
  the socket or TLS layer put it (`[Errno 111] Connection refused`), with a TLS failure's
  `ssl.SSLError` as its cause so that a caller can tell a bad certificate from a flaky network. The
  errors keep the names and wording of the client used before: messages that show them read the same;
* as before: the proxies of the environment (HTTP_PROXY, HTTPS_PROXY, ALL_PROXY, NO_PROXY) are used,
  and without a CA of the caller's a certificate is checked against SSL_CERT_FILE, SSL_CERT_DIR or
  certifi's bundle (the system's CAs when certifi is missing).

`transport` is the test seam: a callable that gets each `Request` (the headers and the path as they
would go on the wire) and returns a `Response`, or raises a `TransportError`.
"""

from __future__ import annotations

import base64
import json
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    import ssl

    import urllib3

# What was sent before by default; the management API compresses a listing when asked to.
_DEFAULT_HEADERS = {"accept": "*/*", "accept-encoding": "gzip, deflate"}


class TransportError(Exception):
    """The request got no answer: refused, reset, a TLS failure, a reply that is not HTTP."""


class ConnectError(TransportError):
    pass


class ReadError(TransportError):
    pass


class RemoteProtocolError(TransportError):
    pass


class UnsupportedProtocol(TransportError):
    pass


class TimeoutException(TransportError):
    pass


class ConnectTimeout(TimeoutException):
    pass


class ReadTimeout(TimeoutException):
    pass


class WriteTimeout(TimeoutException):
    pass


class PoolTimeout(TimeoutException):
    """Every connection of the pool stayed busy for the whole timeout."""


@dataclass(frozen=True)
class Request:
    method: str
    raw_path: str  # the request target as sent: the base URL's path, the path, its query
    headers: Mapping[str, str]  # lower-case names
    body: bytes | None = None
    read_timeout: float | None = None  # seconds to wait for the answer, when not the client's own

    @property
    def path(self) -> str:
        """`raw_path` without its query (still percent-encoded)."""
        return self.raw_path.split("?", 1)[0]


@dataclass(frozen=True)
class Response:
    status_code: int
    content: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)  # lower-case names

    def json(self) -> Any:
        """The decoded body; ValueError when it is not JSON."""
        return json.loads(self.content)

    @property
    def text(self) -> str:
        charset = "utf-8"
        for param in self.headers.get("content-type", "").split(";")[1:]:
            key, _, value = param.partition("=")
            if key.strip().lower() == "charset" and value.strip():
                charset = value.strip().strip('"')
        try:
            return self.content.decode(charset, errors="replace")
        except LookupError:  # a charset Python does not know
            return self.content.decode("utf-8", errors="replace")


Transport = Callable[[Request], Response]


class JsonHttp:
    """Requests to one base URL (`http[s]://host[:port][/prefix]`); bodies are sent as compact JSON.

    `pool_size` connections at most, kept alive: a request beyond them waits for one, for up to
    `timeout`. `verify`: True (the default CAs), False (no check) or the caller's SSL context; it
    matters only for https."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float,
        connect_timeout: float,
        pool_size: int,
        auth: tuple[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        verify: bool | ssl.SSLContext = True,
        transport: Transport | None = None,
    ) -> None:
        parts = urlsplit(base_url)
        self._scheme = parts.scheme.lower()
        self._origin = f"{self._scheme}://{parts.netloc.rpartition('@')[2]}"
        self._prefix = parts.path.rstrip("/")
        self._headers = {**_DEFAULT_HEADERS, **{k.lower(): v for k, v in (headers or {}).items()}}
        if auth is not None:
            pair = f"{auth[0]}:{auth[1]}".encode()
            self._headers["authorization"] = "Basic " + base64.b64encode(pair).decode("ascii")
        self._send: Transport = transport or _Pool(
            self._scheme, self._origin, timeout, connect_timeout, pool_size, verify
        )

    def request(self, method: str, path: str, body: Any = None, *, read_timeout: float | None = None) -> Response:
        """`path` is below the base URL and percent-encoded already (query included). `read_timeout`
        replaces the client's timeout for the answer to this request (connecting keeps its own)."""
        content = None if body is None else json.dumps(body, separators=(",", ":")).encode()
        return self._send(Request(method, self._prefix + path, self._headers, content, read_timeout))

    def close(self) -> None:
        close = getattr(self._send, "close", None)
        if close is not None:
            close()


class _Pool:
    """The real transport: urllib3's pool for the origin (through a proxy when the environment
    names one for it). urllib3 is imported here, when a client is made, not by the callers' imports."""

    def __init__(
        self,
        scheme: str,
        origin: str,
        timeout: float,
        connect_timeout: float,
        pool_size: int,
        verify: bool | ssl.SSLContext,
    ) -> None:
        import ssl
        import warnings

        import urllib3

        self._scheme = scheme
        self._origin = origin
        self._timeout = urllib3.Timeout(connect=connect_timeout, read=timeout)
        self._pool_timeout = timeout
        self._manager: urllib3.PoolManager | None = None
        self._pool: urllib3.HTTPConnectionPool | None = None
        if scheme not in ("http", "https"):
            return  # refused at the first request, as before
        options: dict[str, Any] = {"maxsize": pool_size, "block": True, "retries": False}
        if scheme == "https":
            context = tls_context(verify)
            if context.verify_mode == ssl.CERT_NONE:  # asked for (`verify: false`): no warning on stderr
                warnings.filterwarnings("ignore", category=urllib3.exceptions.InsecureRequestWarning)
            options["ssl_context"] = context
            # urllib3 sets the context's verify mode from `cert_reqs`: keep the one it has.
            options["cert_reqs"] = context.verify_mode
            if not context.check_hostname:
                options["assert_hostname"] = False
        proxy = _environment_proxy(origin)
        if proxy is not None:
            from urllib3.util import make_headers

            url = urlsplit(proxy)
            login = f"{url.username or ''}:{url.password or ''}" if url.username or url.password else None
            self._manager = urllib3.ProxyManager(
                proxy, num_pools=1, proxy_headers=make_headers(proxy_basic_auth=login) if login else None, **options
            )
        else:
            self._pool = urllib3.connection_from_url(origin, **options)

    def __call__(self, request: Request) -> Response:
        from urllib3 import Timeout
        from urllib3.exceptions import HTTPError

        if self._scheme not in ("http", "https"):
            raise UnsupportedProtocol(f"Request URL has an unsupported protocol '{self._scheme}://'.")
        options: dict[str, Any] = {
            "body": request.body,
            "headers": dict(request.headers),
            "retries": False,
            "redirect": False,
            "timeout": self._timeout
            if request.read_timeout is None
            else Timeout(connect=self._timeout.connect_timeout, read=request.read_timeout),
            "pool_timeout": self._pool_timeout,
            "preload_content": True,
        }
        try:
            if self._pool is not None:
                answer = self._pool.urlopen(request.method, request.raw_path, **options)
            else:
                assert self._manager is not None
                answer = self._manager.urlopen(request.method, self._origin + request.raw_path, **options)
        except HTTPError as exc:
            problem, cause = _translated(exc)
            raise problem from cause
        return Response(answer.status, answer.data, {k.lower(): v for k, v in answer.headers.items()})

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
        if self._manager is not None:
            self._manager.clear()


def tls_context(verify: bool | ssl.SSLContext) -> ssl.SSLContext:
    """The SSL context of an https client: the caller's, one without checks, or one trusting the
    CAs trusted before (SSL_CERT_FILE, SSL_CERT_DIR, certifi's bundle)."""
    import ssl

    if isinstance(verify, ssl.SSLContext):
        return verify
    if not verify:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    if os.environ.get("SSL_CERT_FILE"):
        return ssl.create_default_context(cafile=os.environ["SSL_CERT_FILE"])
    if os.environ.get("SSL_CERT_DIR"):
        return ssl.create_default_context(capath=os.environ["SSL_CERT_DIR"])
    try:
        import certifi
    except ImportError:  # not installed: the system's CAs
        return ssl.create_default_context()
    return ssl.create_default_context(cafile=certifi.where())


def _environment_proxy(origin: str) -> str | None:
    """The proxy the environment names for `origin`, NO_PROXY read as before: `*` (none),
    a host, an IP address, `localhost`, or a domain that also covers its subdomains (`.example.com`
    covers only the subdomains)."""
    if sys.platform not in ("darwin", "win32") and not any(k.lower().endswith("_proxy") for k in os.environ):
        return None  # the common case, without importing urllib.request
    from urllib.request import getproxies

    proxies = getproxies()
    url = urlsplit(origin)
    host = (url.hostname or "").lower()
    for entry in proxies.get("no", "").split(","):
        entry = entry.strip().lower()
        if entry == "*":
            return None
        if not entry:
            continue
        if "://" in entry:
            pattern = urlsplit(entry)
            if pattern.scheme in (url.scheme, "all") and pattern.hostname == host and pattern.port in (None, url.port):
                return None
        elif entry.startswith("."):
            if host.endswith(entry):
                return None
        elif host == entry.strip("[]") or host.endswith("." + entry):
            return None
    proxy = proxies.get(url.scheme) or proxies.get("all")
    if not proxy:
        return None
    return proxy if "://" in proxy else f"http://{proxy}"


def _translated(exc: Exception) -> tuple[TransportError, BaseException | None]:
    """urllib3's error as the `TransportError` a caller sees, and its cause (a TLS failure's
    `ssl.SSLError`, kept for callers that do not retry those)."""
    import ssl
    from http.client import BadStatusLine, IncompleteRead, RemoteDisconnected

    from urllib3 import exceptions as u3

    if isinstance(exc, u3.EmptyPoolError):
        return PoolTimeout("timed out waiting for a free connection"), None
    if isinstance(exc, u3.NewConnectionError):  # before ConnectTimeoutError: it is one, for urllib3
        return ConnectError(str(exc.__cause__ or exc)), None
    if isinstance(exc, u3.ConnectTimeoutError):
        return ConnectTimeout("timed out"), None
    if isinstance(exc, u3.ReadTimeoutError):
        # urllib3 words a TLS handshake that timed out as a read timeout; it is part of connecting.
        handshake = "handshake operation timed out" in str(exc.__context__ or "")
        return (ConnectTimeout if handshake else ReadTimeout)("timed out"), None
    inner: BaseException | None = exc
    while inner is not None:  # the socket or TLS error urllib3 wrapped
        if isinstance(inner, ssl.SSLError):
            return ConnectError(str(inner)), inner
        if isinstance(inner, IncompleteRead):  # `partial`: the bytes (http.client) or their count (urllib3)
            received = inner.partial if isinstance(inner.partial, int) else len(inner.partial)
            return RemoteProtocolError(
                "peer closed connection without sending complete message body "
                f"(received {received} bytes, expected {received + (inner.expected or 0)})"
            ), None
        if isinstance(inner, RemoteDisconnected):  # before BadStatusLine: it is one
            return RemoteProtocolError("Server disconnected without sending a response."), None
        if isinstance(inner, BadStatusLine):
            line = bytearray(str(inner.args[0] if inner.args else "").rstrip("\r\n").encode("latin-1", "replace"))
            return RemoteProtocolError(f"illegal status line: {line!r}"), None
        if isinstance(inner, TimeoutError):
            return WriteTimeout("timed out"), None
        if isinstance(inner, ConnectionError):
            return ReadError(str(inner)), None
        nested = [a for a in getattr(inner, "args", ()) if isinstance(a, BaseException)]
        if nested:
            inner = nested[-1]
        elif inner.__cause__ is not None or inner.__context__ is not None:
            inner = inner.__cause__ or inner.__context__
        else:
            break
    if isinstance(exc, u3.ProxyError):
        return ConnectError(str(inner or exc)), None
    if isinstance(exc, (u3.ProtocolError, u3.DecodeError)):
        return RemoteProtocolError(str(inner or exc)), None
    return TransportError(str(exc) or type(exc).__name__), None
