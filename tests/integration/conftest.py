"""Fixtures shared by the RabbitMQ integration tests (modules may define their own of the same name)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.integration.rabbitmq_support import api, delete_vhost, unique_vhost


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    """RabbitMQ's management API, for building and checking state behind topoctl's back."""
    with api() as c:
        yield c


@pytest.fixture
def vhost(client: httpx.Client) -> Iterator[str]:
    """A unique RabbitMQ vhost name (not created), deleted after the test."""
    name = unique_vhost()
    yield name
    delete_vhost(client, name)
