"""Reading and writing jobs in dispatch's database."""

from __future__ import annotations

from sqlalchemy import case, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.dispatch.db.models import JobRow
from services.dispatch.domain.job import Job, JobStatus

_FIELDS = (
    "request_no", "kind", "severity", "required_skill", "product_model", "serial_no",
    "customer_name", "customer_phone", "address", "region", "response_due_at",
    "created_at", "updated_at", "cancel_reason",
)  # fmt: skip


def _from_row(row: JobRow) -> Job:
    return Job(status=JobStatus(row.status), **{name: getattr(row, name) for name in _FIELDS})


class JobRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, request_no: str, lock: bool = False) -> Job | None:
        row = await self._row(request_no, lock)
        return None if row is None else _from_row(row)

    async def _row(self, request_no: str, lock: bool = False) -> JobRow | None:
        statement = select(JobRow).where(JobRow.request_no == request_no)
        if lock:
            statement = statement.with_for_update()
        return (await self._session.execute(statement)).scalar_one_or_none()

    async def save(self, job: Job) -> None:
        row = await self._row(job.request_no)
        if row is None:
            row = JobRow()
            self._session.add(row)
        for name in _FIELDS:
            setattr(row, name, getattr(job, name))
        row.status = job.status.value
        await self._session.flush()

    async def queue(self, status: JobStatus, limit: int) -> list[Job]:
        """Urgent before ordinary, then the earliest response due first."""
        urgency = case((JobRow.severity == "urgent", 0), else_=1)
        rows = await self._session.execute(
            select(JobRow)
            .where(JobRow.status == status.value)
            .order_by(urgency, JobRow.response_due_at.is_(None), JobRow.response_due_at, JobRow.id)
            .limit(limit)
        )
        return [_from_row(row) for row in rows.scalars()]
