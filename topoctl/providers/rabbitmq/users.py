"""RabbitMQ users: the broker-level `users:` section, password hashes, and the lock-out rules.

RabbitMQ keeps a salted hash of each password (`password_hash`, base64 of a 4-byte salt followed by
the digest of salt + UTF-8 password, with the algorithm named in `hashing_algorithm`;
RabbitMQ 3.10's default is SHA-256). The plan hashes the declared password with the stored salt and
compares digests, so a changed password is found without the broker ever giving it back and
without the plan ever holding it (see topoctl.providers.secrets).

Pure, except `password_matches`, which only computes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Sequence
from typing import Any

from topoctl.errors import PlanError
from topoctl.manifest.source import Context
from topoctl.model import JSON, Resource
from topoctl.providers import secrets
from topoctl.providers.rabbitmq.kinds import PERMISSION, USER, user_address

# hashing_algorithm -> hashlib name (rabbit_password_hashing_sha256 is 3.10's default).
HASHES = {
    "rabbit_password_hashing_sha256": "sha256",
    "rabbit_password_hashing_sha512": "sha512",
    "rabbit_password_hashing_md5": "md5",
}
# Live secret data of an observed user, in its `info` (never in attrs, never rendered).
PASSWORD_HASH = "password_hash"
HASHING_ALGORITHM = "hashing_algorithm"
USER_LIMITS = ("max-connections", "max-channels")
# Tags that give access to the management API; the user topoctl connects as keeps those it has.
MANAGEMENT_TAGS = frozenset({"administrator", "monitoring", "policymaker", "management"})
FULL = ".*"


def password_matches(password: str, stored: str, algorithm: str) -> bool:
    """Whether `password` is the one whose hash RabbitMQ stores as `stored`. An empty hash (a user
    without password) or an algorithm topoctl does not know never matches: the plan sets it."""
    name = HASHES.get(algorithm)
    if not stored or name is None:
        return False
    try:
        raw = base64.b64decode(stored, validate=True)
    except (binascii.Error, ValueError):
        return False
    salt, digest = raw[:4], raw[4:]
    return hmac.compare_digest(hashlib.new(name, salt + password.encode("utf-8")).digest(), digest)


def same_password(field: str, secret: JSON, observed: Resource) -> bool:
    """`secrets.Same` for users: the declared password against the stored salted hash."""
    return (
        isinstance(secret, str)
        and field == "password"
        and password_matches(
            secret, str(observed.info.get(PASSWORD_HASH) or ""), str(observed.info.get(HASHING_ALGORITHM))
        )
    )


def tags_of(value: Any) -> list[str]:
    """RabbitMQ's tags: split on commas, stripped, empty ones dropped, compared as a set."""
    items = value.split(",") if isinstance(value, str) else value or []
    return sorted({str(t).strip() for t in items if str(t).strip()})


def limits(section: Any, ctx: Context, allowed: Sequence[str]) -> dict[str, JSON]:
    """A `limits:` mapping of non-negative integers (user or vhost limits)."""
    out: dict[str, JSON] = {}
    for key, value in ctx.mapping(section).items():
        if key not in allowed:
            raise ctx.at(key).error(f"unknown limit {key!r} (RabbitMQ 3.10 has {', '.join(allowed)})")
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ctx.at(key).error(f"{key} must be a whole number, 0 or more")
        out[key] = value
    return out


def compile_users(broker: str, section: Any, ctx: Context) -> list[Resource]:
    """`users:` -> user resources. The password goes into `info` (secrets.SECRETS) only."""
    out = []
    for name, body in ctx.mapping(section).items():
        uctx = ctx.at(name)
        if not isinstance(name, str) or not name:
            raise uctx.error("a user name must be a non-empty string")
        if name in (".", ".."):
            raise uctx.error(f"a user named {name!r} cannot be managed through the management HTTP API")
        body = uctx.mapping(body)
        address = user_address(broker, name)
        if body.get("state") == "absent":
            extra = sorted(k for k in body if k != "state")
            if extra:
                raise uctx.error(f"user {name!r} has state: absent; remove its {', '.join(extra)}")
            out.append(Resource(address, {}, absent=True, source=uctx.where()))
            continue
        attrs: dict[str, JSON] = {}
        info: dict[str, JSON] = {}
        if "password" in body:
            password = body["password"]
            # Never echo it: a misplaced value may still be the real password.
            if not isinstance(password, str):
                raise uctx.at("password").error("password must be a string (take it from ${VAR})")
            if not password:
                raise uctx.at("password").error("password cannot be empty (is its variable set?)")
            attrs["password"] = secrets.SENSITIVE
            info[secrets.SECRETS] = {"password": password}
        if "tags" in body:
            attrs["tags"] = tags_of(body["tags"])
        if "limits" in body:
            attrs["limits"] = limits(body["limits"], uctx.at("limits"), USER_LIMITS)
        out.append(Resource(address, attrs, source=uctx.where(), info=info))
    return out


# -- the user topoctl connects as -------------------------------------------------------------------


def check_own_access(
    broker: str, me: str, password: str, desired: Sequence[Resource], live_tags: Sequence[str] | None
) -> None:
    """A plan that would delete or lock out the user topoctl connects as is an error: nothing but
    another administrator account could undo it."""
    for r in desired:
        if r.kind == USER and r.address.name[0] == me:
            _check_me(broker, me, password, r, live_tags)
        elif r.kind == PERMISSION and r.address.name[1] == me:
            where = f"{r.source}: " if r.source else ""
            prefix = f"broker {broker!r}: {where}user {me!r} is the user topoctl connects as"
            vhost = r.address.name[0]
            if r.absent:
                raise PlanError(f"{prefix}; deleting its permissions in vhost {vhost!r} would lock topoctl out of it")
            narrowed = [k for k in ("configure", "write", "read") if r.attrs.get(k) != FULL]
            if narrowed:
                raise PlanError(
                    f"{prefix}; its {', '.join(narrowed)} permission in vhost {vhost!r} must stay {FULL!r}"
                    " (topoctl declares and deletes objects of every name there)"
                )


def _check_me(broker: str, me: str, password: str, r: Resource, live_tags: Sequence[str] | None) -> None:
    where = f"{r.source}: " if r.source else ""
    prefix = f"broker {broker!r}: {where}user {me!r} is the user topoctl connects as"
    if r.absent:
        raise PlanError(f"{prefix}; deleting it would lock topoctl out")
    declared = secrets.declared(r).get("password")
    if isinstance(declared, str) and not hmac.compare_digest(declared.encode(), password.encode()):
        raise PlanError(f"{prefix}; its declared password is not the one topoctl connects with")
    tags = r.attrs.get("tags")
    if isinstance(tags, list) and live_tags is not None:
        lost = sorted(MANAGEMENT_TAGS & set(live_tags) - set(tags))
        if lost:
            raise PlanError(
                f"{prefix}; its declared tags drop {', '.join(lost)}, which topoctl needs for the management API"
            )
