"""The stock balances and their ledger: every change goes through ``Stockroom.move``, which
locks the balance row, refuses what would go negative, writes the ledger entry and notices
when available stock falls to the reorder point."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from services.parts.db.models import MovementRow, StockRow, WarehouseRow
from services.parts.domain.stock import (
    Balance,
    LedgerEntry,
    MovementKind,
    WarehouseKind,
    ledger_disagreements,
    reorder_crossing,
)
from services.parts.metrics import MOVEMENTS, STOCK_LOW
from shared.db.unit_of_work import UnitOfWork
from shared.events.schemas.parts import StockLowV1

Key = tuple[str, str]  # (part_no, warehouse_id)


class Stockroom:
    """Stock changes within one unit of work, at one moment, by one actor."""

    def __init__(self, uow: UnitOfWork, now: datetime, actor: str | None = None) -> None:
        self.uow = uow
        self.session: AsyncSession = uow.session
        self.now = now
        self.actor = actor
        self._locked: dict[Key, StockRow] = {}
        # Low or not as the transaction found each balance, and the balances announced low in
        # it: a receipt that backorders take straight away is no recovery, so the stock is
        # announced low once per crossing as others see it, not once per movement.
        self._low_before: dict[Key, bool] = {}
        self._announced: set[Key] = set()

    async def lock(self, keys: Iterable[Key]) -> dict[Key, StockRow]:
        """Lock the balance rows (creating missing ones) in one fixed order, so two
        transactions wanting the same rows queue instead of deadlocking."""
        keys = list(keys)
        wanted = sorted(set(keys) - set(self._locked))
        if wanted:
            insert = (
                postgresql.insert
                if self.session.get_bind().dialect.name == "postgresql"
                else sqlite.insert
            )
            await self.session.execute(
                insert(StockRow)
                .values(
                    [
                        {"part_no": p, "warehouse_id": w, "on_hand": 0, "reserved": 0, "low": False}
                        for p, w in wanted
                    ]
                )
                .on_conflict_do_nothing()
            )
            for part_no, warehouse_id in wanted:
                row = (
                    await self.session.execute(
                        select(StockRow)
                        .where(StockRow.part_no == part_no, StockRow.warehouse_id == warehouse_id)
                        .with_for_update()
                        .execution_options(populate_existing=True)
                    )
                ).scalar_one()
                self._locked[(part_no, warehouse_id)] = row
                self._low_before[(part_no, warehouse_id)] = row.low
        return {key: self._locked[key] for key in keys}

    async def row(self, part_no: str, warehouse_id: str) -> StockRow:
        return (await self.lock([(part_no, warehouse_id)]))[(part_no, warehouse_id)]

    async def move(
        self,
        kind: MovementKind,
        part_no: str,
        warehouse_id: str,
        quantity: int,
        *,
        request_no: str | None = None,
        reference: str | None = None,
        reason: str | None = None,
    ) -> StockRow:
        row = await self.row(part_no, warehouse_id)
        before = Balance(row.on_hand, row.reserved)
        after = before.after(kind, quantity)
        row.on_hand, row.reserved = after.on_hand, after.reserved
        self.session.add(
            MovementRow(
                at=self.now,
                kind=kind.value,
                part_no=part_no,
                warehouse_id=warehouse_id,
                quantity=quantity,
                on_hand_change=after.on_hand - before.on_hand,
                reserved_change=after.reserved - before.reserved,
                request_no=request_no,
                reference=reference,
                reason=reason,
                actor=self.actor,
            )
        )
        MOVEMENTS.labels(kind.value).inc()
        await self._watch_reorder_point(row)
        return row

    async def _watch_reorder_point(self, row: StockRow) -> None:
        key = (row.part_no, row.warehouse_id)
        was_low = self._low_before.get(key, row.low) or key in self._announced
        crossing = reorder_crossing(row.on_hand - row.reserved, row.reorder_point, was_low)
        row.low = crossing.now_low
        if crossing.suggest:
            assert row.reorder_point is not None
            self._announced.add(key)
            STOCK_LOW.inc()
            await self.uow.publish(
                StockLowV1(
                    part_no=row.part_no,
                    warehouse_id=row.warehouse_id,
                    available=row.on_hand - row.reserved,
                    reorder_point=row.reorder_point,
                    reorder_quantity=row.reorder_quantity or 0,
                    at=self.now,
                )
            )

    async def set_reorder_point(
        self, part_no: str, warehouse_id: str, point: int | None, quantity: int | None
    ) -> StockRow:
        row = await self.row(part_no, warehouse_id)
        row.reorder_point, row.reorder_quantity = point, quantity
        row.low = row.low and point is not None and row.on_hand - row.reserved <= point
        # A new point is judged afresh: below it now means announced now.
        self._low_before[(part_no, warehouse_id)] = row.low
        await self._watch_reorder_point(row)
        return row


async def central_warehouse(session: AsyncSession) -> WarehouseRow | None:
    return (
        await session.execute(
            select(WarehouseRow)
            .where(WarehouseRow.kind == WarehouseKind.CENTRAL.value)
            .order_by(WarehouseRow.warehouse_id)
            .limit(1)
        )
    ).scalar_one_or_none()


async def old_parts_store(session: AsyncSession) -> WarehouseRow | None:
    return (
        await session.execute(
            select(WarehouseRow)
            .where(WarehouseRow.kind == WarehouseKind.OLD_PARTS.value)
            .order_by(WarehouseRow.warehouse_id)
            .limit(1)
        )
    ).scalar_one_or_none()


async def service_centre_of(
    session: AsyncSession, service_point_id: str | None
) -> WarehouseRow | None:
    if service_point_id is None:
        return None
    return (
        await session.execute(
            select(WarehouseRow).where(
                WarehouseRow.service_point_id == service_point_id,
                WarehouseRow.kind == WarehouseKind.SERVICE_CENTRE.value,
            )
        )
    ).scalar_one_or_none()


async def van_of(session: AsyncSession, technician_id: str | None) -> WarehouseRow | None:
    if technician_id is None:
        return None
    return (
        await session.execute(
            select(WarehouseRow).where(
                WarehouseRow.technician_id == technician_id,
                WarehouseRow.kind == WarehouseKind.VAN.value,
            )
        )
    ).scalar_one_or_none()


async def ledger_problems(session: AsyncSession) -> list[str]:
    """Balances that differ from their ledger, or went negative: empty when all is well."""
    balances = {
        (r.part_no, r.warehouse_id): Balance(r.on_hand, r.reserved)
        for r in (await session.execute(select(StockRow))).scalars()
    }
    sums = await session.execute(
        select(
            MovementRow.part_no,
            MovementRow.warehouse_id,
            func.sum(MovementRow.on_hand_change),
            func.sum(MovementRow.reserved_change),
        ).group_by(MovementRow.part_no, MovementRow.warehouse_id)
    )
    entries = [LedgerEntry(p, w, int(o or 0), int(r or 0)) for p, w, o, r in sums]
    return ledger_disagreements(balances, entries)
