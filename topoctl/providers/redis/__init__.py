"""Redis: streams, consumer groups and ACL users (`type: redis`), on one server or a Redis Cluster.

Importing this package does not import redis-py: the driver module is loaded when a driver is made.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from topoctl.providers.base import Driver, ProviderInfo
from topoctl.providers.redis.compile import compile_broker
from topoctl.providers.redis.kinds import KINDS


def _make_driver(name: str, connection: Mapping[str, Any]) -> Driver:
    from topoctl.providers.redis.driver import RedisDriver

    return RedisDriver(name, connection)


PROVIDER = ProviderInfo(type="redis", kinds=KINDS, compile=compile_broker, driver=_make_driver)

__all__ = ["PROVIDER"]
