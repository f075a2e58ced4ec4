"""GroupCommit: what arrives while groups are busy goes together into the next group."""

from __future__ import annotations

import asyncio

import pytest

from shared.group_commit import GroupCommit


class Recorder:
    def __init__(self, failing: int | None = None) -> None:
        self.groups: list[list[int]] = []
        self.release = asyncio.Event()
        self.failing = failing

    async def do(self, items: list[int]) -> list[int]:
        self.groups.append(items)
        await self.release.wait()
        if self.failing in items:
            raise RuntimeError(f"cannot do {self.failing}")
        return [item * 10 for item in items]


async def test_items_arriving_while_a_group_is_busy_go_together_up_to_the_size() -> None:
    recorder = Recorder()
    sizes: list[int] = []
    groups = GroupCommit(
        recorder.do, group_size=3, groups_at_once=1, name="t", on_group=sizes.append
    )
    first = asyncio.create_task(groups.submit(1))
    await asyncio.sleep(0)
    rest = [asyncio.create_task(groups.submit(n)) for n in range(2, 7)]
    await asyncio.sleep(0)
    recorder.release.set()
    assert await asyncio.gather(first, *rest) == [10, 20, 30, 40, 50, 60]
    # The first alone (nothing waited), then the waiting ones in arrival order, three a group.
    assert recorder.groups == [[1], [2, 3, 4], [5, 6]]
    assert sizes == [1, 3, 2]


async def test_a_failed_group_fails_each_of_its_items_and_not_the_next_group() -> None:
    recorder = Recorder(failing=2)
    groups = GroupCommit(recorder.do, group_size=2, groups_at_once=1, name="t")
    tasks = [asyncio.create_task(groups.submit(1))]
    await asyncio.sleep(0)
    tasks += [asyncio.create_task(groups.submit(n)) for n in (2, 3)]
    await asyncio.sleep(0)
    recorder.release.set()
    outcomes = await asyncio.gather(*tasks, return_exceptions=True)
    assert recorder.groups == [[1], [2, 3]]
    assert outcomes[0] == 10
    assert [str(o) for o in outcomes[1:]] == ["cannot do 2", "cannot do 2"]


async def test_a_caller_that_goes_away_does_not_stop_its_group() -> None:
    recorder = Recorder()
    groups = GroupCommit(recorder.do, group_size=4, groups_at_once=2, name="t")
    leaving = asyncio.create_task(groups.submit(1))
    await asyncio.sleep(0)
    staying = asyncio.create_task(groups.submit(2))
    await asyncio.sleep(0)
    leaving.cancel()
    recorder.release.set()
    assert await staying == 20
    with pytest.raises(asyncio.CancelledError):
        await leaving
    # Two groups at once: each item started its own, and both were done.
    assert recorder.groups == [[1], [2]]


def test_a_group_holds_one_item_at_least() -> None:
    with pytest.raises(ValueError):
        GroupCommit(Recorder().do, group_size=0, groups_at_once=1, name="t")
