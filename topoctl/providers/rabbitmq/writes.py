"""Applying changes to users, permissions, limits, operator policies, shovels and federation
upstreams: the management API calls for the kinds beyond exchanges, queues, bindings and policies.

Secrets arrive separately from the change (a plan, and a plan file, never holds them): `secret`
gives the declared value of a secret field of an address, as the driver read it from the manifest.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from topoctl.model import JSON, Action, Address, Change
from topoctl.providers import secrets
from topoctl.providers.rabbitmq.client import ManagementApi, seg
from topoctl.providers.rabbitmq.kinds import (
    FEDERATION_UPSTREAM,
    OPERATOR_POLICY,
    PERMISSION,
    SECRET_FIELDS,
    SHOVEL,
    TOPIC_PERMISSION,
    USER,
)
from topoctl.providers.rabbitmq.wire import describe, policy_body

Secret = Callable[[Address, str], JSON]
COMPONENTS = {SHOVEL: "shovel", FEDERATION_UPSTREAM: "federation-upstream"}
KINDS = frozenset({USER, PERMISSION, TOPIC_PERMISSION, OPERATOR_POLICY, SHOVEL, FEDERATION_UPSTREAM})


def path(address: Address) -> str:
    name = address.name
    if address.kind == USER:
        return f"/api/users/{seg(name[0])}"
    if address.kind == PERMISSION:
        return f"/api/permissions/{seg(name[0])}/{seg(name[1])}"
    if address.kind == TOPIC_PERMISSION:
        return f"/api/topic-permissions/{seg(name[0])}/{seg(name[1])}"
    if address.kind == OPERATOR_POLICY:
        return f"/api/operator-policies/{seg(name[0])}/{seg(name[1])}"
    return f"/api/parameters/{COMPONENTS[address.kind]}/{seg(name[0])}/{seg(name[1])}"


def apply_change(api: ManagementApi, change: Change, secret: Secret) -> None:
    address = change.address
    if change.action == Action.DELETE:
        target = path(address)
        if address.kind == TOPIC_PERMISSION:
            target += f"/{seg(address.name[2])}"  # one exchange's, not all of the user's
        api.request("DELETE", target, what=f"deleting {describe(address)}", ok_missing=True)
        return
    creating = change.action == Action.CREATE
    what = f"{'creating' if creating else 'updating'} {describe(address)}"
    after = dict(change.after or {})
    # A write replaces the whole object: start from what is live so undeclared fields survive
    # (shovels and upstreams excepted: their value is the declared one, whole).
    merged = after if creating or address.kind in COMPONENTS else {**(change.before or {}), **after}
    if address.kind == USER:
        _user(api, change, secret, what)
    elif address.kind == PERMISSION:
        body = {k: merged.get(k, "") for k in ("configure", "write", "read")}
        api.request("PUT", path(address), body, what=what)
    elif address.kind == TOPIC_PERMISSION:
        body = {"exchange": address.name[2], "write": merged.get("write", ""), "read": merged.get("read", "")}
        api.request("PUT", path(address), body, what=what)
    elif address.kind == OPERATOR_POLICY:
        api.request("PUT", path(address), policy_body(merged), what=what)
    else:
        try:
            value = {k: _revealed(address, k, v, secret, what) for k, v in after.items()}
        except ValueError as exc:
            raise api.error(str(exc)) from None
        api.request("PUT", path(address), {"value": value}, what=what)


def _revealed(address: Address, key: str, value: JSON, secret: Secret, what: str) -> JSON:
    if key not in SECRET_FIELDS.get(address.kind, frozenset()):
        return value
    plain = secret(address, key)
    if plain is not None:
        return plain
    masked = value if isinstance(value, list) else [value]
    if any(isinstance(v, str) and secrets.uri_password(v) == secrets.MASK for v in masked):
        raise ValueError(
            f"{what}: the password in its {key} is not available (apply the manifest, not a plan file alone)"
        )
    return value


def _user(api: ManagementApi, change: Change, secret: Secret, what: str) -> None:
    address, after, before = change.address, change.after or {}, change.before or {}
    fields = {f.field for f in change.fields} if change.action == Action.UPDATE else set(after)
    if fields & {"password", "tags"} or change.action == Action.CREATE:
        body: dict[str, Any] = {}
        if "password" in after and ("password" in fields or change.action == Action.CREATE):
            password = secret(address, "password")
            if not isinstance(password, str):
                raise api.error(f"{what}: its password is not available (the manifest declares it: apply the manifest)")
            body["password"] = password
        elif change.action == Action.CREATE:
            body["password_hash"] = ""  # no password: RabbitMQ refuses a login until one is set
        else:
            # PUT replaces the user: without the stored hash, the password would be removed.
            live = api.get_json(path(address), what=what)
            body["password_hash"] = live.get("password_hash", "")
            body["hashing_algorithm"] = live.get("hashing_algorithm")
        tags = after.get("tags", before.get("tags", []))
        body["tags"] = ",".join(str(t) for t in tags) if isinstance(tags, list) else ""
        api.request("PUT", path(address), body, what=what)
    if "limits" in fields:
        set_limits(api, f"/api/user-limits/{seg(address.name[0])}", before.get("limits"), after.get("limits"), what)


def set_limits(api: ManagementApi, base: str, before: JSON, after: JSON, what: str) -> None:
    """Make the live limits `after`: set what differs, remove what is no longer declared."""
    old: Mapping[str, JSON] = before if isinstance(before, Mapping) else {}
    new: Mapping[str, JSON] = after if isinstance(after, Mapping) else {}
    for key, value in new.items():
        if old.get(key) != value:
            api.request("PUT", f"{base}/{seg(key)}", {"value": value}, what=what)
    for key in old:
        if key not in new:
            api.request("DELETE", f"{base}/{seg(key)}", what=what, ok_missing=True)
