"""`topoctl graph` for Service Bus: topic -> subscription (labelled with its rules), queue or
subscription -> the entity it forwards to, and the dead-letter edges: to the entity dead letters
are forwarded to, or to the entity's own dead-letter sub-queue (`<entity>/$DeadLetterQueue`) when
the manifest turns dead-lettering on without forwarding.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from topoctl.model import JSON, Address, Resource
from topoctl.providers.azure_servicebus.kinds import QUEUE, RULE, SUBSCRIPTION, TOPIC
from topoctl.providers.base import Flow

NODE_KINDS = frozenset({QUEUE, TOPIC, SUBSCRIPTION})
DEAD_LETTER_QUEUE = "dead_letter_queue"
DLQ_SUFFIX = "$DeadLetterQueue"
MAX_LABEL = 60


def flows(desired: Sequence[Resource]) -> list[Flow]:
    entities = {r.address.name[0].lower(): r.address for r in desired if r.kind in (QUEUE, TOPIC)}
    rules: dict[tuple[str, ...], list[Resource]] = {}
    for r in desired:
        if r.kind == RULE:
            rules.setdefault(r.address.name[:2], []).append(r)
    out: list[Flow] = []
    for r in desired:
        if r.kind == SUBSCRIPTION:
            topic = Address(r.broker, TOPIC, (r.address.name[0],))
            out.append(Flow(topic, r.address, _rules_label(rules.get(r.address.name, []))))
        if r.kind not in (QUEUE, SUBSCRIPTION):
            continue
        target = _target(r.broker, r.attrs.get("forward_to"), entities)
        if target is not None:
            out.append(Flow(r.address, target, "forwards"))
        out += _dead_letters(r, entities)
    return out


def _target(broker: str, name: JSON, entities: Mapping[str, Address]) -> Address | None:
    if not isinstance(name, str) or not name:
        return None
    # Elsewhere (not declared, or another namespace): still drawn, as a node of its own.
    return entities.get(name.lower(), Address(broker, "entity", (name,)))


def _dead_letters(r: Resource, entities: Mapping[str, Address]) -> list[Flow]:
    count = r.attrs.get("max_delivery_count")
    label = f"dead letters after {count} deliveries" if isinstance(count, int) else "dead letters"
    if r.attrs.get("dead_lettering_on_message_expiration"):
        label += " and expired messages"
    target = _target(r.broker, r.attrs.get("forward_dead_lettered_messages_to"), entities)
    if target is not None:
        return [Flow(r.address, target, label, dead_letter=True)]
    if "max_delivery_count" in r.attrs or r.attrs.get("dead_lettering_on_message_expiration"):
        dlq = Address(r.broker, DEAD_LETTER_QUEUE, (*r.address.name, DLQ_SUFFIX))
        return [Flow(r.address, dlq, label, dead_letter=True)]
    return []


def _rules_label(rules: Sequence[Resource]) -> str:
    """`type = 'created'`, `label=order; region=eu`, or `2 rules`: what lets messages in."""
    kept = [r for r in rules if not r.absent]
    if not kept:
        return "no rule: nothing passes"
    if len(kept) > 1:
        return f"{len(kept)} rules"
    attrs = kept[0].attrs
    if not attrs or attrs.get("filter") is True:
        return ""  # everything passes
    if attrs.get("filter") is False:
        return "nothing passes"
    if isinstance(attrs.get("sql_filter"), str):
        text = str(attrs["sql_filter"])
    else:
        cf = attrs.get("correlation_filter")
        parts: list[str] = []
        if isinstance(cf, Mapping):
            parts = [f"{k}={x}" for k, x in cf.items() if k != "properties"]
            props = cf.get("properties")
            if isinstance(props, Mapping):
                parts += [f"{k}={x}" for k, x in props.items()]
        text = "; ".join(parts)
    return text if len(text) <= MAX_LABEL else text[: MAX_LABEL - 3] + "..."


__all__ = ["DEAD_LETTER_QUEUE", "NODE_KINDS", "flows"]
