"""Work that arrives at the same moment, done together in one transaction (group commit).

A transaction's fixed costs — its connection, its BEGIN, its COMMIT and the disk flush the
commit waits for — are paid per commit, not per row. Where items come one at a time (a
dealer's report, a message from the broker), each in its own transaction pays them all; under
load those fixed costs are most of the work. Here an item that arrives while a few groups
are already being done waits for the next group, and a group takes whatever is waiting (up to
a size): under a light load an item is done at once and alone, under a heavy one a commit
serves many. The caller of ``submit`` still gets its own item's outcome.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class GroupCommit(Generic[T, R]):
    """``do_group`` gets the waiting items in arrival order and returns one outcome each, in
    that order. If it raises, every item of the group gets that exception."""

    def __init__(
        self,
        do_group: Callable[[list[T]], Awaitable[Sequence[R]]],
        group_size: int,
        groups_at_once: int,
        name: str,
        on_group: Callable[[int], None] | None = None,
    ) -> None:
        if group_size < 1 or groups_at_once < 1:
            raise ValueError("a group holds at least one item, and one group runs at least")
        self._do_group = do_group
        self._group_size = group_size
        self._groups_at_once = groups_at_once
        self._name = name
        self._on_group = on_group
        self._waiting: list[tuple[T, asyncio.Future[R]]] = []
        self._running: set[asyncio.Task[None]] = set()

    async def submit(self, item: T) -> R:
        """The item's outcome once its group is done. Cancelling the caller does not cancel
        the group: the item is done all the same (the others of its group must not suffer
        for one caller that went away)."""
        outcome: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        # Read even when the caller went away, so a failure is not reported as never seen.
        outcome.add_done_callback(_retrieved)
        self._waiting.append((item, outcome))
        if len(self._running) < self._groups_at_once:
            # A task of its own, not the caller's, for the reason above.
            task = asyncio.create_task(self._do_waiting(), name=self._name)
            self._running.add(task)
            task.add_done_callback(self._running.discard)
        return await asyncio.shield(outcome)

    def cancel(self) -> set[asyncio.Task[None]]:
        """Stop the groups being done (at shutdown, when waiting for them took too long);
        returns their tasks, to wait for. Their items get no outcome."""
        for task in self._running:
            task.cancel()
        return set(self._running)

    async def _do_waiting(self) -> None:
        while self._waiting:
            group = self._waiting[: self._group_size]
            del self._waiting[: self._group_size]
            if self._on_group is not None:
                self._on_group(len(group))
            try:
                outcomes = await self._do_group([item for item, _ in group])
            except Exception as failed:  # every item of the group is told, none is lost
                for _, outcome in group:
                    if not outcome.done():
                        outcome.set_exception(failed)
                continue
            for (_, outcome), result in zip(group, outcomes, strict=True):
                if not outcome.done():
                    outcome.set_result(result)


def _retrieved(future: asyncio.Future[object]) -> None:
    if not future.cancelled():
        future.exception()
