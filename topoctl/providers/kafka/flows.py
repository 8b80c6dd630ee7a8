"""`topoctl graph` for Kafka: a topic's messages that fail go to its dead-letter topic, and a topic's
records are described by its schema-registry subjects.

A topic's subjects are those TopicNameStrategy names (`<topic>-value`, `<topic>-key`) when the topic
is declared, and those that name it (`topics:`). A dead-letter topic holds its sources' records
unchanged, schema ids included, so it shares their subjects: an edge from it to each of them.
"""

from __future__ import annotations

from collections.abc import Sequence

from topoctl.model import Address, Resource
from topoctl.providers.base import Flow
from topoctl.providers.kafka.kinds import SUBJECT, TOPIC
from topoctl.providers.kafka.subjects import TOPICS, topics_of

# Every topic carries messages, so every topic is drawn, with or without a dead-letter topic;
# every subject too, linked or not.
NODE_KINDS = frozenset({TOPIC, SUBJECT})
SCHEMA = "schema"


def flows(desired: Sequence[Resource]) -> list[Flow]:
    out: list[Flow] = []
    topics = {r.address.name[0]: r for r in desired if r.kind == TOPIC and not r.absent}
    schemas: dict[str, list[Address]] = {}  # topic -> its subjects
    for resource in desired:
        if resource.kind != SUBJECT or resource.absent:
            continue
        named = bool(resource.info.get(TOPICS))
        for topic in topics_of(resource):
            if named or topic in topics:
                schemas.setdefault(topic, []).append(resource.address)
    for topic, subjects in schemas.items():
        origin = Address(subjects[0].broker, TOPIC, (topic,))
        out += [Flow(origin, subject, label=SCHEMA) for subject in subjects]
    for resource in topics.values():
        sources = resource.info.get("dead_letter_of")
        if not isinstance(sources, list):
            continue
        # Several topics may share one dead-letter topic: one edge from each.
        for source in sources:
            origin = Address(resource.broker, TOPIC, (str(source),))
            out.append(Flow(origin, resource.address, label="dead letters", dead_letter=True))
            if resource.address.name[0] in schemas:
                continue  # it has subjects of its own
            label = f"schema (dead letters of {source})"
            out += [Flow(resource.address, subject, label=label) for subject in schemas.get(str(source), ())]
    return out
