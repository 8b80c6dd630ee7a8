"""Live state as the management API returns it -> observed resources. Pure, so unit-testable.

Inputs are the parsed bodies of a constant number of requests (see `LiveState`), never one per
object: a vhost's definitions (`GET /api/definitions/{vhost}`, when topoctl may export them) or
the listings. Only the bindings listing carries each binding's `properties_key`, which a delete
needs verbatim: when it was read, it is kept in the observed binding's `info` and a delete costs
no extra read; otherwise the delete looks it up.

System objects are left out here, so nothing downstream can touch them: the default exchange and
`amq.*` exchanges, server-named (`amq.*`) and exclusive queues, bindings from the default
exchange and bindings to a queue left out.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from topoctl.model import JSON, Address, Resource
from topoctl.providers import secrets
from topoctl.providers.rabbitmq import swap
from topoctl.providers.rabbitmq.kinds import (
    BINDING,
    DEFAULT_VHOST,
    EXCHANGE,
    QUEUE,
    SECRET_FIELDS,
    SHOVEL,
    VHOST,
    binding_address,
    destination_address,
    exchange_address,
    federation_upstream_address,
    operator_policy_address,
    permission_address,
    policy_address,
    queue_address,
    shovel_address,
    topic_permission_address,
    user_address,
    vhost_address,
)
from topoctl.providers.rabbitmq.users import HASHING_ALGORITHM, PASSWORD_HASH, tags_of
from topoctl.providers.rabbitmq.values import normalise_map

# Listing columns; keep them in step with what `observe` reads.
EXCHANGE_COLUMNS = "name,vhost,type,durable,auto_delete,internal,arguments"
BINDING_COLUMNS = "source,vhost,destination,destination_type,routing_key,arguments,properties_key"
POLICY_COLUMNS = "vhost,name,pattern,apply-to,priority,definition"
QUEUE_COLUMNS = "name,vhost,type,durable,auto_delete,exclusive,arguments,messages,consumers"
VHOST_COLUMNS = "name,description,tags"
PROPERTIES_KEY = "properties_key"  # in a binding's `info`: the broker's own key, used verbatim


@dataclass(frozen=True)
class LiveState:
    # Per vhost, queues, bindings and policies come from its definitions (rows given their vhost)
    # or from the listings named here; the exchanges always from their listing.
    exchanges: list[Mapping[str, Any]]  # GET /api/exchanges?columns=...: has `internal`
    queues: list[Mapping[str, Any]]  # GET /api/queues?columns=... (type, exclusive) or definitions
    vhosts: list[Mapping[str, Any]]  # GET /api/vhosts?columns=...: description, tags
    bindings: list[Mapping[str, Any]]  # GET /api/bindings?columns=...: has `properties_key` (not definitions)
    policies: list[Mapping[str, Any]]  # GET /api/policies
    # Read only when the manifest (or its prune scopes, or an export) needs them; None: not read.
    operator_policies: list[Mapping[str, Any]] | None = None  # GET /api/operator-policies
    users: list[Mapping[str, Any]] | None = None  # GET /api/users
    user_limits: list[Mapping[str, Any]] | None = None  # GET /api/user-limits
    vhost_limits: list[Mapping[str, Any]] | None = None  # GET /api/vhost-limits
    permissions: list[Mapping[str, Any]] | None = None  # GET /api/permissions
    topic_permissions: list[Mapping[str, Any]] | None = None  # GET /api/topic-permissions
    shovels: list[Mapping[str, Any]] | None = None  # GET /api/parameters/shovel
    federation_upstreams: list[Mapping[str, Any]] | None = None  # GET /api/parameters/federation-upstream


def is_system_exchange(name: str) -> bool:
    return name == "" or name.startswith("amq.")


def is_system_queue(row: Mapping[str, Any]) -> bool:
    """RabbitMQ's own, a client's own, or topoctl's own (a parking queue of a message move)."""
    name = str(row.get("name", ""))
    return name.startswith("amq.") or bool(row.get("exclusive")) or swap.is_parking_queue(name)


