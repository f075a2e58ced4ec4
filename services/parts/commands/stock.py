"""Warehouse work on stock: receipts, transfers, adjustments, scrap and reorder points.
Stock that arrives first fills the backorders waiting for it, then the replenishment plan
it was ordered for."""

from __future__ import annotations

from sqlalchemy import select

from services.parts.commands.errors import Conflict, NotFound
from services.parts.commands.reservations import fill_backorders
from services.parts.db.models import (
    PartRow,
    ReplenishmentLineRow,
    ReplenishmentPlanRow,
    WarehouseRow,
)
from services.parts.db.stockroom import Stockroom
from services.parts.domain.stock import MovementKind, StockRefused


async def _known(stockroom: Stockroom, part_no: str, *warehouse_ids: str) -> None:
    if await stockroom.session.get(PartRow, part_no) is None:
        raise NotFound(f"No part {part_no} in the catalogue.")
    for warehouse_id in warehouse_ids:
        if await stockroom.session.get(WarehouseRow, warehouse_id) is None:
            raise NotFound(f"No warehouse {warehouse_id}.")


async def receive(
    stockroom: Stockroom,
    part_no: str,
    warehouse_id: str,
    quantity: int,
    reference: str | None,
    plan_no: str | None = None,
) -> int:
    """Goods in from a supplier; returns the units that went straight to backorders."""
    await _known(stockroom, part_no, warehouse_id)
    plan = await _open_plan(stockroom, plan_no, warehouse_id)
    await stockroom.move(MovementKind.RECEIPT, part_no, warehouse_id, quantity,
                         reference=reference or plan_no)  # fmt: skip
    await _fill_plan(stockroom, plan, part_no, quantity)
    return await fill_backorders(stockroom, part_no, warehouse_id)


async def transfer(
    stockroom: Stockroom,
    part_no: str,
    source: str,
    target: str,
    quantity: int,
    reference: str | None,
    plan_no: str | None = None,
) -> int:
    await _known(stockroom, part_no, source, target)
    if source == target:
        raise Conflict("a transfer goes from one warehouse to another")
    plan = await _open_plan(stockroom, plan_no, target)
    await stockroom.lock([(part_no, source), (part_no, target)])
    try:
        await stockroom.move(MovementKind.TRANSFER_OUT, part_no, source, quantity,
                             reference=reference or plan_no)  # fmt: skip
    except StockRefused as exc:
        raise Conflict(str(exc)) from exc
    await stockroom.move(MovementKind.TRANSFER_IN, part_no, target, quantity,
                         reference=reference or plan_no)  # fmt: skip
    await _fill_plan(stockroom, plan, part_no, quantity)
    return await fill_backorders(stockroom, part_no, target)


async def adjust(
    stockroom: Stockroom, part_no: str, warehouse_id: str, change: int, reason: str
) -> None:
    """A stock count found more or fewer than the books say; the reason is kept."""
    await _known(stockroom, part_no, warehouse_id)
    try:
        await stockroom.move(MovementKind.ADJUSTMENT, part_no, warehouse_id, change, reason=reason)
    except StockRefused as exc:
        raise Conflict(str(exc)) from exc
    if change > 0:
        await fill_backorders(stockroom, part_no, warehouse_id)


async def scrap(
    stockroom: Stockroom, part_no: str, warehouse_id: str, quantity: int, reason: str
) -> None:
    await _known(stockroom, part_no, warehouse_id)
    try:
        await stockroom.move(MovementKind.SCRAP, part_no, warehouse_id, quantity, reason=reason)
    except StockRefused as exc:
        raise Conflict(str(exc)) from exc


async def set_reorder_point(
    stockroom: Stockroom, part_no: str, warehouse_id: str, point: int | None, quantity: int | None
) -> None:
    await _known(stockroom, part_no, warehouse_id)
    await stockroom.set_reorder_point(part_no, warehouse_id, point, quantity)


async def _open_plan(
    stockroom: Stockroom, plan_no: str | None, warehouse_id: str
) -> ReplenishmentPlanRow | None:
    if plan_no is None:
        return None
    plan = await stockroom.session.get(ReplenishmentPlanRow, plan_no, with_for_update=True)
    if plan is None:
        raise NotFound(f"No replenishment plan {plan_no}.")
    if plan.warehouse_id != warehouse_id:
        raise Conflict(f"plan {plan_no} is for warehouse {plan.warehouse_id}")
    if plan.status != "submitted":
        raise Conflict(f"plan {plan_no} is {plan.status}; only a submitted plan is filled")
    return plan


async def _fill_plan(
    stockroom: Stockroom, plan: ReplenishmentPlanRow | None, part_no: str, quantity: int
) -> None:
    if plan is None:
        return
    session = stockroom.session
    line = (
        await session.execute(
            select(ReplenishmentLineRow).where(
                ReplenishmentLineRow.plan_no == plan.plan_no,
                ReplenishmentLineRow.part_no == part_no,
            )
        )
    ).scalar_one_or_none()
    if line is None:
        raise Conflict(f"plan {plan.plan_no} does not ask for {part_no}")
    line.received += quantity
    await session.flush()
    lines = (
        await session.execute(
            select(ReplenishmentLineRow).where(ReplenishmentLineRow.plan_no == plan.plan_no)
        )
    ).scalars()
    if all(each.received >= each.quantity for each in lines):
        plan.status = "filled"
        plan.filled_at = stockroom.now
