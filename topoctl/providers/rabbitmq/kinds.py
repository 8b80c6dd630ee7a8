"""The RabbitMQ resource kinds, their addresses, and how the engine diffs them.

Addresses (the name carries the vhost):

* ``<broker>/vhost/<vhost>``
* ``<broker>/exchange/<vhost>/<exchange>``
* ``<broker>/queue/<vhost>/<queue>``
* ``<broker>/binding/<vhost>/<source>/<destination_type>/<destination>/<routing_key>/<args>``
  where ``<args>`` is empty for a binding without arguments, else a short digest of them: the
  broker cannot update a binding, so every property of it is part of its identity.
* ``<broker>/policy/<vhost>/<policy>``
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass

from topoctl.model import JSON, Address, Resource
from topoctl.providers.base import KindSpec
from topoctl.providers.rabbitmq.values import BYTE_KEYS, MS_KEYS


def _units(prefix: str, dashed: bool) -> dict[str, str]:
    """Plan display units of the queue arguments (`x-` keys) or policy definition keys."""
    keys = sorted([(k, "ms") for k in MS_KEYS] + [(k, "bytes") for k in BYTE_KEYS])
    return {f"{prefix}.{k}": unit for k, unit in keys if k.startswith("x-") == dashed}


VHOST = "vhost"
EXCHANGE = "exchange"
QUEUE = "queue"
BINDING = "binding"
POLICY = "policy"

# The vhost every broker has, with the description RabbitMQ gives it. Its content is managed like
# any other vhost's; the vhost itself is never deleted.
DEFAULT_VHOST = "/"
DEFAULT_VHOST_DESCRIPTION = "Default virtual host"

# Kinds a `prune:` scope covers; vhosts are never pruned (only `state: absent` deletes one).
PRUNABLE = frozenset({EXCHANGE, QUEUE, BINDING, POLICY})


def vhost_address(broker: str, vhost: str) -> Address:
    return Address(broker, VHOST, (vhost,))


def exchange_address(broker: str, vhost: str, name: str) -> Address:
    return Address(broker, EXCHANGE, (vhost, name))


def queue_address(broker: str, vhost: str, name: str) -> Address:
    return Address(broker, QUEUE, (vhost, name))


def policy_address(broker: str, vhost: str, name: str) -> Address:
    return Address(broker, POLICY, (vhost, name))


def destination_address(broker: str, vhost: str, destination_type: str, name: str) -> Address:
    kind = QUEUE if destination_type == "queue" else EXCHANGE
    return Address(broker, kind, (vhost, name))


def arguments_digest(arguments: Mapping[str, JSON]) -> str:
    """Stable across runs and key order; empty for no arguments so the common case reads well."""
    if not arguments:
        return ""
    text = json.dumps(arguments, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def binding_address(
    broker: str,
    vhost: str,
    source: str,
    destination_type: str,
    destination: str,
    routing_key: str,
    arguments: Mapping[str, JSON],
) -> Address:
    return Address(
        broker,
        BINDING,
        (vhost, source, destination_type, destination, routing_key, arguments_digest(arguments)),
    )


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


@dataclass(frozen=True)
class QueueKind(KindSpec):
    def at_risk(self, observed: Resource) -> list[str]:
        notes = super().at_risk(observed)
        consumers = observed.info.get("consumers")
        if isinstance(consumers, int) and consumers > 0:
            notes.append(f"{_plural(consumers, 'consumer')} will be disconnected")
        return notes


@dataclass(frozen=True)
class VhostKind(KindSpec):
    def at_risk(self, observed: Resource) -> list[str]:
        queues = observed.info.get("queues")
        messages = observed.info.get("messages")
        notes = []
        if isinstance(queues, int) and queues > 0:
            what = _plural(queues, "queue")
            if isinstance(messages, int) and messages > 0:
                what += f" holding {_plural(messages, 'message')}"
            notes.append(f"every object of the vhost goes with it: {what} will be deleted")
        return notes


@dataclass(frozen=True)
class ExchangeKind(KindSpec):
    def at_risk(self, observed: Resource) -> list[str]:
        notes = []
        bindings = observed.info.get("bindings")
        if isinstance(bindings, int) and bindings > 0:
            notes.append(f"{_plural(bindings, 'binding')} to or from it will be removed")
        queues = observed.info.get("dead_letter_queues")
        if isinstance(queues, list) and queues:
            shown = ", ".join(repr(q) for q in queues[:3]) + (f" and {len(queues) - 3} more" if len(queues) > 3 else "")
            notes.append(
                f"{'queue' if len(queues) == 1 else 'queues'} {shown} dead-letter{'s' if len(queues) == 1 else ''}"
                " into it: until it exists"
                " again, their dead letters are dropped"
            )
        return notes


KINDS: dict[str, KindSpec] = {
    VHOST: VhostKind(VHOST, cascades=True, rank=10),
    EXCHANGE: ExchangeKind(
        EXCHANGE,
        immutable=frozenset({"type", "durable", "auto_delete", "internal", "arguments"}),
        cascades=True,
        rank=20,
    ),
    QUEUE: QueueKind(
        QUEUE,
        immutable=frozenset({"type", "durable", "auto_delete", "arguments"}),
        cascades=True,
        rank=30,
        units=_units("arguments", dashed=True),
    ),
    BINDING: KindSpec(
        BINDING,
        immutable=frozenset({"source", "destination", "destination_type", "routing_key", "arguments"}),
        rank=40,
    ),
    POLICY: KindSpec(POLICY, rank=50, units=_units("definition", dashed=False)),
}
