"""The shared provider conformance suite, run against moto (SQS/SNS).

SQS and SNS have no attribute that cannot change in place except FIFO-ness, and that follows from
the name (`.fifo`), i.e. from the address: a "replace" stage cannot be written for AWS. The life
cycle below is the suite's, with that stage left out; everything else is checked alike.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from tests.cli import planned, topoctl
from tests.integration.conformance import Conformance

ENDPOINT = os.environ.get("AWS_ENDPOINT_URL") or "http://127.0.0.1:5000"


class TestAwsConformance(Conformance):
    def manifest(self, ns: str, stage: str) -> dict[str, Any]:
        work: dict[str, Any] = {"visibility_timeout": "30s", "dead_letter": {"max_receive_count": 3}}
        if stage != "create":
            work["visibility_timeout"] = "1m"  # in place
        queues: dict[str, Any] = {f"{ns}-work": work, f"{ns}-audit": {"message_retention_period": "1d"}}
        if stage == "delete":
            queues[f"{ns}-audit"] = {"state": "absent"}
        subscription = {"protocol": "sqs", "endpoint": f"{ns}-work", "filter_policy": {"type": ["created"]}}
        connection = {
            "region": "us-east-1",
            "endpoint_url": ENDPOINT,
            "access_key_id": "testing",
            "secret_access_key": "testing",
        }
        broker = {
            "type": "aws",
            "connection": connection,
            "sqs": {"queues": queues},
            "sns": {"topics": {f"{ns}-events": {"subscriptions": [subscription]}}},
        }
        return {"version": 1, "brokers": {"conf": broker}}

    def address(self, ns: str, stage: str) -> str:
        return {"update": f"conf/sqs_queue/{ns}-work", "delete": f"conf/sqs_queue/{ns}-audit"}[stage]

    def cleanup(self, ns: str) -> None:
        from tests.integration.test_aws_provider import Aws

        Aws().cleanup(ns)

    @pytest.mark.integration
    def test_life_cycle(self, tmp_path: Path, ns: str) -> None:
        create = self._file(tmp_path, ns, "create")
        first = planned(self._plan(create))
        assert first and set(first.values()) == {"create"}, first
        assert len(first) == 5, first  # work, its DLQ, audit, the topic, the subscription
        result = topoctl("apply", "-f", create, "--auto-approve")
        assert result.code == 0, str(result)
        assert "Apply complete!" in result.stderr
        self._assert_empty(create)

        update = self._file(tmp_path, ns, "update")
        changes = planned(self._plan(update))
        assert changes == {self.address(ns, "update"): "update"}, changes
        result = topoctl("apply", "-f", update, "--auto-approve")
        assert result.code == 0, str(result)
        self._assert_empty(update)

        delete = self._file(tmp_path, ns, "delete")
        changes = planned(self._plan(delete))
        assert changes == {self.address(ns, "delete"): "delete"}, changes
        refused = topoctl("apply", "-f", delete, "--auto-approve")
        assert refused.code == 1, str(refused)
        assert "--allow-destructive" in refused.stderr
        assert planned(self._plan(delete)) == changes, "a refused apply changed something"
        result = topoctl("apply", "-f", delete, "--auto-approve", "--allow-destructive")
        assert result.code == 0, str(result)
        self._assert_empty(delete)
        assert planned(self._plan(create)).get(self.address(ns, "delete")) == "create"
