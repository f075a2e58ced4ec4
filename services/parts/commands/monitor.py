"""The background monitor every parts process runs: expired reservations, overdue old parts,
uncollected old parts, and the gauges. SKIP LOCKED lets several instances share the work."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import func, select

from services.parts.commands import cores
from services.parts.commands.reservations import expire_due
from services.parts.db.models import ReservationLineRow, ReservationRow, StockRow
from services.parts.db.stockroom import Stockroom
from services.parts.metrics import (
    BACKORDERED_UNITS,
    BELOW_REORDER_POINT,
    CORES_OVERDUE,
    RESERVATIONS,
)
from shared.db.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)
STATES = ("confirmed", "backordered", "issued", "closed")


async def run_due_work(uow: UnitOfWork, now: datetime, disposal_cost: Decimal) -> dict[str, int]:
    """One pass: what fell due up to ``now``, in one transaction."""
    async with uow:
        stockroom = Stockroom(uow, now, actor="monitor")
        expired = await expire_due(stockroom)
        overdue = await cores.report_overdue(stockroom)
        disposed = await cores.dispose_uncollected(stockroom, disposal_cost)
        await uow.commit()
    return {"expired": len(expired), "overdue": overdue, "disposed": disposed}


async def count_gauges(uow: UnitOfWork, now: datetime) -> None:
    async with uow:
        session = uow.session
        below = (
            await session.execute(
                select(func.count()).where(
                    StockRow.reorder_point.is_not(None),
                    StockRow.on_hand - StockRow.reserved <= StockRow.reorder_point,
                )
            )
        ).scalar_one()
        states = dict(
            (
                await session.execute(
                    select(ReservationRow.status, func.count()).group_by(ReservationRow.status)
                )
            ).all()
        )
        waiting = dict(
            (
                await session.execute(
                    select(ReservationRow.priority, func.sum(ReservationLineRow.backordered))
                    .join(
                        ReservationLineRow,
                        ReservationLineRow.reservation_id == ReservationRow.reservation_id,
                    )
                    .where(ReservationRow.status == "backordered")
                    .group_by(ReservationRow.priority)
                )
            ).all()
        )
        overdue = await cores.overdue_count(Stockroom(uow, now))
    BELOW_REORDER_POINT.set(below)
    for state in STATES:
        RESERVATIONS.labels(state).set(states.get(state, 0))
    for priority in ("emergency", "urgent", "ordinary"):
        BACKORDERED_UNITS.labels(priority).set(int(waiting.get(priority) or 0))
    CORES_OVERDUE.set(overdue)


async def watch(
    unit_of_work: Callable[[], UnitOfWork], every: float, disposal_cost: Decimal
) -> None:
    while True:
        await asyncio.sleep(every)
        try:
            now = datetime.now(UTC)
            await run_due_work(unit_of_work(), now, disposal_cost)
            await count_gauges(unit_of_work(), now)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("parts monitor pass failed", extra={"error": repr(exc)[:300]})
