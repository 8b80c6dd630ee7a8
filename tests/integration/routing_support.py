"""Bookkeeping shared by the routing property tests: how many random messages were compared with
what a real broker did. Set TOPOCTL_ROUTING_STATS=<file> to have each test add its counts there
(one JSON line per test); the tests themselves fail on the first disagreement."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from hypothesis import HealthCheck, seed, settings

T = TypeVar("T", bound=Callable[..., Any])


def examples_against_a_real_broker(test: T) -> T:
    """Above `@given`: 40 examples from a fixed seed (CI sees the same ones every run), no example
    database and no deadline (a real broker sets the pace); the tests build their topology per
    example, so a function-scoped fixture and a slow example are expected."""
    bounded = settings(
        max_examples=40,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    return bounded(seed(16)(test))


@dataclass
class Tally:
    name: str
    cases: int = 0
    topologies: int = 0
    routed: int = 0  # cases where the message reached at least one destination
    disagreements: list[str] = field(default_factory=list)

    def compare(self, what: str, predicted: object, actual: object) -> None:
        self.cases += 1
        if predicted != actual:
            self.disagreements.append(f"{what}: predicted {predicted}, broker did {actual}")

    def check(self) -> None:
        """Fails the example at its first disagreement (hypothesis then shrinks it)."""
        assert not self.disagreements, "\n".join(self.disagreements)

    def save(self) -> None:
        path = os.environ.get("TOPOCTL_ROUTING_STATS")
        if path:
            counts = {"topologies": self.topologies, "cases": self.cases, "routed": self.routed}
            with open(path, "a", encoding="utf-8") as f:
                f.write(json.dumps({"test": self.name, **counts}) + "\n")