def system_object(address: Address) -> str | None:
    """Why the object at `address` is RabbitMQ's own and must never be deleted, or None.

    The compiler refuses such addresses and `observe` never reports them; prune scopes and the
    driver ask this too, for live state or a plan that names one anyway (a plan file edited by
    hand). A malformed address reads as empty parts, which errs on the side of refusing."""
    parts = (*address.name, "", "", "", "")
    vhost, name = parts[0], parts[1:]
    if address.kind == VHOST and vhost == DEFAULT_VHOST:
        return "the default vhost '/'"
    if address.kind == EXCHANGE and is_system_exchange(name[0]):
        return "the default exchange" if name[0] == "" else f"the built-in exchange {name[0]!r}"
    if address.kind == QUEUE and name[0].startswith("amq."):
        return f"the server-named queue {name[0]!r}"
    if address.kind == BINDING:
        source, destination_type, destination = name[0], name[1], name[2]
        if source == "":
            return "a binding of the default exchange"
        if destination_type == "queue" and destination.startswith("amq."):
            return f"a binding of the server-named queue {destination!r}"
    return None


def queue_type(row: Mapping[str, Any]) -> str:
    kind = row.get("type")
    if kind in ("classic", "quorum", "stream"):
        return str(kind)
    arguments = row.get("arguments") or {}
    return str(arguments.get("x-queue-type") or "classic")


def _arguments(row: Mapping[str, Any]) -> dict[str, JSON]:
    arguments = row.get("arguments") or {}
    if not isinstance(arguments, Mapping):
        return {}
    return normalise_map({k: v for k, v in arguments.items() if k != "x-queue-type"})


def queue_attrs(row: Mapping[str, Any]) -> dict[str, JSON]:
    """The attrs of a queue row (listing or definitions), in the compiler's form."""
    return {
        "type": queue_type(row),
        "durable": bool(row.get("durable")),
        "auto_delete": bool(row.get("auto_delete")),
        "arguments": _arguments(row),
    }


def exchange_attrs(row: Mapping[str, Any]) -> dict[str, JSON]:
    return {
        "type": row.get("type"),
        "durable": bool(row.get("durable")),
        "auto_delete": bool(row.get("auto_delete")),
        "internal": bool(row.get("internal")),
        "arguments": _arguments(row),
    }


def observe(broker: str, live: LiveState) -> list[Resource]:
    return list(_observe(broker, live))


