"""`connection:` of a Kafka broker -> librdkafka properties, and keeping its secrets out of text.

Pure (no client import), so `topoctl validate` checks a connection offline with file:line.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from topoctl.units import parse_duration

SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
SECURITY_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
DEFAULT_TIMEOUT_MS = 10_000
DEFAULT_WRITE_TIMEOUT_MS = 60_000
_TLS_FILES = {
    "ca_file": "ssl.ca.location",
    "cert_file": "ssl.certificate.location",
    "key_file": "ssl.key.location",
    "key_password": "ssl.key.password",
}
# librdkafka properties whose values are secrets (passwords, private keys, OAuth secrets).
_SECRET_PROPERTY = re.compile(r"password|secret|token|jaas|credential|oauthbearer\.config|\.key\.pem$|keystore")
REDACTED = "***"


class ConnectionProblem(ValueError):
    """A connection setting that cannot work; `path` locates it below `connection:`."""

    def __init__(self, message: str, *path: str) -> None:
        super().__init__(message)
        self.path = path


def librdkafka_config(connection: Mapping[str, Any]) -> dict[str, str]:
    """The AdminClient configuration for `connection` (secrets included: never print it)."""
    config: dict[str, str] = {}
    client = connection.get("client") or {}
    if not isinstance(client, Mapping):
        raise ConnectionProblem("connection.client must be a mapping of librdkafka properties", "client")
    for key, value in client.items():
        config[str(key)] = _property_value(value, str(key))
    config["bootstrap.servers"] = ",".join(bootstrap_servers(connection))

    sasl = connection.get("sasl")
    if sasl is not None:
        if not isinstance(sasl, Mapping):
            raise ConnectionProblem("connection.sasl must be a mapping", "sasl")
        mechanism = str(sasl.get("mechanism", "PLAIN")).upper()
        if mechanism not in SASL_MECHANISMS:
            raise ConnectionProblem(f"sasl.mechanism must be one of {', '.join(SASL_MECHANISMS)}", "sasl", "mechanism")
        for key in ("username", "password"):
            if not isinstance(sasl.get(key), str) or not sasl.get(key):
                raise ConnectionProblem(f"sasl.{key} is required (take it from the environment: ${{VAR}})", "sasl")
        config["sasl.mechanism"] = mechanism
        config["sasl.username"] = sasl["username"]
        config["sasl.password"] = sasl["password"]

    tls = connection.get("tls")
    if tls is not None and tls is not False:
        if tls is True:
            tls = {}
        if not isinstance(tls, Mapping):
            raise ConnectionProblem("connection.tls must be a mapping (or true)", "tls")
        for key, prop in _TLS_FILES.items():
            if tls.get(key) is not None:
                config[prop] = str(tls[key])
        if "verify_hostname" in tls:
            config["ssl.endpoint.identification.algorithm"] = "https" if tls["verify_hostname"] else "none"

    protocol = connection.get("security_protocol")
    derived = ("SASL_" if sasl is not None else "") + ("SSL" if tls not in (None, False) else "PLAINTEXT")
    if protocol is None:
        if sasl is not None or tls not in (None, False) or "security.protocol" not in config:
            config["security.protocol"] = derived
    else:
        protocol = str(protocol).upper()
        if protocol not in SECURITY_PROTOCOLS:
            raise ConnectionProblem(
                f"security_protocol must be one of {', '.join(SECURITY_PROTOCOLS)}", "security_protocol"
            )
        if (sasl is not None and not protocol.startswith("SASL_")) or (
            tls not in (None, False) and not protocol.endswith("SSL")
        ):
            raise ConnectionProblem(
                f"security_protocol {protocol} contradicts the sasl/tls settings (they imply {derived})",
                "security_protocol",
            )
        config["security.protocol"] = protocol
    return config


def tls_file_problem(connection: Mapping[str, Any]) -> str | None:
    """Why a TLS file of `connection` cannot be used, or None: librdkafka says only
    "ssl.ca.location failed: ... BIO lib", naming neither the file nor the problem. Asked when a
    driver is made, not by `validate`: the files may exist only where topoctl meets the broker."""
    tls = connection.get("tls")
    if not isinstance(tls, Mapping):
        return None
    for key in ("ca_file", "cert_file", "key_file"):
        path = tls.get(key)
        if path is None:
            continue
        try:
            with open(str(path), "rb"):
                pass
        except OSError as exc:
            return f"cannot use tls.{key} {str(path)!r}: {exc.strerror or exc}"
    return None


def bootstrap_servers(connection: Mapping[str, Any]) -> list[str]:
    value = connection.get("bootstrap_servers")
    servers = [value] if isinstance(value, str) else value
    if not isinstance(servers, list) or not servers or not all(isinstance(s, str) and s for s in servers):
        raise ConnectionProblem("connection.bootstrap_servers is required: host:port[,host:port...]")
    out: list[str] = []
    for entry in servers:
        out.extend(part.strip() for part in entry.split(",") if part.strip())
    return out


def timeout_ms(connection: Mapping[str, Any]) -> int:
    return _duration_ms(connection, "timeout", DEFAULT_TIMEOUT_MS)


def _duration_ms(connection: Mapping[str, Any], key: str, default: int) -> int:
    value = connection.get(key)
    if value is None:
        return default
    try:
        result = parse_duration(value, "ms")
    except ValueError as exc:
        raise ConnectionProblem(str(exc), key) from None
    if result <= 0:
        raise ConnectionProblem(f"connection.{key} must be positive", key)
    return result


def write_timeout_ms(connection: Mapping[str, Any]) -> int:
    """`connection.write_timeout`: how long one batched write may take (default 60 s)."""
    return _duration_ms(connection, "write_timeout", DEFAULT_WRITE_TIMEOUT_MS)


def endpoint(connection: Mapping[str, Any]) -> str:
    """The bootstrap servers, for messages; anything that looks like credentials is dropped."""
    try:
        servers = bootstrap_servers(connection)
    except ConnectionProblem:
        return "<no bootstrap_servers>"
    return ",".join(s.rsplit("@", 1)[-1] for s in servers)


def secret_values(config: Mapping[str, str]) -> list[str]:
    """The values of `config` that must never appear in text, longest first."""
    found = {v for k, v in config.items() if v and _SECRET_PROPERTY.search(k)}
    return sorted(found, key=len, reverse=True)


def scrub(text: str, secrets: Iterable[str]) -> str:
    # Even a one-letter secret is hidden: a garbled message is better than a leaked password.
    for secret in secrets:
        text = text.replace(secret, REDACTED)
    return text


def _property_value(value: object, key: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, str)):
        return str(value)
    if isinstance(value, list) and all(isinstance(v, (str, int)) for v in value):
        return ",".join(str(v) for v in value)
    raise ConnectionProblem(f"connection.client.{key} must be a string, number or boolean", "client", key)
