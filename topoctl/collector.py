"""Python's cyclic garbage collector, paused while topoctl builds big trees of plain values."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator

# Set by the command's entry point (cli.main): in a topoctl process, what is built while the
# collector is paused (the manifest, a broker's state) lives until the process ends, so it is
# frozen (gc.freeze) rather than walked again by every later collection (0.1-0.25 s of a big
# plan). Not when topoctl is a library (the tests): frozen objects are never freed.
freeze_after = False


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Loading a manifest or reading a broker builds hundreds of thousands of objects and no
    reference cycle: the cyclic collector would scan the growing heap again and again for nothing,
    and make the cost per object grow with the estate (+70 % at 20,000 objects). It runs again
    afterwards."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if freeze_after:
            gc.freeze()
        if enabled:
            gc.enable()