def _observe(broker: str, live: LiveState) -> Iterator[Resource]:
    system_queues = {(q["vhost"], q["name"]) for q in live.queues if is_system_queue(q)}
    bindings = [
        b
        for b in live.bindings
        if b.get("source")
        and not (b.get("destination_type") == "queue" and (b["vhost"], b["destination"]) in system_queues)
        and not str(b.get("destination", "")).startswith("amq.gen-")
    ]
    per_exchange: Counter[tuple[str, str]] = Counter()
    for b in bindings:
        per_exchange[(b["vhost"], b["source"])] += 1
        if b.get("destination_type") == "exchange":
            per_exchange[(b["vhost"], b["destination"])] += 1
    queues_in: Counter[str] = Counter()
    messages_in: Counter[str] = Counter()
    # Queues whose dead letters go to an exchange: deleting it silently drops them.
    dead_letter_to: dict[tuple[str, str], list[str]] = defaultdict(list)

    parked = {
        (q["vhost"], str(q["name"])[len(swap.PARKING_PREFIX) :]): q
        for q in live.queues
        if swap.is_parking_queue(str(q.get("name", "")))
    }
    for row in live.queues:
        if is_system_queue(row):
            continue
        vhost, name = row["vhost"], row["name"]
        queues_in[vhost] += 1
        info: dict[str, JSON] = {}
        parking = parked.get((vhost, name))
        if parking is not None:  # a move of its messages that a failed apply left unfinished
            info[swap.PARKED] = {"queue": parking["name"], "messages": parking.get("messages")}
        for key in ("messages", "consumers"):
            if isinstance(row.get(key), int):
                info[key] = row[key]
        messages_in[vhost] += int(info.get("messages", 0))
        dlx = (row.get("arguments") or {}).get("x-dead-letter-exchange")
        if isinstance(dlx, str) and dlx:
            dead_letter_to[(vhost, dlx)].append(name)
        yield Resource(queue_address(broker, vhost, name), queue_attrs(row), (vhost_address(broker, vhost),), info=info)

    for row in live.exchanges:
        vhost, name = row["vhost"], row["name"]
        if is_system_exchange(name):
            continue
        info = {"bindings": per_exchange[(vhost, name)]}
        if (vhost, name) in dead_letter_to:
            info["dead_letter_queues"] = sorted(dead_letter_to[(vhost, name)])
        yield Resource(
            exchange_address(broker, vhost, name), exchange_attrs(row), (vhost_address(broker, vhost),), info=info
        )

    for b in bindings:
        yield binding_of(broker, b)

    for p in live.policies:
        vhost = p["vhost"]
        attrs: dict[str, JSON] = {
            "pattern": p.get("pattern"),
            "apply_to": p.get("apply-to", "all"),
            "priority": p.get("priority", 0),
            "definition": normalise_map(p.get("definition") or {}),
        }
        yield Resource(policy_address(broker, vhost, p["name"]), attrs, (vhost_address(broker, vhost),))

    vhost_limits = _limits(live.vhost_limits, "vhost")
    for v in live.vhosts:
        name = v["name"]
        attrs = {"description": v.get("description") or "", "tags": sorted(set(v.get("tags") or []))}
        if vhost_limits is not None:
            attrs["limits"] = vhost_limits.get(name, {})
        info = {"queues": queues_in[name], "messages": messages_in[name]}
        yield Resource(vhost_address(broker, name), attrs, info=info)

    yield from _estate(broker, live)


def with_counts(observed: Sequence[Resource], messages: Mapping[tuple[str, str], int]) -> list[Resource]:
    """`observed` with the message counts of queues (by vhost and name) read after the listing:
    in each of those queues' `info`, in a parked move's, and summed in their vhost's."""
    if not messages:
        return list(observed)
    per_vhost: Counter[str] = Counter()
    for (vhost, _), count in messages.items():
        per_vhost[vhost] += count
    out = []
    for r in observed:
        if r.kind == QUEUE:
            info = dict(r.info)
            key = (r.address.name[0], r.address.name[1])
            if key in messages:
                info["messages"] = messages[key]
            parked = info.get(swap.PARKED)
            if isinstance(parked, Mapping) and (key[0], str(parked.get("queue"))) in messages:
                info[swap.PARKED] = {**parked, "messages": messages[(key[0], str(parked.get("queue")))]}
            r = replace(r, info=info)
        elif r.kind == VHOST and r.address.name[0] in per_vhost:
            r = replace(r, info={**r.info, "messages": per_vhost[r.address.name[0]]})
        out.append(r)
    return out


def _limits(rows: list[Mapping[str, Any]] | None, owner: str) -> dict[str, dict[str, JSON]] | None:
    """`[{"vhost": v, "value": {...}}]` -> {v: {...}}; an emptied limit set reads `"value": []`."""
    if rows is None:
        return None
    return {str(r[owner]): dict(r["value"]) if isinstance(r.get("value"), Mapping) else {} for r in rows}


