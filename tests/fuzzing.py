"""The hypothesis settings of the fuzz tests: deterministic for CI (`derandomize`, no example
database), no deadline (a shared machine), and a budget of examples that FUZZ_EXAMPLES=N raises
for a longer local run."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings


def budget(default: int) -> int:
    return int(os.environ.get("FUZZ_EXAMPLES", str(default)))


def fuzz_settings(default_examples: int) -> settings:
    return settings(
        max_examples=budget(default_examples),
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
    )
