"""`topoctl asyncapi`: an AsyncAPI 3.0.0 document of the manifest, valid against the official schema
(npm `@asyncapi/specs` 6.11.1, vendored in tests/schemas/), with each protocol's bindings, and no
secrets. Offline."""

from __future__ import annotations

import hashlib
import json
import textwrap
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from tests.cli import topoctl

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = ROOT / "tests" / "schemas" / "asyncapi-3.0.0.json"


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft7Validator:
    return jsonschema.Draft7Validator(json.loads(SCHEMA.read_text(encoding="utf-8")))


def errors(validator: jsonschema.Draft7Validator, document: dict[str, Any]) -> list[str]:
    return [f"{e.message[:200]} at {list(e.absolute_path)}" for e in validator.iter_errors(document)]


def exported(*args: str | Path) -> dict[str, Any]:
    result = topoctl("asyncapi", *args, "--format", "json")
    assert result.code == 0, str(result)
    return dict(result.json)


def test_the_schema_is_the_vendored_file() -> None:
    digest = hashlib.sha256(SCHEMA.read_bytes()).hexdigest()
    assert digest == "abe96881dbfaad495ccbb6bd8d3fb43ca18a13b9d7564849ccb66f39d5e5b20f"


def test_the_examples_are_a_valid_asyncapi_3_document(validator: jsonschema.Draft7Validator) -> None:
    document = exported("-f", ROOT / "examples")
    assert document["asyncapi"] == "3.0.0"
    assert errors(validator, document) == []
    protocols = {s["protocol"] for s in document["servers"].values()}
    assert protocols == {"amqp", "kafka", "nats", "sqs", "sns", "redis"}
    # Every operation points at a channel that exists, every channel at a server that exists.
    for operation in document["operations"].values():
        assert operation["channel"]["$ref"].removeprefix("#/channels/") in document["channels"]
    for channel in document["channels"].values():
        for server in channel["servers"]:
            assert server["$ref"].removeprefix("#/servers/") in document["servers"]


def by_address(document: dict[str, Any], address: str, protocol: str) -> dict[str, Any]:
    found = [c for c in document["channels"].values() if c["address"] == address and protocol in c.get("bindings", {})]
    assert len(found) == 1, (address, protocol)
    return dict(found[0]["bindings"][protocol])


def operations_on(document: dict[str, Any], channel_address: str) -> list[dict[str, Any]]:
    ids = {cid for cid, c in document["channels"].items() if c["address"] == channel_address}
    return [o for o in document["operations"].values() if o["channel"]["$ref"].removeprefix("#/channels/") in ids]


def test_each_protocol_has_its_bindings() -> None:
    document = exported("-f", ROOT / "examples")
    amqp_exchange = by_address(document, "shop.orders", "amqp")
    assert amqp_exchange == {
        "is": "routingKey",
        "exchange": {"name": "shop.orders", "durable": True, "type": "topic", "autoDelete": False, "vhost": "shop"},
        "bindingVersion": "0.3.0",
    }
    amqp_queue = by_address(document, "shop.billing", "amqp")
    assert amqp_queue["is"] == "queue" and amqp_queue["queue"]["vhost"] == "shop"
    assert [o["action"] for o in operations_on(document, "shop.billing")] == ["receive"]
    kafka = by_address(document, "shop.orders.v1", "kafka")
    assert kafka["partitions"] == 6 and kafka["replicas"] == 1
    assert kafka["topicConfiguration"] == {
        "retention.ms": 604800000,
        "cleanup.policy": ["delete"],
        "max.message.bytes": 1048576,
    }
    assert sorted(o["action"] for o in operations_on(document, "shop.orders.v1")) == ["receive", "send"]
    sqs = by_address(document, "shop-billing", "sqs")
    assert sqs["queue"]["redrivePolicy"] == {"deadLetterQueue": {"name": "shop-billing-dlq"}, "maxReceiveCount": 5}
    assert sqs["queue"]["visibilityTimeout"] == 45
    assert by_address(document, "shop-order-events", "sns")["name"] == "shop-order-events"
    (publish,) = operations_on(document, "shop-order-events")
    consumers = {c["endpoint"]["name"]: c for c in publish["bindings"]["sns"]["consumers"]}
    assert consumers["shop-billing"]["filterPolicy"] == {"type": ["cancelled", "created"]}
    assert consumers["shop-billing"]["rawMessageDelivery"] is True
    # NATS: a channel per stream subject; each consumer receives on the subjects it filters.
    nats_ops = operations_on(document, "audit.orders") or operations_on(document, "orders.>")
    audit = [o for o in nats_ops if "audit" in o.get("summary", "")]
    assert audit and audit[0]["bindings"]["nats"] == {"bindingVersion": "0.1.0", "queue": "audit"}
    assert [o["action"] for o in operations_on(document, "orders.created")] == ["receive"]


