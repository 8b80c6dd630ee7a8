"""AWS SQS and SNS (`type: aws`): queues, topics, subscriptions, DLQs and fan-out queue policies.

The boto3 driver is imported only when a broker of this type is contacted.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from topoctl.providers.aws.compile import compile_broker
from topoctl.providers.aws.kinds import KINDS
from topoctl.providers.base import Driver, ProviderInfo


def _make_driver(name: str, connection: Mapping[str, Any]) -> Driver:
    from topoctl.providers.aws.driver import AwsDriver

    return AwsDriver(name, connection)


PROVIDER = ProviderInfo(type="aws", kinds=KINDS, compile=compile_broker, driver=_make_driver)
