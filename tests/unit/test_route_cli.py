"""`topoctl route` offline on a manifest: the tree, the JSON document, and the exit codes
(0 routed, 3 unroutable, 1 a question that cannot be asked)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.cli import topoctl, write_manifest

DOC: dict[str, Any] = {
    "version": 1,
    "brokers": {
        "shop": {
            "type": "rabbitmq",
            "connection": {"url": "http://127.0.0.1:9", "username": "u", "password": "p"},
            "vhosts": {
                "v": {
                    "exchanges": {
                        "orders": {"type": "topic", "arguments": {"alternate-exchange": "unrouted"}},
                        "unrouted": {"type": "fanout", "internal": True},
                    },
                    "queues": {"billing": {"dead_letter": {}}, "lost": {}},
                    "bindings": [
                        {"source": "orders", "destination": "billing", "routing_key": "order.*"},
                        {"source": "unrouted", "destination": "lost"},
                    ],
                }
            },
        },
        "cloud": {
            "type": "aws",
            "connection": {"region": "us-east-1", "endpoint_url": "http://127.0.0.1:9"},
            "sqs": {"queues": {"billing-events": {}}},
            "sns": {
                "topics": {
                    "orders": {
                        "subscriptions": [
                            {"protocol": "sqs", "endpoint": "billing-events", "filter_policy": {"type": ["created"]}}
                        ]
                    }
                }
            },
        },
        "events": {
            "type": "kafka",
            "connection": {"bootstrap_servers": "127.0.0.1:9"},
            "topics": {"orders": {"partitions": 1, "replication_factor": 1}},
        },
        "edge": {
            "type": "nats",
            "connection": {"servers": ["nats://127.0.0.1:9"]},
            "streams": {
                "ORDERS": {"subjects": ["orders.>"], "consumers": {"billing": {"filter_subject": "orders.paid"}}}
            },
        },
    },
}


@pytest.fixture
def manifest(tmp_path: Path) -> Path:
    return write_manifest(tmp_path / "m.yaml", DOC)


def test_a_routed_message_prints_its_paths(manifest: Path) -> None:
    result = topoctl("route", "-f", manifest, "--from", "shop/exchange/v/orders", "--routing-key", "order.paid")
    assert result.code == 0, str(result)
    assert result.stdout == (
        'Message: shop/exchange/v/orders, routing key "order.paid"\n'
        "shop/exchange/v/orders\n"
        "└── shop/queue/v/billing\n"
        "Routed to 1 destination.\n"
    )


def test_the_alternate_exchange_in_the_tree_and_in_json(manifest: Path) -> None:
    args = ("route", "-f", manifest, "--from", "shop/exchange/v/orders", "--routing-key", "invoice")
    text = topoctl(*args)
    assert "└── shop/exchange/v/unrouted  (alternate exchange)\n    └── shop/queue/v/lost\n" in text.stdout
    document = topoctl(*args, "--format", "json")
    assert document.code == 0 and document.json == {
        "destinations": [
            {
                "address": "shop/queue/v/lost",
                "path": ["shop/exchange/v/orders", "shop/exchange/v/unrouted", "shop/queue/v/lost"],
            }
        ],
        "unroutable": False,
    }


def test_unroutable_exits_3_with_the_document(manifest: Path) -> None:
    result = topoctl("route", "-f", manifest, "--subject", "invoices.paid", "--format", "json")
    assert result.code == 3, str(result)
    assert result.json == {"destinations": [], "unroutable": True}
    text = topoctl("route", "-f", manifest, "--from", "cloud/sns_topic/orders", "--attribute", "type=cancelled")
    assert text.code == 3 and "(unroutable): no destination receives this message." in text.stdout


def test_dead_letters_sns_and_nats(manifest: Path) -> None:
    dead = topoctl("route", "-f", manifest, "--dead-letter-of", "shop/queue/v/billing", "--format", "json")
    assert dead.code == 0 and [d["address"] for d in dead.json["destinations"]] == ["shop/queue/v/billing.dlq"]
    sns = topoctl(
        "route", "-f", manifest, "--from", "cloud/sns_topic/orders", "--attribute", "type=created", "--format", "json"
    )
    assert sns.json["destinations"][0]["path"] == [
        "cloud/sns_topic/orders",
        "cloud/sns_subscription/orders/sqs/billing-events",
        "cloud/sqs_queue/billing-events",
    ]
    nats = topoctl("route", "-f", manifest, "--from", "edge", "--subject", "orders.paid", "--format", "json")
    assert [d["address"] for d in nats.json["destinations"]] == ["edge/stream/ORDERS", "edge/consumer/ORDERS/billing"]


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (("--from", "shop/exchange/v/unrouted"), "internal"),
        (("--from", "shop/exchange/v/nope"), "no exchange 'nope'"),
        (("--from", "nobody/exchange/v/x"), "no broker 'nobody'"),
        (("--routing-key", "k"), "--from is needed"),
        (("--from", "shop/exchange/v/orders", "--subject", "a"), "--subject is not for a RabbitMQ"),
        (("--from", "edge", "--subject", "a.*"), "wildcards"),
        (("--from", "cloud/sns_topic/orders", "--format", "yaml"), "--format yaml"),
        (("--from", "events/topic/orders"), "does not model kafka brokers"),
    ],
)
def test_questions_that_cannot_be_asked_exit_1(manifest: Path, args: tuple[str, ...], error: str) -> None:
    result = topoctl("route", "-f", manifest, *args)
    assert result.code == 1, str(result)
    assert error in result.stderr and "Traceback" not in result.stderr
    assert result.stdout == ""
