"""A started service's objects are left out of garbage collection while it runs; what it
creates afterwards is collected as usual, and everything again once it stops."""

from __future__ import annotations

import gc
import weakref

from shared.heap import startup_objects_frozen


class _Node:
    """Garbage only a collection finds: it refers to itself."""

    def __init__(self) -> None:
        self.me = self


def test_objects_there_at_the_start_are_not_collected_until_the_stop() -> None:
    before = _Node()
    seen_before = weakref.ref(before)
    with startup_objects_frozen():
        assert gc.get_freeze_count() > 0
        during = _Node()
        seen_during = weakref.ref(during)
        del before, during
        gc.collect()
        assert seen_during() is None, "what the running service creates is collected"
        assert seen_before() is not None, "what was there at the start is left alone"
    assert gc.get_freeze_count() == 0
    gc.collect()
    assert seen_before() is None
