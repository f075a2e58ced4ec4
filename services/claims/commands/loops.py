"""The claims desk: what runs in every instance beside the consumer. New claims are
adjudicated, waiting claims go through the old-part gate once parts has reported, and
supplier recoveries past their dispute window become final — each claim and recovery in its
own transaction, so one that fails is logged, counted and retried on the next pass without
holding up the others. Instances skip rows another one has locked."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from services.claims.commands.adjudication import (
    adjudicate_claim,
    resolve_waiting_claim,
    set_aside,
    waiting_claim_nos,
)
from services.claims.commands.desk import Desk
from services.claims.commands.recovery import finalize_if_due, recoveries_due
from services.claims.commands.settlements import close_month, previous_month
from services.claims.db.repository import ClaimRepository
from services.claims.metrics import DESK_FAILURES
from shared.db.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)


async def _adjudicate_next(
    unit_of_work: Callable[[], UnitOfWork], desk: Desk, now: datetime
) -> bool:
    """Decide the next submitted claim; False when there is none."""
    failure: tuple[str, str] | None = None
    uow = unit_of_work()
    async with uow:
        numbers = await ClaimRepository(uow.session).claim_nos_to_adjudicate(1)
        if not numbers:
            return False
        try:
            await adjudicate_claim(uow, desk, numbers[0], now)
            await uow.commit()
        except Exception as exc:
            log.exception("claim could not be adjudicated", extra={"claim_no": numbers[0]})
            DESK_FAILURES.labels(step="adjudicate").inc()
            failure = (numbers[0], repr(exc)[:200])
    if failure is not None:
        uow = unit_of_work()
        async with uow:
            await set_aside(uow, *failure, now)
            await uow.commit()
    return True


async def _each_on_its_own(
    unit_of_work: Callable[[], UnitOfWork],
    step: str,
    numbers: list[str],
    work: Callable[[UnitOfWork, str], Awaitable[bool]],
) -> int:
    """Run ``work`` on each number in a transaction of its own; a failure is logged and
    counted, and the number is tried again on the next pass."""
    moved = 0
    for number in numbers:
        uow = unit_of_work()
        try:
            async with uow:
                if await work(uow, number):
                    moved += 1
                await uow.commit()
        except Exception:
            log.exception("claims desk step failed", extra={"step": step, "number": number})
            DESK_FAILURES.labels(step=step).inc()
    return moved


async def desk_pass(
    unit_of_work: Callable[[], UnitOfWork], desk: Desk, now: datetime | None = None
) -> int:
    """One pass; returns how many things it moved."""
    at = now or datetime.now(UTC)
    moved = 0
    while await _adjudicate_next(unit_of_work, desk, at):
        moved += 1
    uow = unit_of_work()
    async with uow:
        waiting = await waiting_claim_nos(uow)
        due = await recoveries_due(uow, at)
    moved += await _each_on_its_own(
        unit_of_work,
        "old_part_gate",
        waiting,
        lambda uow, claim_no: resolve_waiting_claim(uow, desk, claim_no, at),
    )
    moved += await _each_on_its_own(
        unit_of_work,
        "finalize_recovery",
        due,
        lambda uow, recovery_no: finalize_if_due(uow, desk, recovery_no, at),
    )
    if desk.close_months_automatically:
        # Idempotent: a party's month closes once, and nothing is decided in a past month.
        try:
            uow = unit_of_work()
            async with uow:
                moved += len(await close_month(uow, desk, previous_month(at), at))
                await uow.commit()
        except Exception:
            log.exception("claims month could not be closed")
            DESK_FAILURES.labels(step="close_month").inc()
    return moved


async def run_desk(unit_of_work: Callable[[], UnitOfWork], desk: Desk, every: float) -> None:
    while True:
        try:
            await desk_pass(unit_of_work, desk)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("claims desk pass failed", extra={"error": repr(exc)[:300]})
        await asyncio.sleep(every)
