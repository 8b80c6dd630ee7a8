"""The registry of broker types. Provider packages are imported only when a manifest uses them."""

from __future__ import annotations

import importlib

from topoctl.providers.base import ProviderInfo

_PACKAGES = {
    "rabbitmq": "topoctl.providers.rabbitmq",
    "kafka": "topoctl.providers.kafka",
    "nats": "topoctl.providers.nats",
    "aws": "topoctl.providers.aws",
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
