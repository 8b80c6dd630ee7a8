"""The `connection:` section of a Redis broker -> redis-py client options, and a printable endpoint.

Nothing here imports redis-py. Secrets (the password, userinfo in the URL) are kept out of
`endpoint` and scrubbed from any error text by `Settings.scrub`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

from topoctl.units import parse_duration

DEFAULT_URL = "redis://127.0.0.1:6379"
DEFAULT_TIMEOUT_S = 5.0
SCHEMES = ("redis", "rediss")
TLS_KEYS = ("ca_file", "cert_file", "key_file", "insecure_skip_verify")

_USERINFO = re.compile(r"(?<=://)[^/@\s]+@")


def strip_userinfo(url: str) -> str:
    return _USERINFO.sub("", url)


@dataclass(frozen=True)
class Settings:
    host: str
    port: int
    db: int
    cluster: bool
    tls: bool
    # Keyword arguments of redis.Redis / redis.RedisCluster (never printed: they hold the password).
    options: dict[str, Any] = field(default_factory=dict, repr=False)
    secrets: tuple[str, ...] = field(default=(), repr=False)

    @property
    def username(self) -> str | None:
        value = self.options.get("username")
        return str(value) if value else None

    @property
    def password(self) -> str | None:
        value = self.options.get("password")
        return str(value) if value else None

    @property
    def endpoint(self) -> str:
        scheme = "rediss" if self.tls else "redis"
        where = f"{scheme}://{self.host}:{self.port}"
        return f"{where} (cluster)" if self.cluster else f"{where}/{self.db}"

    def scrub(self, text: str) -> str:
        text = strip_userinfo(text)
        for secret in self.secrets:
            if secret:
                text = text.replace(secret, "***")
        return text


def _timeout(value: object) -> float:
    if value is None:
        return DEFAULT_TIMEOUT_S
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)  # plain numbers are seconds, as redis-py takes them
    return parse_duration(value, "ms") / 1000


def _parse_url(url: str) -> tuple[str, str, int, int, str | None, str | None]:
    """(scheme, host, port, db, username, password) of a redis:// or rediss:// URL."""
    if "://" not in url:
        url = f"redis://{url}"
    parts = urlsplit(url)
    if parts.scheme not in SCHEMES:
        raise ValueError(f"url must start with redis:// or rediss://, not {parts.scheme}://")
    try:
        port = parts.port or 6379
    except ValueError:
        raise ValueError("url has an invalid port") from None
    path = parts.path.strip("/")
    if path and not path.isdigit():
        raise ValueError(f"the path of url is the database number, not {path!r}")
    username = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password else None
    return parts.scheme, parts.hostname or "127.0.0.1", port, int(path or 0), username, password


def settings(connection: Mapping[str, Any]) -> Settings:
    """Raises ValueError (no secret in its message) for a malformed section."""
    scheme, host, port, db, username, password = _parse_url(str(connection.get("url") or DEFAULT_URL))
    if connection.get("username"):
        username = str(connection["username"])
    if connection.get("password"):
        password = str(connection["password"])
    cluster = bool(connection.get("cluster", False))
    if cluster and db:
        raise ValueError("Redis Cluster has database 0 only: drop the database number from url")
    timeout = _timeout(connection.get("timeout"))
    options: dict[str, Any] = {
        "host": host,
        "port": port,
        "username": username,
        "password": password,
        "socket_timeout": timeout,
        "socket_connect_timeout": timeout,
        "decode_responses": True,
        "client_name": "topoctl",
    }
    if not cluster:
        options["db"] = db
    tls = scheme == "rediss"
    tls_options = connection.get("tls") or {}
    if not isinstance(tls_options, Mapping):
        raise ValueError("tls must be a mapping")
    if tls_options and not tls:
        raise ValueError("tls options need a rediss:// url")
    if tls:
        options["ssl"] = True
        if tls_options.get("ca_file"):
            options["ssl_ca_certs"] = str(tls_options["ca_file"])
        if tls_options.get("cert_file"):
            options["ssl_certfile"] = str(tls_options["cert_file"])
        if tls_options.get("key_file"):
            options["ssl_keyfile"] = str(tls_options["key_file"])
        if tls_options.get("insecure_skip_verify"):
            options["ssl_cert_reqs"] = "none"
            options["ssl_check_hostname"] = False
        else:
            options["ssl_cert_reqs"] = "required"
    secrets = tuple(s for s in (password,) if s)
    return Settings(host, port, db, cluster, tls, options, secrets)


def check(connection: Mapping[str, Any]) -> tuple[str, str] | None:
    """What `settings` would refuse, without reading any file: (key, problem) or None. For validate."""
    try:
        _parse_url(str(connection.get("url") or DEFAULT_URL))
    except ValueError as exc:
        return "url", str(exc)
    try:
        _timeout(connection.get("timeout"))
    except ValueError as exc:
        return "timeout", f"timeout: {exc}"
    try:
        settings(connection)
    except ValueError as exc:
        key = "tls" if "tls" in str(exc) else "cluster" if "Cluster" in str(exc) else "url"
        return key, str(exc)
    return None


def safe_endpoint(connection: Mapping[str, Any]) -> str:
    """The endpoint even when the rest of the section is malformed."""
    try:
        return settings(connection).endpoint
    except ValueError:
        return strip_userinfo(str(connection.get("url") or DEFAULT_URL))


__all__ = ["Settings", "check", "safe_endpoint", "settings", "strip_userinfo"]
