"""Resource attrs -> management API paths and bodies, one place for both single and bulk writes."""

from __future__ import annotations

from collections.abc import Mapping

from topoctl.model import JSON, Address
from topoctl.providers.rabbitmq.client import seg
from topoctl.providers.rabbitmq.kinds import BINDING, EXCHANGE, PERMISSION, POLICY, QUEUE, TOPIC_PERMISSION, USER, VHOST


def vhost_of(address: Address) -> str:
    return address.name[0]


def object_path(address: Address) -> str:
    """The URL path of a vhost, exchange, queue or policy (bindings have no single path)."""
    vhost = seg(vhost_of(address))
    if address.kind == VHOST:
        return f"/api/vhosts/{vhost}"
    collection = {EXCHANGE: "exchanges", QUEUE: "queues", POLICY: "policies"}[address.kind]
    return f"/api/{collection}/{vhost}/{seg(address.name[1])}"


def binding_path(vhost: str, attrs: Mapping[str, JSON]) -> str:
    kind = "e" if attrs.get("destination_type") == "exchange" else "q"
    return f"/api/bindings/{seg(vhost)}/e/{seg(str(attrs['source']))}/{kind}/{seg(str(attrs['destination']))}"


def describe(address: Address) -> str:
    """How messages name an object: `queue 'billing' in vhost 'shop'`."""
    vhost = vhost_of(address)
    if address.kind == VHOST:
        return f"vhost {vhost!r}"
    if address.kind == BINDING:
        _, source, dtype, destination, key, _ = address.name
        return f"binding {source!r} -> {dtype} {destination!r} (routing key {key!r}) in vhost {vhost!r}"
    if address.kind == USER:
        return f"user {vhost!r}"
    if address.kind == PERMISSION:
        return f"the permissions of user {address.name[1]!r} in vhost {vhost!r}"
    if address.kind == TOPIC_PERMISSION:
        _, user, exchange = address.name
        return f"the topic permission of user {user!r} on exchange {exchange!r} in vhost {vhost!r}"
    return f"{address.kind.replace('_', ' ')} {address.name[1]!r} in vhost {vhost!r}"


def exchange_body(attrs: Mapping[str, JSON]) -> dict[str, JSON]:
    return {
        "type": attrs.get("type", "direct"),
        "durable": attrs.get("durable", True),
        "auto_delete": attrs.get("auto_delete", False),
        "internal": attrs.get("internal", False),
        "arguments": dict(attrs.get("arguments") or {}),
    }


def queue_body(attrs: Mapping[str, JSON]) -> dict[str, JSON]:
    arguments = dict(attrs.get("arguments") or {})
    arguments["x-queue-type"] = attrs.get("type", "classic")
    return {
        "durable": attrs.get("durable", True),
        "auto_delete": attrs.get("auto_delete", False),
        "arguments": arguments,
    }


def binding_body(attrs: Mapping[str, JSON]) -> dict[str, JSON]:
    return {"routing_key": attrs.get("routing_key", ""), "arguments": dict(attrs.get("arguments") or {})}


def policy_body(attrs: Mapping[str, JSON]) -> dict[str, JSON]:
    return {
        "pattern": attrs["pattern"],
        "apply-to": attrs.get("apply_to", "all"),
        "priority": attrs.get("priority", 0),
        "definition": dict(attrs.get("definition") or {}),
    }


def vhost_body(attrs: Mapping[str, JSON]) -> dict[str, JSON]:
    body: dict[str, JSON] = {}
    if "description" in attrs:
        body["description"] = attrs["description"]
    if "tags" in attrs:
        body["tags"] = list(attrs["tags"] or [])
    return body


def definitions_entry(address: Address, attrs: Mapping[str, JSON]) -> tuple[str, dict[str, JSON]]:
    """(section, entry) of a per-vhost definitions import (`POST /api/definitions/{vhost}`)."""
    if address.kind == EXCHANGE:
        return "exchanges", {"name": address.name[1], **exchange_body(attrs)}
    if address.kind == QUEUE:
        return "queues", {"name": address.name[1], **queue_body(attrs)}
    if address.kind == BINDING:
        return "bindings", {
            "source": attrs["source"],
            "destination": attrs["destination"],
            "destination_type": attrs.get("destination_type", "queue"),
            **binding_body(attrs),
        }
    raise ValueError(f"{address.kind} cannot be imported as a definition")
