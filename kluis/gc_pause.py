"""Python's cycle collector, paused while bulk work allocates many short-lived objects.

Bulk work here (a sealed bulk read, the firewall export's rows, a statement import)
makes few reference cycles: what it allocates is freed by reference counting. But its
tens of thousands of containers trigger the collector every 700 allocations, every
tenth of those passes walks older objects too, and sooner or later a pass walks the
whole heap of the process (Django, lxml, the keys): 80-100 ms of a 300 ms sealed read,
and about a quarter of the importing process's CPU time in a 100,000-entry statement
import. As bulk loaders do, the collector is paused for the duration and set back as
it was, also on an error; `collect_young` lets long work collect its young objects at
points of its choosing.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def cycle_collector_paused() -> Iterator[None]:
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def collect_young() -> None:
    """Collect cycles among objects made since the last pass (generations 0 and 1), not
    the old heap: cheap, and it keeps cyclic garbage of long bulk work bounded."""
    gc.collect(1)
