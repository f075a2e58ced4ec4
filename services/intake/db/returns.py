"""Returns for repair in intake's database."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake.db.models import ReturnForRepairRow, SequenceRow
from services.intake.domain.return_for_repair import (
    ReplacedPart,
    ReturnForRepair,
    ReturnStatus,
    ReturnStep,
    WorkshopRepair,
)
from services.intake.domain.service_request import Cause
from shared.db.sequences import upsert_increment


def _from_row(row: ReturnForRepairRow) -> ReturnForRepair:
    return ReturnForRepair(
        return_no=row.return_no, request_no=row.request_no, product_model=row.product_model,
        serial_no=row.serial_no, in_warranty=row.in_warranty, condition=row.condition,
        accessories=tuple(row.accessories), received_at=row.received_at,
        status=ReturnStatus(row.status), location=row.location, repair_rounds=row.repair_rounds,
        carrier=row.carrier, tracking_no=row.tracking_no, shipping_cost=row.shipping_cost,
        shipped_at=row.shipped_at, confirmed_at=row.confirmed_at,
        repair=None if row.repair is None else _repair(row.repair),
        history=tuple(
            ReturnStep(datetime.fromisoformat(h["at"]), ReturnStatus(h["status"]), h["note"],
                       h["by"])
            for h in row.history
        ),
    )  # fmt: skip


def _repair(stored: dict[str, Any]) -> WorkshopRepair:
    return WorkshopRepair(
        cause=Cause(stored["cause"]), fault_code=stored["fault_code"],
        labour_hours=Decimal(stored["labour_hours"]), repaired_by=stored["repaired_by"],
        parts_replaced=tuple(
            ReplacedPart(p["part_no"], p["quantity"], p["old_part_serial"])
            for p in stored["parts_replaced"]
        ),
    )  # fmt: skip


def _to_row(r: ReturnForRepair, row: ReturnForRepairRow) -> None:
    row.return_no, row.request_no, row.product_model = r.return_no, r.request_no, r.product_model
    row.serial_no, row.in_warranty, row.condition = r.serial_no, r.in_warranty, r.condition
    row.accessories, row.received_at, row.status = list(r.accessories), r.received_at, r.status
    row.location, row.repair_rounds, row.carrier = r.location, r.repair_rounds, r.carrier
    row.tracking_no, row.shipping_cost = r.tracking_no, r.shipping_cost
    row.shipped_at, row.confirmed_at = r.shipped_at, r.confirmed_at
    row.repair = None if r.repair is None else {
        "cause": r.repair.cause.value, "fault_code": r.repair.fault_code,
        "labour_hours": str(r.repair.labour_hours), "repaired_by": r.repair.repaired_by,
        "parts_replaced": [
            {"part_no": p.part_no, "quantity": p.quantity, "old_part_serial": p.old_part_serial}
            for p in r.repair.parts_replaced
        ],
    }  # fmt: skip
    row.history = [
        {"at": h.at.isoformat(), "status": h.status.value, "note": h.note, "by": h.by}
        for h in r.history
    ]


class Returns:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def next_number(self, year: int) -> str:
        """``RR-<year>-<6 digits>``, gap-free."""
        statement = upsert_increment(
            self._session, SequenceRow.__table__, {"name": f"return-{year}"}, "last_value"
        )
        return f"RR-{year}-{(await self._session.execute(statement)).scalar_one():06d}"

    async def _row(self, request_no: str, lock: bool) -> ReturnForRepairRow | None:
        statement = select(ReturnForRepairRow).where(ReturnForRepairRow.request_no == request_no)
        if lock:
            statement = statement.with_for_update()
        return (await self._session.execute(statement)).scalar_one_or_none()

    async def of_request(self, request_no: str, lock: bool = False) -> ReturnForRepair | None:
        row = await self._row(request_no, lock)
        return None if row is None else _from_row(row)

    async def add(self, r: ReturnForRepair) -> None:
        row = ReturnForRepairRow()
        _to_row(r, row)
        self._session.add(row)
        await self._session.flush()

    async def save(self, r: ReturnForRepair) -> None:
        row = await self._row(r.request_no, lock=True)
        if row is None:
            raise LookupError(r.request_no)
        _to_row(r, row)
        await self._session.flush()

    async def listed(self, status: ReturnStatus | None, limit: int) -> list[ReturnForRepair]:
        statement = select(ReturnForRepairRow)
        if status is not None:
            statement = statement.where(ReturnForRepairRow.status == status.value)
        statement = statement.order_by(
            ReturnForRepairRow.received_at.desc(), ReturnForRepairRow.id.desc()
        ).limit(limit)
        return [_from_row(row) for row in (await self._session.execute(statement)).scalars()]
