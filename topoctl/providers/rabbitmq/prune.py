"""`prune:` at broker and vhost level -> the scopes in which undeclared live objects are deleted.

`prune: true` covers every exchange, queue, binding and policy of a vhost; `prune: {prefix: p}`
only those whose name starts with `p`. A binding has no name of its own: it belongs to its
destination (the side that subscribes), so a prefix scope covers the bindings whose destination
starts with the prefix. Vhosts are never pruned; `state: absent` deletes one explicitly.

`prune: {kinds: [...]}` names the sections pruned instead of those four, and is how the other
kinds are opted in (operator policies, permissions, topic permissions, shovels, federation
upstreams, and at broker level users): pruning them by default would delete, on upgrade, every
permission or user a manifest never had to declare. A permission belongs to its user, so a prefix
applies to the user's name. The user topoctl connects as and `guest` are never pruned (the driver
does not even report them unless the manifest declares them).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from topoctl.manifest.source import Context
from topoctl.model import Address
from topoctl.providers.base import PruneScope
from topoctl.providers.rabbitmq.kinds import (
    BINDING,
    EXCHANGE,
    FEDERATION_UPSTREAM,
    OPERATOR_POLICY,
    PERMISSION,
    POLICY,
    PRUNABLE,
    QUEUE,
    SHOVEL,
    TOPIC_PERMISSION,
    USER,
)
from topoctl.providers.rabbitmq.observe import system_object

_DESTINATION = 3  # index of the destination in a binding's name parts
_USER_OWNED = frozenset({PERMISSION, TOPIC_PERMISSION})  # named after their user (name part 1)
# `kinds:` entries (the manifest's section names) -> kinds.
SECTIONS = {
    "exchanges": EXCHANGE,
    "queues": QUEUE,
    "bindings": BINDING,
    "policies": POLICY,
    "operator_policies": OPERATOR_POLICY,
    "permissions": PERMISSION,
    "topic_permissions": TOPIC_PERMISSION,
    "shovels": SHOVEL,
    "federation_upstreams": FEDERATION_UPSTREAM,
    "users": USER,
}


@dataclass(frozen=True)
class VhostPruneScope(PruneScope):
    """A vhost's named objects, never RabbitMQ's own: `observe` leaves those out already, and a
    scope that cannot cover them keeps it so whatever the live state says."""

    def covers(self, address: Address) -> bool:
        if address.kind in _USER_OWNED:
            name = address.name
            return (
                address.kind in self.kinds
                and name[: len(self.parent)] == self.parent
                and len(name) > 1
                and name[1].startswith(self.prefix)
            )
        return super().covers(address) and system_object(address) is None


@dataclass(frozen=True)
class BindingPruneScope(PruneScope):
    def covers(self, address: Address) -> bool:
        name = address.name
        return (
            address.kind == BINDING
            and len(name) > _DESTINATION
            and name[: len(self.parent)] == self.parent
            and name[_DESTINATION].startswith(self.prefix)
            and system_object(address) is None
        )


@dataclass(frozen=True)
class Setting:
    prefix: str
    kinds: frozenset[str]


def _setting(value: Any, ctx: Context, broker_level: bool) -> Setting | None:
    """None: no pruning; else the name prefix ("" for all) and the kinds pruned."""
    if value is None or value is False:
        return None
    if value is True:
        return Setting("", PRUNABLE)
    if isinstance(value, dict) and set(value) <= {"prefix", "kinds"}:
        prefix = value.get("prefix", "")
        kinds = value.get("kinds")
        if isinstance(prefix, str):
            return Setting(prefix, PRUNABLE if kinds is None else _kinds(kinds, ctx.at("kinds"), broker_level))
    raise ctx.error("prune must be true, false or {prefix: <name prefix>, kinds: [<sections>]}")


def _kinds(value: Any, ctx: Context, broker_level: bool) -> frozenset[str]:
    allowed = [s for s in SECTIONS if broker_level or s != "users"]
    if not isinstance(value, list) or not value:
        raise ctx.error(f"kinds must be a list of sections to prune: {', '.join(allowed)}")
    for i, section in enumerate(value):
        if section not in allowed:
            where = " (users are pruned by the broker-level prune)" if section == "users" else ""
            raise ctx.at(i).error(f"{section!r} is not a section to prune{where}; one of {', '.join(allowed)}")
    return frozenset(SECTIONS[s] for s in value)


def prune_scopes(broker_prune: Any, vhosts: Sequence[tuple[str, Any, Context]], ctx: Context) -> list[PruneScope]:
    """`vhosts`: (name, its `prune:` value or None, its context) of every vhost kept present."""
    default = _setting(broker_prune, ctx, broker_level=True)
    scopes: list[PruneScope] = []
    if default is not None and USER in default.kinds:
        scopes.append(PruneScope(kinds=frozenset({USER}), prefix=default.prefix))
    for vhost, own, vctx in vhosts:
        setting = default if own is None else _setting(own, vctx, broker_level=False)
        if setting is None:
            continue
        named = setting.kinds - {BINDING, USER}
        if named:
            scopes.append(VhostPruneScope(kinds=named, parent=(vhost,), prefix=setting.prefix))
        if BINDING in setting.kinds:
            scopes.append(BindingPruneScope(kinds=frozenset({BINDING}), parent=(vhost,), prefix=setting.prefix))
    return scopes
