"""`prune:` at broker and vhost level -> the scopes in which undeclared live objects are deleted.

`prune: true` covers every exchange, queue, binding and policy of a vhost; `prune: {prefix: p}`
only those whose name starts with `p`. A binding has no name of its own: it belongs to its
destination (the side that subscribes), so a prefix scope covers the bindings whose destination
starts with the prefix. Vhosts are never pruned; `state: absent` deletes one explicitly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from topoctl.manifest.source import Context
from topoctl.model import Address
from topoctl.providers.base import PruneScope
from topoctl.providers.rabbitmq.kinds import BINDING, EXCHANGE, POLICY, PRUNABLE, QUEUE
from topoctl.providers.rabbitmq.observe import system_object

_NAMED = frozenset({EXCHANGE, QUEUE, POLICY})
_DESTINATION = 3  # index of the destination in a binding's name parts


@dataclass(frozen=True)
class VhostPruneScope(PruneScope):
    """A vhost's named objects, never RabbitMQ's own: `observe` leaves those out already, and a
    scope that cannot cover them keeps it so whatever the live state says."""

    def covers(self, address: Address) -> bool:
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


def _setting(value: Any, ctx: Context) -> str | None:
    """None: no pruning; a string: prune names with that prefix ("" for all)."""
    if value is None or value is False:
        return None
    if value is True:
        return ""
    if isinstance(value, dict) and set(value) <= {"prefix"}:
        prefix = value.get("prefix", "")
        if isinstance(prefix, str):
            return prefix
    raise ctx.error("prune must be true, false or {prefix: <name prefix>}")


def prune_scopes(broker_prune: Any, vhosts: Sequence[tuple[str, Any, Context]], ctx: Context) -> list[PruneScope]:
    """`vhosts`: (name, its `prune:` value or None, its context) of every vhost kept present."""
    default = _setting(broker_prune, ctx)
    scopes: list[PruneScope] = []
    for vhost, own, vctx in vhosts:
        prefix = default if own is None else _setting(own, vctx)
        if prefix is None:
            continue
        if prefix == "":
            scopes.append(VhostPruneScope(kinds=PRUNABLE, parent=(vhost,)))
        else:
            scopes.append(VhostPruneScope(kinds=_NAMED, parent=(vhost,), prefix=prefix))
            scopes.append(BindingPruneScope(kinds=frozenset({BINDING}), parent=(vhost,), prefix=prefix))
    return scopes
