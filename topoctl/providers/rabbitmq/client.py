"""A thin, thread-safe wrapper over the RabbitMQ management HTTP API.

Every failure becomes a `BrokerError` that names the broker and its credential-free endpoint.
Path segments are always percent-encoded with `seg()` (vhost `/` is `%2F`) and sent as given (see
topoctl/providers/jsonhttp.py), so names with `/`, `%`, `#`, spaces or `~` address the right object.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit, urlunsplit

from topoctl.errors import BrokerError
from topoctl.providers import jsonhttp
from topoctl.providers.jsonhttp import JsonHttp, Response, Transport
from topoctl.retry import Retrier, RetryPolicy, note

if TYPE_CHECKING:
    import ssl

DEFAULT_URL = "http://127.0.0.1:15672"
DEFAULT_TIMEOUT = 10.0  # seconds; a plan against a dead broker must fail well within 15 s
_CONNECT_TIMEOUT = 5.0
_MAX_REASON = 300
# Answers worth another try besides every 5xx: rate limited.
RETRY_STATUS = frozenset({429})


class Unreachable(BrokerError):
    """The request did not get an answer (refused, timed out, TLS failure)."""


def seg(part: str) -> str:
    """One URL path segment: every reserved character escaped, `/` included."""
    return quote(part, safe="")


@dataclass(frozen=True)
class ConnectionSettings:
    base_url: str  # without credentials, without trailing slash
    username: str
    password: str = field(repr=False)  # never in a repr, a log or a traceback
    verify: bool
    ca_file: str | None
    timeout: float

    @classmethod
    def from_manifest(cls, connection: Mapping[str, Any]) -> ConnectionSettings:
        url = str(connection.get("url") or DEFAULT_URL).strip()
        if "://" not in url:  # `rabbit:15672` would otherwise parse as scheme `rabbit`
            url = f"http://{url}"
        parts = urlsplit(url)
        username = connection.get("username") or parts.username or "guest"
        password = connection.get("password") or parts.password or "guest"
        host = parts.hostname or "127.0.0.1"
        if ":" in host:  # IPv6 literal
            host = f"[{host}]"
        netloc = f"{host}:{parts.port}" if parts.port else host
        path = parts.path.rstrip("/")
        if path.endswith("/api"):  # the API's own prefix: every request path starts with /api/
            path = path[: -len("/api")]
        base = urlunsplit((parts.scheme or "http", netloc, path, "", ""))
        ca_file = connection.get("ca_file")
        timeout = connection.get("timeout", DEFAULT_TIMEOUT)
        return cls(
            base,
            str(username),
            str(password),
            bool(connection.get("verify", True)),
            str(ca_file) if ca_file else None,
            _seconds(timeout),
        )

    def ssl_verify(self) -> bool | ssl.SSLContext:
        """What the client takes as `verify`: False, True, or a context trusting `ca_file`."""
        if not self.verify:
            return False
        if self.ca_file:
            import ssl

            return ssl.create_default_context(cafile=self.ca_file)
        return True


def _seconds(value: Any) -> float:
    from topoctl.units import parse_duration

    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return parse_duration(value, "ms") / 1000.0


class ManagementApi:
    def __init__(
        self,
        broker: str,
        settings: ConnectionSettings,
        pool_size: int = 16,
        transport: Transport | None = None,  # a seam for tests that inject failures
        retry: Retrier | None = None,
    ) -> None:
        self.broker = broker
        self.settings = settings
        self.endpoint = settings.base_url
        # Every request of this API is safe to repeat: GET, PUT (same object, same answer), DELETE
        # (404 is "already gone"), POST of a binding (a set: no duplicate) or of definitions
        # (additive import).
        self.retry = retry or Retrier(RetryPolicy(attempts=1))
        try:
            verify = settings.ssl_verify()
        except OSError as exc:
            raise self.error(f"cannot use ca_file {settings.ca_file!r}: {exc.strerror or exc}") from None
        self._http = JsonHttp(
            settings.base_url,
            auth=(settings.username, settings.password),
            verify=verify,
            timeout=settings.timeout,
            connect_timeout=min(settings.timeout, _CONNECT_TIMEOUT),
            pool_size=pool_size,
            headers={"content-type": "application/json"},
            transport=transport,
        )

    def close(self) -> None:
        self._http.close()

    def error(self, message: str) -> BrokerError:
        return BrokerError(self.broker, self.endpoint, message)

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        what: str,
        ok_missing: bool = False,
        read_timeout: float | None = None,
    ) -> Response | None:
        """`path` is below the base URL, already encoded (`/api/queues/%2F/q`). `what` names the
        object for error messages. With `ok_missing`, a 404 returns None. `read_timeout` replaces
        the connection's timeout for the answer (a request whose work grows with its size)."""

        def once() -> Response:
            response = self._http.request(method, path, body, read_timeout=read_timeout)
            if response.status_code in RETRY_STATUS or response.status_code >= 500:
                raise _Refused(response)
            return response

        try:
            response = self.retry.call(once, _transient)
        except _Refused as exc:  # still 5xx/429 after the retries: reported as any other status
            response = exc.response
            what += note(exc)
        except jsonhttp.TimeoutException as exc:
            raise Unreachable(
                self.broker,
                self.endpoint,
                f"cannot connect: timed out while {what} ({type(exc).__name__}){note(exc)}",
            ) from None
        except jsonhttp.TransportError as exc:
            raise Unreachable(
                self.broker,
                self.endpoint,
                f"cannot connect: {exc or type(exc).__name__}{self._port_hint()}{note(exc)}",
            ) from None
        if response.status_code == 404 and ok_missing:
            return None
        if response.status_code == 404 and path.startswith("/api/") and "/" not in path[5:].split("?")[0]:
            # A collection itself is missing: this is not the management API (wrong URL or port).
            raise self.error(f"{what}: HTTP 404: is {self.endpoint} the management API's base URL?{self._port_hint()}")
        if response.status_code >= 400:
            raise Refusal(self.broker, self.endpoint, f"{what}: {_describe(response)}", response.status_code)
        return response

    def _port_hint(self) -> str:
        if urlsplit(self.endpoint).port in (5671, 5672):
            return " (5672/5671 are AMQP ports; the management API listens on 15672/15671 by default)"
        return ""

    def get_json(self, path: str, *, what: str, ok_missing: bool = False) -> Any:
        """The decoded reply; with `ok_missing`, None for a 404."""
        response = self.request("GET", path, what=what, ok_missing=ok_missing)
        if response is None:
            return None
        try:
            return response.json()
        except ValueError:
            raise self.error(f"{what}: the reply is not JSON (is {self.endpoint} the management API?)") from None


