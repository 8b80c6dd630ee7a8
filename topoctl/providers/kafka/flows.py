"""`topoctl graph` for Kafka: a topic's messages that fail go to its dead-letter topic."""

from __future__ import annotations

from collections.abc import Sequence

from topoctl.model import Address, Resource
from topoctl.providers.base import Flow
from topoctl.providers.kafka.kinds import TOPIC

# Every topic carries messages, so every topic is drawn, with or without a dead-letter topic.
NODE_KINDS = frozenset({TOPIC})


def flows(desired: Sequence[Resource]) -> list[Flow]:
    out: list[Flow] = []
    for resource in desired:
        sources = resource.info.get("dead_letter_of") if resource.kind == TOPIC else None
        if not isinstance(sources, list) or resource.absent:
            continue
        # Several topics may share one dead-letter topic: one edge from each.
        for source in sources:
            origin = Address(resource.broker, TOPIC, (str(source),))
            out.append(Flow(origin, resource.address, label="dead letters", dead_letter=True))
    return out
