"""Client quotas: entities, their quota keys and values, both ways. Pure.

A quota belongs to an entity: a user, a client id, a user and client id together, or an IP
address; `<default>` names the default entity of its type (the quota of every user, client or IP
without one of its own). The entity is the identity (the address: `events/quota/user/alice/
client-id/billing`), its values are the attributes, and the values of a declared entity are
diffed as a set: a live value the manifest does not declare is removed, like an ACL that is not
declared any more.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from topoctl.manifest.source import Context
from topoctl.model import JSON, Address
from topoctl.units import parse_size

KIND = "quota"
DEFAULT = "<default>"  # Kafka's own spelling of a default entity (`kafka-configs --describe`)
USER, CLIENT, IP = "user", "client-id", "ip"
# Kafka's quota config names (ClientQuotaEntity / QuotaConfig), verbatim.
CLIENT_KEYS = ("producer_byte_rate", "consumer_byte_rate", "request_percentage", "controller_mutation_rate")
IP_KEYS = ("connection_creation_rate",)
BYTE_RATES = frozenset({"producer_byte_rate", "consumer_byte_rate"})
# Kafka's QuotaConfig types: the byte rates are LONG, connection_creation_rate INT, the rest DOUBLE.
WHOLE = BYTE_RATES | {"connection_creation_rate"}
ENTITY_TYPES = (USER, CLIENT, IP)

Entity = tuple[tuple[str, str | None], ...]  # ((type, name, or None for the default), ...)


def entity_of(spec: object, ctx: Context) -> Entity:
    """`{user: alice, client-id: billing}` -> (("user", "alice"), ("client-id", "billing"))."""
    mapping = ctx.mapping(spec)
    unknown = sorted(str(k) for k in mapping if k not in ENTITY_TYPES)
    if unknown:
        raise ctx.error(f"unknown entity type {unknown[0]!r}: use user, client-id (or both), or ip")
    if not mapping:
        raise ctx.error("a quota entity needs user, client-id (or both), or ip")
    if IP in mapping and len(mapping) > 1:
        raise ctx.error("an ip quota entity stands alone (no user or client-id with it)")
    parts: list[tuple[str, str | None]] = []
    for kind in ENTITY_TYPES:
        if kind not in mapping:
            continue
        name = mapping[kind]
        if not isinstance(name, str) or not name:
            raise ctx.at(kind).error(f"{kind} must be a name, or {DEFAULT!r} for the default {kind}")
        parts.append((kind, None if name == DEFAULT else name))
    return tuple(parts)


def address(broker: str, entity: Entity) -> Address:
    parts = (part for kind, name in entity for part in (kind, DEFAULT if name is None else name))
    return Address(broker, KIND, tuple(parts))


def entity_from_address(addr: Address) -> Entity:
    parts = addr.name
    return tuple((parts[i], None if parts[i + 1] == DEFAULT else parts[i + 1]) for i in range(0, len(parts), 2))


def entity_json(entity: Entity) -> dict[str, str]:
    """The manifest's spelling of an entity (for export)."""
    return {kind: DEFAULT if name is None else name for kind, name in entity}


def keys_for(entity: Entity) -> tuple[str, ...]:
    return IP_KEYS if entity and entity[0][0] == IP else CLIENT_KEYS


def values_of(spec: Mapping[str, Any], entity: Entity, ctx: Context) -> dict[str, JSON]:
    """The declared quota values, canonical (see `canonical`)."""
    allowed = keys_for(entity)
    out: dict[str, JSON] = {}
    for key, raw in spec.items():
        if key in ("entity", "state"):
            continue
        key = str(key)
        if key not in allowed:
            other = CLIENT_KEYS if allowed is IP_KEYS else IP_KEYS
            what = "an ip entity" if allowed is IP_KEYS else "a user or client-id entity"
            hint = f" ({key} is for {'ip' if key in IP_KEYS else 'user/client-id'} entities)" if key in other else ""
            raise ctx.at(key).error(f"{key!r} is not a quota of {what}: use {', '.join(allowed)}{hint}")
        try:
            out[key] = canonical(key, raw)
        except ValueError as exc:
            raise ctx.at(key).error(f"{key}: {exc}") from None
    if not out:
        raise ctx.error(f"a quota needs at least one of: {', '.join(allowed)}")
    return out


def canonical(key: str, value: object) -> int | float:
    """Kafka keeps quotas as doubles: a whole number compares as an int (`1048576` and
    `1048576.0` and `1MiB` for a byte rate are one value), anything else as a float."""
    if isinstance(value, bool) or value is None:
        raise ValueError(f"expected a number, got {value!r}")
    if isinstance(value, str):
        text = value.strip()
        try:
            number: float = float(text)
        except ValueError:
            if key not in BYTE_RATES:
                raise ValueError(f"expected a number, got {value!r}") from None
            number = parse_size(text)  # `1MiB` (bytes per second)
    elif isinstance(value, (int, float)):
        number = float(value)
    else:
        raise ValueError(f"expected a number, got {value!r}")
    if number != number or number in (float("inf"), float("-inf")) or number <= 0:
        raise ValueError(f"must be a positive number, got {value!r}")
    if key in WHOLE and not float(number).is_integer():
        raise ValueError(f"must be a whole number (Kafka keeps it as an integer), got {value!r}")
    return int(number) if float(number).is_integer() else float(number)
