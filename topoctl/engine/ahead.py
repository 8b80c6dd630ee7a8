"""Reading brokers while their manifest is still being checked and compiled.

Validating and compiling 10,000 objects takes a few tenths of a second of CPU; listing them takes
a RabbitMQ about as long, on its own CPU. A `ReadAhead` is shown the manifest as soon as it is
parsed (`load_manifest(parsed=...)`), makes each broker's driver from it and lets the driver start
reading, in the background, what a plan of that section will most likely ask for; it is shown each
section again once compiled (`load_manifest(compiled=...)`), for the part of a read that needs the
compiled resources (Kafka's dry run of the topics to create). The `Session`
then takes those drivers over; a driver answers its first `read` from what it read ahead only
where the requests are exactly the ones that read sends, and reads the rest as usual. A wrong guess
costs some broker time, never a wrong plan; a section that fails validation is not read further.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from types import TracebackType
from typing import Any

from topoctl.providers import provider
from topoctl.providers.base import Compiled, Driver


class ReadAhead:
    """Drivers made from a parsed (not yet validated) manifest, reading ahead."""

    def __init__(self, most_brokers: int | None = None) -> None:
        # A plan reads several brokers in processes of their own (engine.apart), which threads
        # already running forbid: it reads ahead only a manifest of at most `most_brokers`.
        self.most_brokers = most_brokers
        self._drivers: dict[str, Driver] = {}

    def __call__(self, document: Mapping[str, Any]) -> None:
        brokers = document.get("brokers")
        if not isinstance(brokers, Mapping) or (self.most_brokers is not None and len(brokers) > self.most_brokers):
            return
        for name, section in brokers.items():
            try:
                driver = provider(section["type"]).driver(name, section.get("connection") or {})
            except Exception:  # not valid yet: the schema check words it next
                continue
            try:
                started = driver.read_ahead(section)
            except Exception:  # the same: a guess from unchecked values must never fail the plan
                started = False
            if started:
                self._drivers[name] = driver
            else:
                driver.close()

    def compiled(self, broker: str, compiled: Compiled) -> None:
        """`broker`'s section, compiled (and so valid): its driver may start the part of its read
        that needs the compiled resources (see `Driver.read_ahead_compiled`)."""
        driver = self._drivers.get(broker)
        if driver is None:
            return
        with contextlib.suppress(Exception):  # the read does it all again: a read ahead never fails the plan
            driver.read_ahead_compiled(compiled.resources)

    def take(self, broker: str, connection: Mapping[str, Any]) -> Driver | None:
        """The driver reading ahead for `broker`, if it was made with these connection settings."""
        driver = self._drivers.pop(broker, None)
        if driver is not None and driver.connection != connection:
            driver.close()
            return None
        return driver

    def close(self) -> None:
        for driver in self._drivers.values():
            driver.close()
        self._drivers.clear()

    def __enter__(self) -> ReadAhead:
        return self

    def __exit__(self, *exc: object | type[BaseException] | TracebackType | None) -> None:
        self.close()