def _estate(broker: str, live: LiveState) -> Iterator[Resource]:
    """Operator policies, users, permissions, shovels and federation upstreams (when read)."""
    for p in live.operator_policies or ():
        vhost = p["vhost"]
        attrs: dict[str, JSON] = {
            "pattern": p.get("pattern"),
            "apply_to": p.get("apply-to", "all"),
            "priority": p.get("priority", 0),
            "definition": normalise_map(p.get("definition") or {}),
        }
        yield Resource(operator_policy_address(broker, vhost, p["name"]), attrs, (vhost_address(broker, vhost),))

    user_limits = _limits(live.user_limits, "user")
    for u in live.users or ():
        name = str(u["name"])
        stored = str(u.get("password_hash") or "")
        attrs = {"password": secrets.SENSITIVE if stored else secrets.NO_PASSWORD, "tags": tags_of(u.get("tags"))}
        if user_limits is not None:
            attrs["limits"] = user_limits.get(name, {})
        info: dict[str, JSON] = {PASSWORD_HASH: stored, HASHING_ALGORITHM: str(u.get("hashing_algorithm") or "")}
        yield Resource(user_address(broker, name), attrs, info=info)

    for p in live.permissions or ():
        vhost, user = p["vhost"], p["user"]
        attrs = {k: p.get(k, "") for k in ("configure", "write", "read")}
        depends = (vhost_address(broker, vhost), user_address(broker, user))
        yield Resource(permission_address(broker, vhost, user), attrs, depends)

    for p in live.topic_permissions or ():
        vhost, user = p["vhost"], p["user"]
        attrs = {k: p.get(k, "") for k in ("write", "read")}
        depends = (vhost_address(broker, vhost), user_address(broker, user))
        yield Resource(topic_permission_address(broker, vhost, user, p["exchange"]), attrs, depends)

    for kind, rows, address in (
        (SHOVEL, live.shovels, shovel_address),
        ("federation_upstream", live.federation_upstreams, federation_upstream_address),
    ):
        for row in rows or ():
            vhost, name = row["vhost"], str(row["name"])
            if kind == SHOVEL and name.startswith(swap.SHOVEL_PREFIX):
                continue  # a message move's own, gone when the move is done
            yield _parameter(address(broker, vhost, name), row.get("value"), SECRET_FIELDS[kind])


def _parameter(address: Address, value: Any, secret_fields: frozenset[str]) -> Resource:
    """A runtime parameter's value -> attrs with its URIs masked; the plain ones go in `info`, to be
    compared with the declared ones (see topoctl.providers.secrets) and to be scrubbed from errors."""
    attrs: dict[str, JSON] = {}
    plain: dict[str, JSON] = {}
    for key, v in (value if isinstance(value, Mapping) else {}).items():
        if key in secret_fields:
            attrs[key] = secrets.mask_uris(v)
            plain[key] = v
        else:
            attrs[key] = v
    info: dict[str, JSON] = {secrets.SECRETS: plain} if plain else {}
    return Resource(address, attrs, (vhost_address(address.broker, address.name[0]),), info=info)


def binding_of(broker: str, b: Mapping[str, Any]) -> Resource:
    vhost, source, destination = b["vhost"], b["source"], b["destination"]
    destination_type = "exchange" if b.get("destination_type") == "exchange" else "queue"
    routing_key = b.get("routing_key") or ""
    arguments: dict[str, JSON] = dict(b.get("arguments") or {})
    attrs: dict[str, JSON] = {
        "source": source,
        "destination": destination,
        "destination_type": destination_type,
        "routing_key": routing_key,
        "arguments": arguments,
    }
    # What a delete or replace of these must take with it (the engine recreates bindings of a
    # replaced queue or exchange from this).
    depends_on: list[Address] = [vhost_address(broker, vhost)]
    if not is_system_exchange(source):
        depends_on.append(exchange_address(broker, vhost, source))
    if not (destination_type == "exchange" and is_system_exchange(destination)):
        depends_on.append(destination_address(broker, vhost, destination_type, destination))
    address = binding_address(broker, vhost, source, destination_type, destination, routing_key, arguments)
    key = b.get("properties_key")
    info: dict[str, JSON] = {PROPERTIES_KEY: key} if isinstance(key, str) else {}
    return Resource(address, attrs, tuple(depends_on), info=info)
