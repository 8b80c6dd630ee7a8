"""A queue delete looks the queue's URL up when the driver has not read it; only SQS's "the queue
does not exist" makes that delete done. Against a private moto server started here with IAM
enforced (the shared one on port 5000 lets every caller do everything), whose user may do
anything with SQS but GetQueueUrl.

Unit tests (tests/unit/test_aws_driver.py) cover throttling and connection errors the same way.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest

from tests.integration.servers import free_port, terminate, wait_for_port
from topoctl.errors import BrokerError
from topoctl.model import Action, Address, Change
from topoctl.providers.aws.driver import AwsDriver

pytestmark = pytest.mark.integration
B = "cloud"
REGION = "us-east-1"
SHARED = os.environ.get("AWS_ENDPOINT_URL") or "http://127.0.0.1:5000"
# moto answers this many requests before it enforces IAM: the three that make the user below.
SETUP_REQUESTS = 3
ALL_BUT_LOOKUP = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Action": ["sqs:*", "sns:*", "sts:*"], "Resource": "*"},
        {"Effect": "Deny", "Action": "sqs:GetQueueUrl", "Resource": "*"},
    ],
}


@dataclass(frozen=True)
class Guarded:
    """moto with IAM enforced, and the keys of a user denied sqs:GetQueueUrl."""

    url: str
    keys: dict[str, str]

    def client(self, service: str) -> Any:
        return boto3.client(service, endpoint_url=self.url, region_name=REGION, **self.keys)

    def driver(self) -> AwsDriver:
        """A driver that has read nothing, as one applying a change it did not plan."""
        connection = {
            "region": REGION,
            "endpoint_url": self.url,
            "access_key_id": self.keys["aws_access_key_id"],
            "secret_access_key": self.keys["aws_secret_access_key"],
        }
        return AwsDriver(B, connection)

    def queue_names(self) -> list[str]:
        urls = self.client("sqs").list_queues().get("QueueUrls") or []
        return [u.rsplit("/", 1)[-1] for u in urls]


@pytest.fixture(scope="module")
def guarded() -> Iterator[Guarded]:
    port = free_port()
    command = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    env = {**os.environ, "INITIAL_NO_AUTH_ACTION_COUNT": str(SETUP_REQUESTS)}
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port, process=proc)
        url = f"http://127.0.0.1:{port}"
        iam = boto3.client(
            "iam", endpoint_url=url, region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing"
        )
        iam.create_user(UserName="deployer")
        iam.put_user_policy(UserName="deployer", PolicyName="no-lookup", PolicyDocument=json.dumps(ALL_BUT_LOOKUP))
        key = iam.create_access_key(UserName="deployer")["AccessKey"]
        yield Guarded(url, {"aws_access_key_id": key["AccessKeyId"], "aws_secret_access_key": key["SecretAccessKey"]})
    finally:
        terminate(proc)


def delete(name: str) -> Change:
    return Change(Address(B, "sqs_queue", (name,)), Action.DELETE, {"fifo": False}, None)


def test_a_queue_whose_url_is_denied_is_not_deleted_as_done(guarded: Guarded) -> None:
    name = f"denied-{uuid.uuid4().hex[:8]}"
    guarded.client("sqs").create_queue(QueueName=name)
    with pytest.raises(BrokerError, match=f"cannot look up queue {name}"):
        guarded.driver().apply_one(delete(name))
    assert name in guarded.queue_names()


def test_a_queue_deleted_behind_topoctls_back_is_deleted_as_done() -> None:
    # On the shared moto, where nothing is denied: the lookup says QueueDoesNotExist.
    shared = {"endpoint_url": SHARED, "region_name": REGION, "aws_access_key_id": "testing"}
    sqs = boto3.client("sqs", aws_secret_access_key="testing", **shared)
    name = f"gone-{uuid.uuid4().hex[:8]}"
    sqs.delete_queue(QueueUrl=sqs.create_queue(QueueName=name)["QueueUrl"])
    connection = {"region": REGION, "endpoint_url": SHARED, "access_key_id": "testing", "secret_access_key": "testing"}
    AwsDriver(B, connection).apply_one(delete(name))  # raises if "does not exist" were not taken as done
