"""The `connection:` section of an Azure Service Bus broker -> how to reach one namespace.

Either `connection_string` (SharedAccessKey or SharedAccessSignature; `UseDevelopmentEmulator=true`
for the official emulator, which serves its management API over plain HTTP) or `namespace`
(`<name>.servicebus.windows.net`, authenticated with azure-identity's DefaultAzureCredential).

Nothing here imports the SDK. The key, the signature and the connection string itself are secrets:
they never appear in `endpoint`, and `Settings.scrub` removes them from any error text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from topoctl.units import parse_duration

DOMAIN = ".servicebus.windows.net"
DEFAULT_TIMEOUT_S = 30.0
_HOST = re.compile(r"^[A-Za-z0-9.-]+(?::[0-9]{1,5})?$")


@dataclass(frozen=True)
class Settings:
    host: str  # the fully qualified namespace, with a port only for the emulator
    emulator: bool
    timeout: float
    key_name: str | None = None
    # Never printed (repr=False): the connection string and what it holds.
    connection_string: str | None = field(default=None, repr=False)
    secrets: tuple[str, ...] = field(default=(), repr=False)

    @property
    def endpoint(self) -> str:
        scheme = "sb" if not self.emulator else "sb+http"
        return f"{scheme}://{self.host}"

    def scrub(self, text: str) -> str:
        for secret in sorted(self.secrets, key=len, reverse=True):
            if secret:
                text = text.replace(secret, "***")
        return re.sub(r"(?i)(SharedAccessKey|SharedAccessSignature|sig)=[^;&\s]+", r"\1=***", text)


def _timeout(value: object) -> float:
    if value is None:
        return DEFAULT_TIMEOUT_S
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)  # plain numbers are seconds, as the SDK takes them
    return parse_duration(value, "ms") / 1000


def _parse_connection_string(text: str) -> dict[str, str]:
    parts: dict[str, str] = {}
    for piece in text.strip().rstrip(";").split(";"):
        key, sep, value = piece.partition("=")
        if not sep or not key.strip():
            # The piece may hold the key itself: never quote it.
            raise ValueError("connection_string is malformed (expected Key=Value pairs separated by ';')")
        parts[key.strip().lower()] = value.strip()
    return parts


def settings(connection: Mapping[str, Any]) -> Settings:
    """Raises ValueError (no secret in its message) for a malformed section."""
    conn_str = connection.get("connection_string")
    namespace = connection.get("namespace")
    if conn_str and namespace:
        raise ValueError("give connection_string or namespace, not both")
    timeout = _timeout(connection.get("timeout"))
    if namespace:
        host = str(namespace).strip().removeprefix("sb://").removeprefix("https://").rstrip("/")
        if "." not in host:
            host += DOMAIN
        if not _HOST.match(host):
            raise ValueError(f"namespace must be a host name such as myns{DOMAIN}, got {namespace!r}")
        return Settings(host=host, emulator=False, timeout=timeout)
    if not conn_str:
        raise ValueError(
            "connection needs connection_string (from ${VAR}) or namespace (<name>.servicebus.windows.net, "
            "signed in with DefaultAzureCredential)"
        )
    text = str(conn_str)
    parts = _parse_connection_string(text)
    endpoint = parts.get("endpoint", "")
    host = urlsplit(endpoint).netloc if "://" in endpoint else ""
    if not host or not _HOST.match(host):
        raise ValueError("connection_string has no valid Endpoint=sb://<namespace>/")
    if parts.get("entitypath"):
        raise ValueError("connection_string names an entity (EntityPath): use the namespace's connection string")
    key, signature = parts.get("sharedaccesskey"), parts.get("sharedaccesssignature")
    key_name = parts.get("sharedaccesskeyname")
    if key and signature:
        raise ValueError("connection_string has both SharedAccessKey and SharedAccessSignature: keep one")
    if key and not key_name:
        raise ValueError("connection_string has SharedAccessKey but no SharedAccessKeyName")
    if not key and not signature:
        raise ValueError("connection_string has neither SharedAccessKey nor SharedAccessSignature")
    emulator = parts.get("usedevelopmentemulator", "").lower() == "true"
    secrets = tuple(s for s in (text, key, signature) if s)
    return Settings(
        host=host if emulator else host.split(":")[0],
        emulator=emulator,
        timeout=timeout,
        key_name=key_name,
        connection_string=text,
        secrets=secrets,
    )


def check(connection: Mapping[str, Any]) -> tuple[str, str] | None:
    """What `settings` would refuse: (key, problem) or None. For validate (offline)."""
    try:
        settings(connection)
    except ValueError as exc:
        text = str(exc)
        key = (
            "timeout"
            if "duration" in text or "timeout" in text
            else ("namespace" if text.startswith("namespace") else "connection_string")
        )
        return key, text
    return None


def safe_endpoint(connection: Mapping[str, Any]) -> str:
    """The endpoint even when the rest of the section is malformed; never a secret."""
    try:
        return settings(connection).endpoint
    except ValueError:
        namespace = connection.get("namespace")
        return f"sb://{namespace}" if isinstance(namespace, str) and namespace else "sb://(unknown namespace)"


__all__ = ["Settings", "check", "safe_endpoint", "settings"]
