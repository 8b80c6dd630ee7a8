"""RabbitMQ (`type: rabbitmq`): vhosts, exchanges, queues, bindings and policies over the
management HTTP API. See docs/rabbitmq.md for the manifest reference.

Importing this package stays cheap: the driver (and urllib3) load only when a broker is contacted.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from topoctl.providers.base import Driver, ProviderInfo
from topoctl.providers.rabbitmq.compile import compile_broker
from topoctl.providers.rabbitmq.kinds import KINDS


def _make_driver(name: str, connection: Mapping[str, Any]) -> Driver:
    from topoctl.providers.rabbitmq.driver import RabbitMQDriver

    return RabbitMQDriver(name, connection)


PROVIDER = ProviderInfo(type="rabbitmq", kinds=KINDS, compile=compile_broker, driver=_make_driver)
