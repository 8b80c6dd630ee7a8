"""`topoctl graph` for RabbitMQ: bindings route messages from an exchange to a queue or exchange,
and a queue with a dead-letter exchange sends its failed messages there."""

from __future__ import annotations

from collections.abc import Sequence

from topoctl.model import Resource
from topoctl.providers.base import Flow
from topoctl.providers.rabbitmq.kinds import BINDING, QUEUE, destination_address, exchange_address


def flows(desired: Sequence[Resource]) -> list[Flow]:
    out: list[Flow] = []
    for resource in desired:
        if resource.absent:
            continue
        vhost = resource.address.name[0]
        attrs = resource.attrs
        if resource.kind == BINDING:
            source = exchange_address(resource.broker, vhost, str(attrs["source"]))
            target = destination_address(
                resource.broker, vhost, str(attrs["destination_type"]), str(attrs["destination"])
            )
            out.append(Flow(source, target, label=str(attrs.get("routing_key") or "")))
        elif resource.kind == QUEUE:
            arguments = attrs.get("arguments") or {}
            dlx = arguments.get("x-dead-letter-exchange")
            if isinstance(dlx, str) and dlx:
                target = exchange_address(resource.broker, vhost, dlx)
                key = arguments.get("x-dead-letter-routing-key")
                label = f"dead letters ({key})" if key else "dead letters"
                out.append(Flow(resource.address, target, label=label, dead_letter=True))
    return out
