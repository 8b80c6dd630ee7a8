"""The shared provider conformance suite, run against moto (SQS/SNS).

SQS and SNS have no attribute that cannot change in place except FIFO-ness, and that follows from
the name (`.fifo`), i.e. from the address: a "replace" stage cannot be written for AWS, so the suite
runs without it; everything else is checked alike.
"""

from __future__ import annotations

import os
from typing import Any

from tests.integration.conformance import Conformance

ENDPOINT = os.environ.get("AWS_ENDPOINT_URL") or "http://127.0.0.1:5000"


class TestAwsConformance(Conformance):
    stages = ("create", "update", "delete")

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
