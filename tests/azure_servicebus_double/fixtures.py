"""Helpers for tests that run topoctl against the double: a namespace per test, manifests that
reach it through `${TOPOCTL_TEST_SB}` (so no manifest or output ever holds the key)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.azure_servicebus_double import ServiceBusDouble
from tests.cli import write_manifest

ENV = "TOPOCTL_TEST_SB"  # the variable the test manifests read the connection string from
SHARED_ENV = "TOPOCTL_TEST_SB_SHARED"  # the same for the run-wide namespace of `shared()`


def broker(sections: dict[str, Any], env: str = ENV) -> dict[str, Any]:
    return {"type": "azure_servicebus", "connection": {"connection_string": f"${{{env}}}"}, **sections}


def manifest(path: Path, sections: dict[str, Any], name: str = "bus") -> Path:
    return write_manifest(path, {"version": 1, "brokers": {name: broker(sections)}})


@pytest.fixture
def sb(monkeypatch: pytest.MonkeyPatch) -> Iterator[ServiceBusDouble]:
    """A fresh Standard namespace; its connection string in $TOPOCTL_TEST_SB."""
    with ServiceBusDouble() as double:
        monkeypatch.setenv(ENV, double.connection_string())
        yield double


@pytest.fixture
def premium(monkeypatch: pytest.MonkeyPatch) -> Iterator[ServiceBusDouble]:
    with ServiceBusDouble(sku="Premium") as double:
        monkeypatch.setenv(ENV, double.connection_string())
        yield double


_SHARED: ServiceBusDouble | None = None


def shared() -> ServiceBusDouble:
    """One namespace for a whole run (the conformance suite builds manifests without fixtures);
    tests keep apart by unique names."""
    global _SHARED
    if _SHARED is None:
        _SHARED = ServiceBusDouble().start()
        os.environ[SHARED_ENV] = _SHARED.connection_string()
    return _SHARED
