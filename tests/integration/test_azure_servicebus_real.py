"""The provider against a real Azure Service Bus namespace, or the official emulator (2.0 and later
serve the management API: `Endpoint=sb://localhost:5300;...;UseDevelopmentEmulator=true`).

Needs $TOPOCTL_TEST_SERVICEBUS (a namespace connection string with Manage rights). Deselected by
default (pyproject: `-m "not servicebus_real"`, reported by pytest as "deselected"); run with

    export TOPOCTL_TEST_SERVICEBUS='Endpoint=sb://<namespace>.servicebus.windows.net/;...'
    python3 -m pytest -m servicebus_real tests/integration/test_azure_servicebus_real.py

Asked for without the variable, it fails: it is never a silent pass. Everything it makes carries a
random prefix and is deleted at the end, also after a failure.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.azure_servicebus_double.fixtures import manifest
from tests.cli import apply_ok, assert_empty, plan_json, planned, topoctl
from tests.integration.servers import required_env

pytestmark = pytest.mark.servicebus_real
VAR = "TOPOCTL_TEST_SERVICEBUS"


@pytest.fixture
def prefix(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    conn = required_env(VAR, "a real Service Bus namespace")
    monkeypatch.setenv("TOPOCTL_TEST_SB", conn)
    name = f"topoctl-{uuid.uuid4().hex[:8]}"
    yield name
    from azure.servicebus.management import ServiceBusAdministrationClient

    from topoctl.providers.azure_servicebus.connection import settings
    from topoctl.providers.azure_servicebus.driver import _plain_http_transport

    extra = {"transport": _plain_http_transport()} if settings({"connection_string": conn}).emulator else {}
    with ServiceBusAdministrationClient.from_connection_string(conn, **extra) as client:
        for q in list(client.list_queues()):
            if q.name.startswith(name):
                client.delete_queue(q.name)
        for t in list(client.list_topics()):
            if t.name.startswith(name):
                client.delete_topic(t.name)


def _shop(p: str, stage: str) -> dict[str, Any]:
    rules: dict[str, Any] = {"created": {"sql_filter": "type = @t", "parameters": {"@t": "created"}}}
    if stage != "create":
        rules["eu"] = {"correlation_filter": {"label": "order", "properties": {"region": "eu"}}, "action": "SET x = 1"}
    queue: dict[str, Any] = {
        "lock_duration": "30s" if stage == "create" else "45s",
        "dead_letter": {"max_deliveries": 5},
    }
    if stage == "replace":
        queue["requires_session"] = True
    return {
        "queues": {f"{p}-orders": queue, f"{p}-dlq": {"default_message_time_to_live": "14d"}},
        "topics": {
            f"{p}-events": {
                "subscriptions": {
                    "billing": {"forward_to": f"{p}-orders", "dead_letter": {"forward_to": f"{p}-dlq"}, "rules": rules},
                    "all": {},
                }
            }
        },
    }


def test_life_cycle_against_the_real_service(tmp_path: Path, prefix: str) -> None:
    create = manifest(tmp_path / "create.yaml", _shop(prefix, "create"))
    assert set(planned(plan_json(create)).values()) == {"create"}
    apply_ok(create)
    assert_empty(create)

    update = manifest(tmp_path / "update.yaml", _shop(prefix, "update"))
    assert planned(plan_json(update)) == {
        f"bus/queue/{prefix}-orders": "update",
        f"bus/rule/{prefix}-events/billing/eu": "create",
    }
    apply_ok(update)
    assert_empty(update)

    replace = manifest(tmp_path / "replace.yaml", _shop(prefix, "replace"))
    assert planned(plan_json(replace))[f"bus/queue/{prefix}-orders"] == "replace"
    refused = topoctl("apply", "-f", replace, "--auto-approve")
    assert refused.code == 1 and "--allow-destructive" in refused.stderr
    apply_ok(replace, "--allow-destructive")
    assert_empty(replace)

    exported = topoctl("export", "--broker", "bus", "-f", replace)
    assert exported.code == 0, str(exported)
    assert os.environ[VAR] not in exported.stdout
