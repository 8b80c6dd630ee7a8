"""Azure Service Bus (`type: azure_servicebus`): one namespace per broker entry; queues, topics,
subscriptions and their rules, forwarding and dead-lettering.

Importing this package does not import the Azure SDK: the driver module is loaded when a driver is
made (azure-servicebus's ServiceBusAdministrationClient; azure-identity for `namespace:`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from topoctl.providers.azure_servicebus.compile import compile_broker
from topoctl.providers.azure_servicebus.kinds import KINDS
from topoctl.providers.base import Driver, ProviderInfo


def _make_driver(name: str, connection: Mapping[str, Any]) -> Driver:
    from topoctl.providers.azure_servicebus.driver import ServiceBusDriver

    return ServiceBusDriver(name, connection)


PROVIDER = ProviderInfo(type="azure_servicebus", kinds=KINDS, compile=compile_broker, driver=_make_driver)

__all__ = ["PROVIDER"]