class Refusal(BrokerError):
    """The broker answered 400 or more (after any retries): its words, and the status."""

    def __init__(self, broker: str, address: str, message: str, status: int = 0) -> None:
        # `status` has a default: an error is made again with other words (secrets scrubbed).
        super().__init__(broker, address, message)
        self.status = status


class _Refused(Exception):
    """A 5xx or 429 answer, raised so that the retry helper sees it."""

    def __init__(self, response: Response) -> None:
        super().__init__(f"HTTP {response.status_code}")
        self.response = response


def _transient(exc: BaseException) -> bool:
    """Connection refused or reset, a timeout, a 5xx or 429: worth another try. A TLS failure (an
    untrusted or wrong certificate) is not: it fails the same way every time."""
    import ssl

    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ssl.SSLError):
            return False
        cause = cause.__cause__ or cause.__context__
    return isinstance(exc, (_Refused, jsonhttp.TransportError))


def _describe(response: Response) -> str:
    status = response.status_code
    if status == 401:
        return "HTTP 401: authentication failed or access refused (check username and password)"
    reason = ""
    try:
        data = response.json()
        if isinstance(data, dict):
            reason = str(data.get("reason") or data.get("error") or "")
    except ValueError:
        reason = response.text
    reason = " ".join(reason.split())
    if len(reason) > _MAX_REASON:
        reason = reason[: _MAX_REASON - 3] + "..."
    return f"HTTP {status}{': ' + reason if reason else ''}"
