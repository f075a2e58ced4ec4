"""The garbage collector of a long-running service process.

A full collection walks every object the process tracks. A started service holds well over a
hundred thousand that live as long as the process (modules, classes, SQLAlchemy's tables and
compiled statements, pydantic's validators, FastAPI's routes), and the requests and events it
handles keep promoting short-lived objects into the oldest generation, which starts a full
collection every second or so. Each of those stopped the whole process for ~100 ms
(measured in intake at 500 dealer reports/s, bench/README.md), long enough for every request
then in flight to miss its latency goal. Frozen once the service has started, the objects
that were there are left out of every later collection; what requests and events create is
collected as before.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def startup_objects_frozen() -> Iterator[None]:
    """While the service runs, the objects that existed when it had started are not
    collected. Undone at stop: a process that starts services more than once (the tests)
    gets their garbage collected again."""
    # Moving generations into the permanent one is a list splice: it costs nothing, and it
    # leaves what is garbage now (a few start-up cycles) uncollected until the stop.
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
