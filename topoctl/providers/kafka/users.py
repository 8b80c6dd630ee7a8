"""SCRAM users (`users:`): compiling them, and what their attributes mean. Pure.

Kafka keeps, per user and mechanism, a salted password and its iteration count, and never gives
the password back (DescribeUserScramCredentials lists mechanisms and iterations only). So the
password goes the way of every secret (topoctl.providers.secrets): a stand-in in `attrs`, the value
in `info`. The driver compares it by logging in as the user over the connection's SCRAM listener
when there is one; without one the plan says the password cannot be compared, and shows no change.

A declared user owns its credentials: one mechanism, and a credential of the other mechanism on
the broker is removed (it would still let clients in with an old password).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from topoctl.manifest.source import Context
from topoctl.model import JSON, Address, Resource
from topoctl.providers import secrets

KIND = "user"
MECHANISMS = ("SCRAM-SHA-256", "SCRAM-SHA-512")
DEFAULT_MECHANISM = "SCRAM-SHA-256"
# Kafka's ScramMechanism bounds (ScramFormatter): fewer iterations are refused, more too.
MIN_ITERATIONS, MAX_ITERATIONS = 4096, 16384
DEFAULT_ITERATIONS = 4096
PASSWORD = "password"
# Why the password was not compared, in the observed resource's info (shown as a note).
UNCHECKED = "password_unchecked"


def compile_user(broker: str, name: str, spec: object, ctx: Context) -> Resource:
    if not name or any(c.isspace() for c in name):
        raise ctx.error(f"invalid SCRAM user name {name!r}: no whitespace, not empty")
    section = ctx.mapping(spec)
    address = Address(broker, KIND, (name,))
    unknown = sorted(str(k) for k in section if k not in ("mechanism", "iterations", PASSWORD, "state"))
    if unknown:
        raise ctx.at(unknown[0]).error(f"unknown user setting {unknown[0]!r} (mechanism, iterations, password, state)")
    state = section.get("state", "present")
    if state not in ("present", "absent"):
        raise ctx.at("state").error(f"state must be present or absent, got {state!r}")
    if state == "absent":
        return Resource(address, {}, absent=True, source=ctx.where())
    mechanism = str(section.get("mechanism", DEFAULT_MECHANISM)).upper()
    if mechanism not in MECHANISMS:
        raise ctx.at("mechanism").error(f"mechanism must be one of {', '.join(MECHANISMS)}, got {mechanism!r}")
    attrs: dict[str, JSON] = {"mechanism": mechanism}
    if "iterations" in section:
        iterations = section["iterations"]
        if (
            isinstance(iterations, bool)
            or not isinstance(iterations, int)
            or not MIN_ITERATIONS <= iterations <= MAX_ITERATIONS
        ):
            raise ctx.at("iterations").error(
                f"iterations must be a whole number from {MIN_ITERATIONS} to {MAX_ITERATIONS} (Kafka's bounds)"
            )
        attrs["iterations"] = iterations
    password = section.get(PASSWORD)
    if not isinstance(password, str) or not password:
        raise ctx.at(PASSWORD).error("a SCRAM user needs a password (take it from the environment: ${VAR})")
    attrs[PASSWORD] = secrets.SENSITIVE
    info: dict[str, JSON] = {secrets.SECRETS: {PASSWORD: password}}
    return Resource(address, attrs, source=ctx.where(), info=info)


def password_of(resource: Resource | None) -> str | None:
    value = secrets.declared(resource).get(PASSWORD)
    return value if isinstance(value, str) else None


def live_attrs(credentials: Mapping[str, int], want: Resource | None) -> dict[str, JSON]:
    """A live user's attrs from its credentials (mechanism -> iterations). Several mechanisms read as
    one comma-separated value, so a user declared with one of them shows the other going."""
    mechanisms = sorted(credentials)
    declared = str(want.attrs.get("mechanism")) if want is not None else None
    mechanism = declared if declared in credentials and len(mechanisms) == 1 else ",".join(mechanisms)
    iterations = credentials.get(declared or "", credentials[mechanisms[0]] if mechanisms else 0)
    return {"mechanism": mechanism, "iterations": iterations, PASSWORD: secrets.SENSITIVE}


def export_user(name: str, attrs: Mapping[str, Any], broker: str) -> dict[str, Any]:
    mechanism = str(attrs.get("mechanism", DEFAULT_MECHANISM)).split(",")[0]
    out: dict[str, Any] = {"mechanism": mechanism}
    if attrs.get("iterations") not in (None, DEFAULT_ITERATIONS):
        out["iterations"] = attrs["iterations"]
    variable = secrets.placeholder_name(broker, "user", name, "password")
    out[PASSWORD] = secrets.placeholder(variable, f"users.{name}.password")
    return out
