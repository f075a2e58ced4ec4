"""Replenishment plans: a service centre's (or central's) list of what to order. A stock-low
suggestion lands in the warehouse's draft plan; staff adjust and submit it; receipts and
transfers naming the plan fill it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.parts.commands.errors import Conflict, NotFound
from services.parts.db.models import (
    PartRow,
    ReplenishmentLineRow,
    ReplenishmentPlanRow,
    WarehouseRow,
)
from services.parts.db.numbers import next_number


async def draft_plan(
    session: AsyncSession, warehouse_id: str, now: datetime
) -> ReplenishmentPlanRow:
    plan = (
        await session.execute(
            select(ReplenishmentPlanRow)
            .where(
                ReplenishmentPlanRow.warehouse_id == warehouse_id,
                ReplenishmentPlanRow.status == "draft",
            )
            .order_by(ReplenishmentPlanRow.created_at)
            .limit(1)
            .with_for_update()
        )
    ).scalar_one_or_none()
    if plan is None:
        plan = ReplenishmentPlanRow(
            plan_no=await next_number(session, "RP", now.year),
            warehouse_id=warehouse_id,
            status="draft",
            created_at=now,
        )
        session.add(plan)
        await session.flush()
    return plan


async def suggest(
    session: AsyncSession, warehouse_id: str, part_no: str, quantity: int, now: datetime
) -> bool:
    """File a stock-low suggestion into the warehouse's draft plan; a part already on the
    draft is left as staff set it. True when a line was added."""
    if await session.get(WarehouseRow, warehouse_id) is None:
        return False
    plan = await draft_plan(session, warehouse_id, now)
    line = (
        await session.execute(
            select(ReplenishmentLineRow).where(
                ReplenishmentLineRow.plan_no == plan.plan_no,
                ReplenishmentLineRow.part_no == part_no,
            )
        )
    ).scalar_one_or_none()
    if line is not None:
        return False
    session.add(
        ReplenishmentLineRow(
            plan_no=plan.plan_no, part_no=part_no, quantity=max(quantity, 1),
            received=0, suggested=True,
        )
    )  # fmt: skip
    await session.flush()
    return True


async def put_lines(
    session: AsyncSession, warehouse_id: str, lines: dict[str, int], now: datetime
) -> ReplenishmentPlanRow:
    """Set quantities on the warehouse's draft plan (0 removes a line)."""
    if await session.get(WarehouseRow, warehouse_id) is None:
        raise NotFound(f"No warehouse {warehouse_id}.")
    for part_no, quantity in lines.items():
        if quantity > 0 and await session.get(PartRow, part_no) is None:
            raise NotFound(f"No part {part_no}.")
    plan = await draft_plan(session, warehouse_id, now)
    existing = {
        line.part_no: line
        for line in (
            await session.execute(
                select(ReplenishmentLineRow).where(ReplenishmentLineRow.plan_no == plan.plan_no)
            )
        ).scalars()
    }
    for part_no, quantity in lines.items():
        line = existing.get(part_no)
        if quantity <= 0:
            if line is not None:
                await session.delete(line)
        elif line is None:
            session.add(
                ReplenishmentLineRow(
                    plan_no=plan.plan_no, part_no=part_no, quantity=quantity,
                    received=0, suggested=False,
                )
            )  # fmt: skip
        else:
            line.quantity = quantity
    await session.flush()
    return plan


async def submit(
    session: AsyncSession, plan_no: str, actor: str, now: datetime
) -> ReplenishmentPlanRow:
    plan = await session.get(ReplenishmentPlanRow, plan_no, with_for_update=True)
    if plan is None:
        raise NotFound(f"No replenishment plan {plan_no}.")
    if plan.status != "draft":
        raise Conflict(f"plan {plan_no} is {plan.status}; only a draft can be submitted")
    if not (await plan_lines(session, plan_no)):
        raise Conflict(f"plan {plan_no} has no lines")
    plan.status, plan.submitted_at, plan.submitted_by = "submitted", now, actor
    return plan


async def plan_lines(session: AsyncSession, plan_no: str) -> list[ReplenishmentLineRow]:
    return list(
        (
            await session.execute(
                select(ReplenishmentLineRow)
                .where(ReplenishmentLineRow.plan_no == plan_no)
                .order_by(ReplenishmentLineRow.part_no)
            )
        ).scalars()
    )
