"""The `connection:` section of a NATS broker -> nats-py connect options, and a printable endpoint.

Nothing here imports nats-py. Secrets (passwords, tokens, seeds, userinfo in server URLs) are kept
out of `endpoint` and scrubbed from any error text by `Secrets.scrub`.
"""

from __future__ import annotations

import re
import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from topoctl.units import parse_duration

DEFAULT_SERVER = "nats://127.0.0.1:4222"
DEFAULT_CONNECT_TIMEOUT_S = 3.0
DEFAULT_REQUEST_TIMEOUT_S = 10.0
# The whole initial connect (every server, a retry each) stays under this, so a plan against a
# down broker fails well within the 15 s the CLI promises.
MAX_CONNECT_TOTAL_S = 12.0

_USERINFO = re.compile(r"(?<=://)[^/@\s]+@")


def strip_userinfo(url: str) -> str:
    return _USERINFO.sub("", url)


@dataclass(frozen=True)
class Secrets:
    values: tuple[str, ...] = ()

    def scrub(self, text: str) -> str:
        text = strip_userinfo(text)
        for secret in self.values:
            if secret:
                text = text.replace(secret, "***")
        return text


@dataclass(frozen=True)
class ConnectionSettings:
    servers: list[str]
    options: dict[str, Any] = field(default_factory=dict)  # extra nats.connect keyword arguments
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT_S
    request_timeout: float = DEFAULT_REQUEST_TIMEOUT_S
    api_prefix: str = "$JS.API"
    secrets: Secrets = Secrets()

    @property
    def endpoint(self) -> str:
        return ",".join(strip_userinfo(s) for s in self.servers)

    @property
    def connect_total(self) -> float:
        return min(MAX_CONNECT_TOTAL_S, self.connect_timeout * 2 * max(1, len(self.servers)) + 1)


def _seconds(value: object, default: float) -> float:
    if value is None:
        return default
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)  # plain numbers are seconds, as nats-py takes them
    return parse_duration(value, "ms") / 1000


def _servers(value: object) -> list[str]:
    if value is None:
        return [DEFAULT_SERVER]
    items: Sequence[object] = [value] if isinstance(value, str) else value if isinstance(value, list) else []
    servers = []
    for item in items:
        for part in str(item).split(","):
            part = part.strip()
            if part:
                servers.append(part if "://" in part else f"nats://{part}")
    if not servers:
        raise ValueError("connection.servers is empty")
    return servers


def _url_passwords(servers: Sequence[str]) -> list[str]:
    out = []
    for s in servers:
        parts = urlsplit(s)
        if parts.password:
            out.append(parts.password)
        elif parts.username and not parts.password:
            out.append(parts.username)  # nats://TOKEN@host
    return out


def tls_context(tls: Mapping[str, Any]) -> ssl.SSLContext:
    try:
        ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=tls.get("ca_file"))
    except OSError as exc:
        raise ValueError(f"tls.ca_file {tls.get('ca_file')}: {exc.strerror or exc}") from None
    if tls.get("cert_file"):
        try:
            ctx.load_cert_chain(tls["cert_file"], tls.get("key_file"))
        except OSError as exc:  # the key file's content is never part of the message
            raise ValueError(f"tls.cert_file/key_file {tls['cert_file']}: {exc.strerror or exc}") from None
    if tls.get("insecure_skip_verify"):
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


def settings(connection: Mapping[str, Any]) -> ConnectionSettings:
    """Raises ValueError (no secrets in its message) for a malformed section."""
    servers = _servers(connection.get("servers"))
    options: dict[str, Any] = {}
    secrets = _url_passwords(servers)
    if connection.get("user") is not None:
        options["user"] = str(connection["user"])
    if connection.get("password") is not None:
        options["password"] = str(connection["password"])
        secrets.append(options["password"])
    if connection.get("token") is not None:
        options["token"] = str(connection["token"])
        secrets.append(options["token"])
    if connection.get("creds_file"):
        options["user_credentials"] = str(connection["creds_file"])
    if connection.get("nkey_seed"):
        options["nkeys_seed_str"] = str(connection["nkey_seed"])
        secrets.append(options["nkeys_seed_str"])
    if connection.get("nkeys_seed"):
        options["nkeys_seed"] = str(connection["nkeys_seed"])  # a path to a seed file
    tls = connection.get("tls")
    if isinstance(tls, Mapping) and tls:
        options["tls"] = tls_context(tls)
        if tls.get("hostname"):
            options["tls_hostname"] = str(tls["hostname"])
        if tls.get("handshake_first"):
            options["tls_handshake_first"] = True
    elif tls is True:
        options["tls"] = ssl.create_default_context()
    if connection.get("name"):
        options["name"] = str(connection["name"])
    domain = connection.get("domain")
    api_prefix = str(connection.get("api_prefix") or (f"$JS.{domain}.API" if domain else "$JS.API"))
    return ConnectionSettings(
        servers=servers,
        options=options,
        connect_timeout=_seconds(connection.get("connect_timeout"), DEFAULT_CONNECT_TIMEOUT_S),
        request_timeout=_seconds(connection.get("request_timeout"), DEFAULT_REQUEST_TIMEOUT_S),
        api_prefix=api_prefix.rstrip("."),
        secrets=Secrets(tuple(s for s in secrets if s)),
    )


def check(connection: Mapping[str, Any]) -> tuple[str, str] | None:
    """What `settings` would refuse, without reading any file: (key, problem) or None. For validate."""
    try:
        _servers(connection.get("servers"))
    except ValueError as exc:
        return "servers", str(exc)
    for key in ("connect_timeout", "request_timeout"):
        try:
            _seconds(connection.get(key), 0.0)
        except ValueError as exc:
            return key, f"{key}: {exc}"
    return None


def safe_endpoint(connection: Mapping[str, Any]) -> str:
    """The endpoint even when the rest of the section is malformed."""
    try:
        return ",".join(strip_userinfo(s) for s in _servers(connection.get("servers")))
    except ValueError:
        return "?"


__all__ = ["ConnectionSettings", "Secrets", "check", "safe_endpoint", "settings", "strip_userinfo"]
