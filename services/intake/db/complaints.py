"""The complaints register in intake's database."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake.db.models import ComplaintRow, SequenceRow
from services.intake.domain.complaint import (
    Complaint,
    ComplaintCause,
    ComplaintStatus,
    HandlingStep,
    StepKind,
)
from shared.db.sequences import upsert_increment


def complaint_from_row(row: ComplaintRow) -> Complaint:
    return Complaint(
        complaint_no=row.complaint_no, request_no=row.request_no,
        product_model=row.product_model, description=row.description,
        cause=ComplaintCause(row.cause), received_at=row.received_at, opened_at=row.opened_at,
        status=ComplaintStatus(row.status),
        steps=tuple(
            HandlingStep(datetime.fromisoformat(s["at"]), StepKind(s["kind"]), s["note"], s["by"])
            for s in row.steps
        ),
        result=row.result, resolved_at=row.resolved_at, reported_at=row.reported_at,
    )  # fmt: skip


def _to_row(complaint: Complaint, row: ComplaintRow) -> None:
    row.complaint_no, row.request_no = complaint.complaint_no, complaint.request_no
    row.product_model, row.description = complaint.product_model, complaint.description
    row.cause, row.status = complaint.cause.value, complaint.status.value
    row.steps = [
        {"at": s.at.isoformat(), "kind": s.kind.value, "note": s.note, "by": s.by}
        for s in complaint.steps
    ]
    row.result, row.resolved_at, row.reported_at = (
        complaint.result,
        complaint.resolved_at,
        complaint.reported_at,
    )
    row.received_at, row.opened_at = complaint.received_at, complaint.opened_at


class ComplaintRegister:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def next_number(self, year: int) -> str:
        """``CP-<year>-<6 digits>``, gap-free like request numbers."""
        statement = upsert_increment(
            self._session, SequenceRow.__table__, {"name": f"complaint-{year}"}, "last_value"
        )
        sequence = (await self._session.execute(statement)).scalar_one()
        return f"CP-{year}-{sequence:06d}"

    async def _row(self, request_no: str, lock: bool = False) -> ComplaintRow | None:
        statement = select(ComplaintRow).where(ComplaintRow.request_no == request_no)
        if lock:
            statement = statement.with_for_update()
        return (await self._session.execute(statement)).scalar_one_or_none()

    async def of_request(self, request_no: str, lock: bool = False) -> Complaint | None:
        row = await self._row(request_no, lock)
        return None if row is None else complaint_from_row(row)

    async def add(self, complaint: Complaint, opened_by: str) -> None:
        row = ComplaintRow(opened_by=opened_by)
        _to_row(complaint, row)
        self._session.add(row)
        await self._session.flush()

    async def save(self, complaint: Complaint) -> None:
        row = await self._row(complaint.request_no, lock=True)
        if row is None:
            raise LookupError(complaint.request_no)
        _to_row(complaint, row)
        await self._session.flush()

    async def listed(
        self,
        status: ComplaintStatus | None = None,
        cause: ComplaintCause | None = None,
        product_model: str | None = None,
        received_from: datetime | None = None,
        received_to: datetime | None = None,
        limit: int = 1000,
    ) -> list[Complaint]:
        statement = select(ComplaintRow)
        if status is not None:
            statement = statement.where(ComplaintRow.status == status.value)
        if cause is not None:
            statement = statement.where(ComplaintRow.cause == cause.value)
        if product_model is not None:
            statement = statement.where(ComplaintRow.product_model == product_model)
        if received_from is not None:
            statement = statement.where(ComplaintRow.received_at >= received_from)
        if received_to is not None:
            statement = statement.where(ComplaintRow.received_at < received_to)
        statement = statement.order_by(ComplaintRow.received_at.desc(), ComplaintRow.id.desc())
        rows = (await self._session.execute(statement.limit(limit))).scalars()
        return [complaint_from_row(row) for row in rows]

    async def analysed(
        self, received_from: datetime | None, received_to: datetime | None
    ) -> list[tuple[str, str, datetime]]:
        statement = select(ComplaintRow.cause, ComplaintRow.product_model, ComplaintRow.received_at)
        if received_from is not None:
            statement = statement.where(ComplaintRow.received_at >= received_from)
        if received_to is not None:
            statement = statement.where(ComplaintRow.received_at < received_to)
        return [(c, m, r) for c, m, r in (await self._session.execute(statement)).all()]
