"""Waiting for something that happens asynchronously, with a deadline."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def eventually(
    probe: Callable[[], Awaitable[T]],
    until: Callable[[T], bool] = bool,
    within: float = 15.0,
    interval: float = 0.05,
    what: str = "condition",
) -> T:
    """Call ``probe`` until ``until(result)`` holds; fail with the last result at the deadline."""
    deadline = time.monotonic() + within
    while True:
        result = await probe()
        if until(result):
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {within}s; last: {result!r}")
        await asyncio.sleep(interval)
