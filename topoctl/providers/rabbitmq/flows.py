"""`topoctl graph` for RabbitMQ: exchange -(binding)-> queue or exchange, queue -(dead letters)->
its dead-letter exchange, exchange -(unroutable)-> its alternate exchange.

Dead-lettering is read from the queue's `x-dead-letter-exchange` argument (what `dead_letter:`
compiles to) or, failing that, from the one policy that applies to the queue: the matching policy
of highest priority, as RabbitMQ picks it.

Links: a shovel moves messages from its source queue or exchange to its destination; a federation
upstream feeds the exchanges and queues whose policy federates from it. An end on another broker
(a URI with a host) is drawn under that host (`amqp://dc2:5672`, no credentials); an end on this
one (`amqp://`, `amqp:///vhost`) is the queue or exchange itself.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from topoctl.model import JSON, Address, Resource
from topoctl.providers import secrets
from topoctl.providers.base import Flow
from topoctl.providers.rabbitmq.kinds import (
    BINDING,
    EXCHANGE,
    FEDERATION_UPSTREAM,
    QUEUE,
    SHOVEL,
    destination_address,
    exchange_address,
)
from topoctl.providers.rabbitmq.links import endpoints, local_vhost, remote, upstreams_of
from topoctl.providers.rabbitmq.policies import Policy, applying, policies_of

# What the graph draws as nodes; vhosts and policies shape the flow but carry no messages.
NODE_KINDS = frozenset({EXCHANGE, QUEUE})
DEAD_LETTERS = "dead letters"


def flows(desired: Sequence[Resource]) -> list[Flow]:
    out: list[Flow] = []
    policies = policies_of(desired)
    for r in desired:
        if r.kind == BINDING:
            out.append(_binding(r))
        elif r.kind == QUEUE:
            out += _dead_letter(r, policies)
        elif r.kind == EXCHANGE:
            out += _alternate(r, policies)
        elif r.kind == SHOVEL:
            out += _shovel(r)
    return out + _federation(desired, policies)


def _end(broker: str, kind: str, vhost: str | None, name: str, uri: str | None) -> Address:
    """The queue or exchange at one end of a link: on this broker (`vhost` known), or on the
    broker a remote URI names, drawn under its scheme, host and port (never its credentials)."""
    if vhost is not None:
        return Address(broker, kind, (vhost, name))
    host, far_vhost = remote(uri or "")
    return Address(host, kind, (far_vhost, name))


def _first_uri(r: Resource, key: str) -> str | None:
    value = secrets.declared(r).get(key, r.attrs.get(key))
    if isinstance(value, list):
        value = value[0] if value else None
    return value if isinstance(value, str) else None


def _shovel(r: Resource) -> list[Flow]:
    ends = {side: (kind, vhost, name) for side, kind, vhost, name in endpoints(r)}
    if "src" not in ends or "dest" not in ends:
        return []  # AMQP 1.0 addresses: not drawn
    src = _end(r.broker, *ends["src"], _first_uri(r, "src-uri"))
    dest = _end(r.broker, *ends["dest"], _first_uri(r, "dest-uri"))
    return [Flow(src, dest, f"shovel {r.address.name[1]}")]


def _federation(desired: Sequence[Resource], policies: Sequence[Policy]) -> list[Flow]:
    upstreams = {(r.address.name[0], r.address.name[1]): r for r in desired if r.kind == FEDERATION_UPSTREAM}
    if not upstreams:
        return []
    out = []
    for r in desired:
        if r.kind not in (EXCHANGE, QUEUE):
            continue
        vhost, name = r.address.name
        policy = applying([p for p in policies if p.resource.broker == r.broker], r.kind, vhost, name)
        if policy is None:
            continue
        available = [u for v, u in upstreams if v == vhost]
        for upstream in upstreams_of(policy.definition, available) or ():
            up = upstreams.get((vhost, upstream))
            if up is None:
                continue
            uri = _first_uri(up, "uri")
            far = str(up.attrs.get("exchange" if r.kind == EXCHANGE else "queue") or name)
            source = _end(r.broker, r.kind, local_vhost(uri) if uri else None, far, uri)
            out.append(Flow(source, r.address, f"federation {upstream}"))
    return out


def _alternate(exchange: Resource, policies: Sequence[Policy]) -> list[Flow]:
    """The exchange's `alternate-exchange` argument or, failing that, its policy's (argument wins)."""
    vhost, name = exchange.address.name
    alternate = _arguments(exchange).get("alternate-exchange")
    label = "unroutable"
    if alternate is None:
        policy = applying([p for p in policies if p.resource.broker == exchange.broker], EXCHANGE, vhost, name)
        if policy is not None:
            alternate = policy.definition.get("alternate-exchange")
            label = f"unroutable (policy {policy.name})"
    if not isinstance(alternate, str) or not alternate:
        return []
    return [Flow(exchange.address, exchange_address(exchange.broker, vhost, alternate), label)]


def _arguments(r: Resource) -> Mapping[str, JSON]:
    arguments = r.attrs.get("arguments")
    return arguments if isinstance(arguments, Mapping) else {}


def _binding(r: Resource) -> Flow:
    a = r.attrs
    vhost = r.address.name[0]
    source = exchange_address(r.broker, vhost, str(a["source"]))
    target = destination_address(r.broker, vhost, str(a.get("destination_type", "queue")), str(a["destination"]))
    label = str(a.get("routing_key") or "")
    arguments = a.get("arguments")
    if isinstance(arguments, Mapping) and arguments:  # headers bindings route on arguments, not keys
        label = " ".join(filter(None, [label, ", ".join(f"{k}={v}" for k, v in sorted(arguments.items()))]))
    return Flow(source, target, label)


def _dead_letter(queue: Resource, policies: Sequence[Policy]) -> list[Flow]:
    vhost, name = queue.address.name
    arguments = _arguments(queue)
    dlx = arguments.get("x-dead-letter-exchange")
    key = arguments.get("x-dead-letter-routing-key")
    label = DEAD_LETTERS
    if dlx is None:
        policy = applying([p for p in policies if p.resource.broker == queue.broker], QUEUE, vhost, name)
        if policy is not None:
            definition = policy.definition
            dlx = definition.get("dead-letter-exchange")
            key = definition.get("dead-letter-routing-key")
            label = f"{DEAD_LETTERS} (policy {policy.name})"
    if not isinstance(dlx, str):
        return []
    if key:
        label += f", key {key}"
    # An empty DLX name is the default exchange, which delivers to the queue named by the key.
    if dlx == "" and isinstance(key, str):
        return [Flow(queue.address, Address(queue.broker, QUEUE, (vhost, key)), label, dead_letter=True)]
    if dlx == "":
        return []
    return [Flow(queue.address, exchange_address(queue.broker, vhost, dlx), label, dead_letter=True)]
