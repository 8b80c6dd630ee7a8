"""The RabbitMQ resource kinds, their addresses, and how the engine diffs them.

Addresses (the name carries the vhost):

* ``<broker>/vhost/<vhost>``
* ``<broker>/exchange/<vhost>/<exchange>``
* ``<broker>/queue/<vhost>/<queue>``
* ``<broker>/binding/<vhost>/<source>/<destination_type>/<destination>/<routing_key>/<args>``
  where ``<args>`` is empty for a binding without arguments, else a short digest of them: the
  broker cannot update a binding, so every property of it is part of its identity.
* ``<broker>/policy/<vhost>/<policy>``
* ``<broker>/operator_policy/<vhost>/<policy>``
* ``<broker>/user/<user>`` (users are the broker's, not a vhost's)
* ``<broker>/permission/<vhost>/<user>``
* ``<broker>/topic_permission/<vhost>/<user>/<exchange>``
* ``<broker>/shovel/<vhost>/<shovel>`` (a dynamic shovel)
* ``<broker>/federation_upstream/<vhost>/<upstream>``
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass

from topoctl.model import JSON, Address, FieldChange, Resource
from topoctl.providers import secrets
from topoctl.providers.base import KindSpec
from topoctl.providers.rabbitmq import swap
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
OPERATOR_POLICY = "operator_policy"
USER = "user"
PERMISSION = "permission"
TOPIC_PERMISSION = "topic_permission"
SHOVEL = "shovel"
FEDERATION_UPSTREAM = "federation_upstream"

# Fields holding a secret (a password, URIs that may carry one): see topoctl.providers.secrets.
SECRET_FIELDS: dict[str, frozenset[str]] = {
    USER: frozenset({"password"}),
    SHOVEL: frozenset({"src-uri", "dest-uri"}),
    FEDERATION_UPSTREAM: frozenset({"uri"}),
}

# The vhost every broker has, with the description RabbitMQ gives it. Its content is managed like
# any other vhost's; the vhost itself is never deleted.
DEFAULT_VHOST = "/"
DEFAULT_VHOST_DESCRIPTION = "Default virtual host"

# Kinds a `prune:` scope covers; vhosts are never pruned (only `state: absent` deletes one).
PRUNABLE = frozenset({EXCHANGE, QUEUE, BINDING, POLICY})
# Kinds a scope covers only when it names them (`prune: {kinds: [...]}`): pruning them by default
# would delete, on upgrade, every permission or user a manifest never had to declare.
OPT_IN_PRUNABLE = frozenset({OPERATOR_POLICY, PERMISSION, TOPIC_PERMISSION, SHOVEL, FEDERATION_UPSTREAM, USER})


def vhost_address(broker: str, vhost: str) -> Address:
    return Address(broker, VHOST, (vhost,))


def exchange_address(broker: str, vhost: str, name: str) -> Address:
    return Address(broker, EXCHANGE, (vhost, name))


def queue_address(broker: str, vhost: str, name: str) -> Address:
    return Address(broker, QUEUE, (vhost, name))


def policy_address(broker: str, vhost: str, name: str) -> Address:
    return Address(broker, POLICY, (vhost, name))


def operator_policy_address(broker: str, vhost: str, name: str) -> Address:
    return Address(broker, OPERATOR_POLICY, (vhost, name))


def user_address(broker: str, name: str) -> Address:
    return Address(broker, USER, (name,))


def permission_address(broker: str, vhost: str, user: str) -> Address:
    return Address(broker, PERMISSION, (vhost, user))


def topic_permission_address(broker: str, vhost: str, user: str, exchange: str) -> Address:
    return Address(broker, TOPIC_PERMISSION, (vhost, user, exchange))


def shovel_address(broker: str, vhost: str, name: str) -> Address:
    return Address(broker, SHOVEL, (vhost, name))


def federation_upstream_address(broker: str, vhost: str, name: str) -> Address:
    return Address(broker, FEDERATION_UPSTREAM, (vhost, name))


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


def _moves(desired: Resource) -> bool:
    return desired.attrs.get(swap.ON_REPLACE) == swap.MOVE_MESSAGES


def _count(resource: Resource, key: str) -> int:
    value = resource.info.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


# Queue and exchange arguments that a policy can set too, by their policy key. A queue argument can
# never change, a policy can (and applies to queues already declared): so a replace forced by one
# of these has a way around it, and the plan says so.
POLICY_KEYS = {
    "x-max-length": "max-length",
    "x-max-length-bytes": "max-length-bytes",
    "x-message-ttl": "message-ttl",
    "x-expires": "expires",
    "x-overflow": "overflow",
    "x-dead-letter-exchange": "dead-letter-exchange",
    "x-dead-letter-routing-key": "dead-letter-routing-key",
    "x-dead-letter-strategy": "dead-letter-strategy",
    "x-delivery-limit": "delivery-limit",
    "x-queue-leader-locator": "queue-leader-locator",
    "x-queue-version": "queue-version",
    "x-max-age": "max-age",
    "x-stream-max-segment-size-bytes": "stream-max-segment-size-bytes",
}
EXCHANGE_POLICY_KEYS = {"alternate-exchange": "alternate-exchange"}


def _argument_reasons(spec: KindSpec, change: FieldChange) -> str | None:
    """`arguments.x-max-length cannot change in place (1000 -> 5000): set max-length with a policy
    instead of the queue argument (a policy changes in place)`, one clause per differing key."""
    if change.field != "arguments":
        return None
    before = change.before if isinstance(change.before, Mapping) else {}
    after = change.after if isinstance(change.after, Mapping) else {}
    keys = [k for k in sorted({*before, *after}, key=str) if before.get(k) != after.get(k)]
    if not keys:
        return None
    reasons = []
    for key in keys:
        one = KindSpec.replace_reason(spec, FieldChange("arguments", {key: before.get(key)}, {key: after.get(key)}))
        owner = "queue" if spec.kind == QUEUE else "exchange"
        policy = (POLICY_KEYS if owner == "queue" else EXCHANGE_POLICY_KEYS).get(str(key))
        if policy is not None:
            one += f": set {policy} with a policy instead of the {owner} argument (a policy changes in place)"
        reasons.append(one)
    return "; ".join(reasons)


@dataclass(frozen=True)
class QueueKind(KindSpec):
    """`on_replace: move_messages` (see swap.py) turns what would be a replace into an update that
    keeps the messages: the fields that force a replacement are shown, but do not force one, and a
    note says how the queue is replaced. A move a failed apply left unfinished is a change too."""

    def replace_reason(self, change: FieldChange) -> str:
        return _argument_reasons(self, change) or super().replace_reason(change)

    def field_changes(self, desired: Resource, observed: Resource) -> list[FieldChange]:
        changes = [c for c in super().field_changes(desired, observed) if c.field != swap.ON_REPLACE]
        if not _moves(desired):
            return changes
        if observed.attrs.get("type") != "stream":  # a stream's log cannot be shovelled: a real replace
            changes = [FieldChange(c.field, c.before, c.after) for c in changes]
        parked = observed.info.get(swap.PARKED)
        if isinstance(parked, Mapping):
            before = swap.UNFINISHED.format(queue=repr(parked.get("queue")))
            changes.append(FieldChange(swap.ON_REPLACE, before, swap.MOVE_MESSAGES))
        return changes

    def notes(self, desired: Resource, observed: Resource) -> list[str]:
        if not _moves(desired) or observed.attrs.get("type") == "stream":
            return []
        if not any(c.field in self.immutable for c in super().field_changes(desired, observed)):
            return []
        return [swap.plan_note(desired.address.name[1], _count(observed, "messages"), _count(observed, "consumers"))]

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
    def replace_reason(self, change: FieldChange) -> str:
        return _argument_reasons(self, change) or super().replace_reason(change)

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


@dataclass(frozen=True)
class UserKind(KindSpec):
    def field_changes(self, desired: Resource, observed: Resource) -> list[FieldChange]:
        return secrets.masked_changes(super().field_changes(desired, observed), SECRET_FIELDS[USER])

    def at_risk(self, observed: Resource) -> list[str]:
        return [f"clients that log in as {observed.address.name[0]!r} can no longer connect"]


@dataclass(frozen=True)
class PermissionKind(KindSpec):
    def at_risk(self, observed: Resource) -> list[str]:
        vhost, user = observed.address.name[:2]
        if observed.kind == TOPIC_PERMISSION:
            exchange = observed.address.name[2]
            return [f"user {user!r} loses its topic restrictions on exchange {exchange!r} in vhost {vhost!r}"]
        return [f"user {user!r} can no longer use vhost {vhost!r}"]


@dataclass(frozen=True)
class ParameterKind(KindSpec):
    """A shovel or federation upstream: a runtime parameter whose value the manifest gives whole.
    The broker keeps it verbatim (no defaults filled in), so a live key the manifest does not
    declare is a change (the update writes the declared value alone), never a perpetual diff."""

    def field_changes(self, desired: Resource, observed: Resource) -> list[FieldChange]:
        changes = super().field_changes(desired, observed)
        changes += [FieldChange(k, v, None) for k, v in sorted(observed.attrs.items()) if k not in desired.attrs]
        return secrets.masked_changes(changes, SECRET_FIELDS.get(self.kind, frozenset()))

    def at_risk(self, observed: Resource) -> list[str]:
        if self.kind == SHOVEL:
            return ["the shovel stops; messages it has not moved yet stay where they are"]
        return ["federation links that use this upstream stop"]


KINDS: dict[str, KindSpec] = {
    USER: UserKind(USER, cascades=True, rank=5),
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
        # The driver imports a vhost's new exchanges, queues and bindings at once, in that order
        # (or creates the bindings after the rest, one by one): one import and one check, not two.
        created_together=frozenset({EXCHANGE, QUEUE}),
    ),
    POLICY: KindSpec(POLICY, rank=50, units=_units("definition", dashed=False)),
    OPERATOR_POLICY: KindSpec(OPERATOR_POLICY, rank=55, units=_units("definition", dashed=False)),
    PERMISSION: PermissionKind(PERMISSION, rank=12),
    TOPIC_PERMISSION: PermissionKind(TOPIC_PERMISSION, rank=13),
    FEDERATION_UPSTREAM: ParameterKind(
        FEDERATION_UPSTREAM, rank=60, units={"expires": "ms", "message-ttl": "ms", "reconnect-delay": "s"}
    ),
    SHOVEL: ParameterKind(SHOVEL, rank=70, units={"reconnect-delay": "s"}),
}
