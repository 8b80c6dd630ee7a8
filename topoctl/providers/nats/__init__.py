"""NATS JetStream: streams, consumers, KV buckets and object stores (`type: nats`).

Importing this package does not import nats-py: the driver module is loaded when a driver is made.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from topoctl.providers.base import Driver, ProviderInfo
from topoctl.providers.nats.compile import compile_broker
from topoctl.providers.nats.kinds import KINDS


def _make_driver(name: str, connection: Mapping[str, Any]) -> Driver:
    from topoctl.providers.nats.driver import NatsDriver

    return NatsDriver(name, connection)


PROVIDER = ProviderInfo(type="nats", kinds=KINDS, compile=compile_broker, driver=_make_driver)

__all__ = ["PROVIDER"]
