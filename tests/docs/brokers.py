"""State that a documented session starts from, made behind topoctl's back (as a person with the
management UI or `kafka-configs.sh` would), for the docs' hidden set-up blocks."""

from __future__ import annotations

import os
import time
from typing import Any

from tests.integration.rabbitmq_support import api, seg

KAFKA = os.environ.get("KAFKA_BOOTSTRAP", "127.0.0.1:9092")


def rabbitmq_queue(vhost: str, name: str, arguments: dict[str, Any], messages: int = 0) -> None:
    """Declare (the vhost and) a durable classic queue, again if it exists, holding `messages`
    messages; returns once the management API counts them, as a plan reads them from there."""
    with api() as rabbit:
        rabbit.put(f"/api/vhosts/{seg(vhost)}").raise_for_status()
        rabbit.delete(f"/api/queues/{seg(vhost)}/{seg(name)}")
        queue = {"durable": True, "arguments": arguments}
        rabbit.put(f"/api/queues/{seg(vhost)}/{seg(name)}", json=queue).raise_for_status()
        message = {"properties": {}, "routing_key": name, "payload": "x", "payload_encoding": "string"}
        for _ in range(messages):
            rabbit.post(f"/api/exchanges/{seg(vhost)}/amq.default/publish", json=message).raise_for_status()
        deadline = time.monotonic() + 30
        while rabbit.get(f"/api/queues/{seg(vhost)}/{seg(name)}").json().get("messages", 0) != messages:
            assert time.monotonic() < deadline, f"RabbitMQ never counted {messages} messages in {name}"
            time.sleep(0.5)


def kafka_topic_config(topic: str, key: str, value: str) -> None:
    """`kafka-configs.sh --alter --entity-type topics --entity-name TOPIC --add-config KEY=VALUE`."""
    from confluent_kafka.admin import (  # type: ignore[attr-defined]
        AdminClient,
        AlterConfigOpType,
        ConfigEntry,
        ConfigResource,
        ResourceType,
    )

    admin = AdminClient({"bootstrap.servers": KAFKA})
    entry = ConfigEntry(key, value, incremental_operation=AlterConfigOpType.SET)
    resource = ConfigResource(ResourceType.TOPIC, topic, incremental_configs=[entry])
    for future in admin.incremental_alter_configs([resource]).values():
        future.result()
    deadline = time.monotonic() + 30
    while True:  # until a describe (what a plan does) sees it
        described = admin.describe_configs([ConfigResource(ResourceType.TOPIC, topic)])
        entries = next(iter(described.values())).result()
        if entries.get(key) is not None and entries[key].value == value:
            return
        assert time.monotonic() < deadline, f"Kafka never showed {key}={value} on {topic}"
        time.sleep(0.5)
