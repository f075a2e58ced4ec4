"""Reports over the ledger."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.parts.commands.errors import NotFound
from services.parts.db.models import MovementRow, StockRow, WarehouseRow
from services.parts.domain.reconciliation import Reconciliation, reconcile
from services.parts.domain.stock import ReorderAdvice, advise_reorder


async def reconciliation(
    session: AsyncSession, warehouse_id: str, start: datetime, end: datetime
) -> Reconciliation:
    if await session.get(WarehouseRow, warehouse_id) is None:
        raise NotFound(f"No warehouse {warehouse_id}.")
    rows = await session.execute(
        select(MovementRow.part_no, MovementRow.kind, func.sum(MovementRow.quantity))
        .where(
            MovementRow.warehouse_id == warehouse_id,
            MovementRow.at >= start,
            MovementRow.at < end,
            or_(
                MovementRow.kind.in_(("issue", "consumption")),
                (MovementRow.kind == "return") & (MovementRow.reference == "unused"),
            ),
        )
        .group_by(MovementRow.part_no, MovementRow.kind)
    )
    return reconcile(warehouse_id, start, end, [(p, k, int(q)) for p, k, q in rows])


async def reorder_advice(
    session: AsyncSession, warehouse_id: str, start: datetime, end: datetime,
    lead_days: int, cover_days: int,
) -> list[ReorderAdvice]:  # fmt: skip
    """Reorder point and quantity per part from what the warehouse's jobs consumed."""
    if await session.get(WarehouseRow, warehouse_id) is None:
        raise NotFound(f"No warehouse {warehouse_id}.")
    days = max(1, (end - start).days)
    used = dict(
        (
            await session.execute(
                select(MovementRow.part_no, func.sum(MovementRow.quantity))
                .where(
                    MovementRow.warehouse_id == warehouse_id,
                    MovementRow.kind == "consumption",
                    MovementRow.at >= start,
                    MovementRow.at < end,
                )
                .group_by(MovementRow.part_no)
            )
        ).all()
    )
    stocked = (
        await session.execute(select(StockRow.part_no).where(StockRow.warehouse_id == warehouse_id))
    ).scalars()
    parts = sorted(set(used) | set(stocked))
    return [advise_reorder(p, int(used.get(p) or 0), days, lead_days, cover_days) for p in parts]
