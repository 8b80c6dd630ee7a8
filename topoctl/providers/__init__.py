"""The registry of broker types. Provider packages are imported only when a manifest uses them."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from topoctl.providers.base import Exporter, FlowsOf, ProviderInfo

if TYPE_CHECKING:
    from topoctl.routing.model import Router

_PACKAGES = {
    "rabbitmq": "topoctl.providers.rabbitmq",
    "kafka": "topoctl.providers.kafka",
    "nats": "topoctl.providers.nats",
    "aws": "topoctl.providers.aws",
    "redis": "topoctl.providers.redis",
    "azure_servicebus": "topoctl.providers.azure_servicebus",
}

BROKER_TYPES = tuple(_PACKAGES)


def provider(broker_type: str) -> ProviderInfo:
    """The provider of `broker_type`; its package defines `PROVIDER: ProviderInfo`."""
    try:
        package = _PACKAGES[broker_type]
    except KeyError:
        raise ValueError(f"unknown broker type {broker_type!r} (one of: {', '.join(BROKER_TYPES)})") from None
    info: ProviderInfo = importlib.import_module(package).PROVIDER
    return info


def _optional(broker_type: str, module: str, attribute: str) -> object | None:
    provider(broker_type)  # validates the type
    try:
        mod = importlib.import_module(f"{_PACKAGES[broker_type]}.{module}")
    except ModuleNotFoundError as exc:
        if exc.name != f"{_PACKAGES[broker_type]}.{module}":
            raise
        return None
    return getattr(mod, attribute, None)


def exporter(broker_type: str) -> Exporter | None:
    """`topoctl export` support of a provider: its `export.export_broker`, if it has one."""
    return _optional(broker_type, "export", "export_broker")  # type: ignore[return-value]


def flows_of(broker_type: str) -> FlowsOf | None:
    """`topoctl graph` support of a provider: its `flows.flows`, if it has one."""
    return _optional(broker_type, "flows", "flows")  # type: ignore[return-value]


def router_of(broker_type: str) -> Router[Any] | None:
    """`topoctl route` and the plan's routing changes: a provider's `routing.ROUTER`, if it has one."""
    if broker_type not in _PACKAGES:
        return None  # a type registered some other way (tests' fakes) has no routing semantics
    return _optional(broker_type, "routing", "ROUTER")  # type: ignore[return-value]