def test_a_broken_document_would_be_caught(validator: jsonschema.Draft7Validator) -> None:
    document = exported("-f", ROOT / "examples" / "rabbitmq.yaml", "-f", ROOT / "examples" / "kafka.yaml")
    channels = document["channels"]
    exchange = next(c for c in channels.values() if c.get("bindings", {}).get("amqp", {}).get("is") == "routingKey")
    exchange["bindings"]["amqp"]["exchange"]["type"] = "x-delayed-message"  # not an AMQP binding exchange type
    next(iter(document["operations"].values()))["action"] = "publish"  # AsyncAPI 2 wording
    found = errors(validator, document)
    assert len(found) == 2, found


def test_no_secret_reaches_the_document(tmp_path: Path) -> None:
    path = tmp_path / "secret.yaml"
    path.write_text(
        textwrap.dedent(
            """\
            version: 1
            brokers:
              shop-rabbit:
                type: rabbitmq
                connection: {url: "https://admin:Hunter2@rabbit.example.com:15671", username: u, password: Hunter2}
                vhosts:
                  shop: {queues: {billing: {}}}
              bus:
                type: azure_servicebus
                connection:
                  connection_string: "Endpoint=sb://shop.servicebus.windows.net/;SharedAccessKeyName=root;SharedAccessKey=S3CRETKEY"
                queues: {orders: {}}
                topics:
                  events: {subscriptions: {audit: {}}}
              cache:
                type: redis
                connection: {url: "redis://app:Pa55word@cache.example.com:6380/0"}
                streams: {orders: {groups: {billing: {}}}}
            """
        ),
        encoding="utf-8",
    )
    result = topoctl("asyncapi", "-f", path)
    assert result.code == 0, str(result)
    for secret in ("Hunter2", "admin", "S3CRETKEY", "SharedAccessKey", "Pa55word"):
        assert secret not in result.stdout
    document = yaml.safe_load(result.stdout)
    assert document["servers"]["shop-rabbit"] == {
        "host": "rabbit.example.com:5671",
        "protocol": "amqps",
        "protocolVersion": "0-9-1",
        "description": "RabbitMQ broker shop-rabbit (AMQP port assumed; topoctl manages it through "
        "rabbit.example.com:15671).",
    }
    assert document["servers"]["bus"]["host"] == "shop.servicebus.windows.net"
    assert document["servers"]["cache"] == {"host": "cache.example.com:6380", "protocol": "redis"}
    assert sorted(o["summary"] for o in document["operations"].values() if o["action"] == "receive") == [
        "Consume from queue billing",
        "Consumer group billing of orders (XREADGROUP)",
        "Receive from queue orders",
        "Subscription audit of topic events",
    ]


def test_yaml_is_the_default_and_says_the_same_as_json(tmp_path: Path) -> None:
    as_yaml = topoctl("asyncapi", "-f", ROOT / "examples" / "nats.yaml", "--title", "Edge", "--api-version", "2.1.0")
    as_json = topoctl(
        "asyncapi",
        "-f",
        ROOT / "examples" / "nats.yaml",
        "--format",
        "json",
        "--title",
        "Edge",
        "--api-version",
        "2.1.0",
    )
    assert as_yaml.code == as_json.code == 0
    assert yaml.safe_load(as_yaml.stdout) == as_json.json
    assert as_json.json["info"]["title"] == "Edge" and as_json.json["info"]["version"] == "2.1.0"
    bad = topoctl("asyncapi", "-f", ROOT / "examples" / "nats.yaml", "--format", "xml")
    assert bad.code == 1 and "--format xml: use one of yaml, json" in bad.stderr
