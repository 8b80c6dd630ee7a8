"""Apache Kafka (`type: kafka`): topics, their configs and dead-letter topics, and ACLs.

Importing this package is cheap: confluent-kafka is imported only when a driver is made.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from topoctl.providers.base import Driver, ProviderInfo
from topoctl.providers.kafka.compile import compile_broker
from topoctl.providers.kafka.kinds import KINDS


def _make_driver(name: str, connection: Mapping[str, Any]) -> Driver:
    from topoctl.providers.kafka.driver import KafkaDriver

    return KafkaDriver(name, connection)


PROVIDER = ProviderInfo(type="kafka", kinds=KINDS, compile=compile_broker, driver=_make_driver)

__all__ = ["KINDS", "PROVIDER", "compile_broker"]
