"""What docs/export.md says an export does with a RabbitMQ connection's secrets, checked as written
there: a literal URL password becomes a placeholder, a default holding one is dropped whole."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from topoctl.export import raw_connection

BROKER = "shop-rabbit"


@pytest.mark.parametrize(
    ("written", "exported", "warning"),
    [
        (
            {"password": "guest"},
            {"password": "${SHOP_RABBIT_PASSWORD}"},
            "connection.password is a secret: written as ${SHOP_RABBIT_PASSWORD}; set SHOP_RABBIT_PASSWORD"
            " before planning the export",
        ),
        (
            {"password": "${RABBITMQ_PASSWORD:-guest}"},
            {"password": "${RABBITMQ_PASSWORD}"},
            "connection.password: the default of ${RABBITMQ_PASSWORD} is a secret and was left out",
        ),
        (
            {"url": "http://user:pass@host:15672"},
            {"url": "http://user:${SHOP_RABBIT_URL_PASSWORD}@host:15672"},
            "connection.url holds a password: written as ${SHOP_RABBIT_URL_PASSWORD}",
        ),
        (
            {"url": "http://user:${RABBITMQ_PASSWORD}@host:15672"},
            {"url": "http://user:${SHOP_RABBIT_URL_PASSWORD}@host:15672"},
            "connection.url holds a password: written as ${SHOP_RABBIT_URL_PASSWORD}",
        ),
        (
            {"url": "${RABBITMQ_URL:-http://user:pass@host:15672}"},
            {"url": "${RABBITMQ_URL}"},
            "connection.url: the default of ${RABBITMQ_URL} holds a password and was left out",
        ),
        (
            {"url": "${RABBITMQ_URL:-http://127.0.0.1:15672}", "username": "${RABBITMQ_USER:-guest}"},
            {"url": "${RABBITMQ_URL:-http://127.0.0.1:15672}", "username": "${RABBITMQ_USER:-guest}"},
            None,
        ),
    ],
)
def test_secrets_in_a_connection_are_exported_as_docs_export_md_says(
    tmp_path: Path, written: dict[str, str], exported: dict[str, str], warning: str | None
) -> None:
    path = tmp_path / "connections.yaml"
    doc = {"version": 1, "brokers": {BROKER: {"type": "rabbitmq", "connection": written}}}
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    connection, warnings = raw_connection([str(path)], BROKER)
    assert connection == exported
    if warning is None:
        assert warnings == []
    else:
        assert len(warnings) == 1 and warnings[0].startswith(warning), warnings
    assert "pass@" not in str(connection) and "guest" not in str(connection).replace("RABBITMQ_USER:-guest", "")
