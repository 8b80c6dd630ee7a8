"""Helpers for tests that run topoctl against the double: a registry per test, reached by manifests
through `${TOPOCTL_TEST_SR_URL}`, next to the local Kafka of dev/brokers."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from tests.schema_registry_double import SchemaRegistryDouble

ENV = "TOPOCTL_TEST_SR_URL"  # the variable the test manifests read the registry's URL from
SHARED_ENV = "TOPOCTL_TEST_SR_SHARED_URL"  # the same for the run-wide registry of `shared()`
BOOTSTRAP = os.environ.get("KAFKA_BOOTSTRAP", "127.0.0.1:9092")


def broker(sections: dict[str, Any], env: str = ENV, **registry: Any) -> dict[str, Any]:
    """A Kafka broker section on the local Kafka, its registry at `${env}` (plus `registry` settings)."""
    connection = {"bootstrap_servers": BOOTSTRAP, "schema_registry": {"url": f"${{{env}}}", **registry}}
    return {"type": "kafka", "connection": connection, **sections}


def manifest(sections: dict[str, Any], name: str = "events", env: str = ENV, **registry: Any) -> dict[str, Any]:
    return {"version": 1, "brokers": {name: broker(sections, env, **registry)}}


def serve(monkeypatch: pytest.MonkeyPatch) -> Iterator[SchemaRegistryDouble]:
    """A fresh registry, its URL in $TOPOCTL_TEST_SR_URL, for a test's fixture:

    @pytest.fixture
    def sr(monkeypatch): yield from serve(monkeypatch)
    """
    with SchemaRegistryDouble() as double:
        monkeypatch.setenv(ENV, double.url)
        yield double


_SHARED: SchemaRegistryDouble | None = None


def shared() -> SchemaRegistryDouble:
    """One registry for a whole run (the conformance suite builds manifests without fixtures);
    tests keep apart by unique subject names."""
    global _SHARED
    if _SHARED is None:
        _SHARED = SchemaRegistryDouble().start()
        os.environ[SHARED_ENV] = _SHARED.url
    return _SHARED
