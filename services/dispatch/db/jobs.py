"""Reading and writing jobs, their history and their assignment explanations."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.dispatch.db.models import AssignmentRow, JobHistoryRow, JobRow
from services.dispatch.domain.job import OPEN, JobStatus

# Every assignment reads its job and who declined it: the statements are built once
# (building one costs SQLAlchemy more CPU than looking up its compiled form).
_JOB = select(JobRow).where(JobRow.request_no == bindparam("request_no"))
_JOB_LOCKED = _JOB.with_for_update().execution_options(populate_existing=True)
_JOB_SKIP_LOCKED = _JOB.with_for_update(skip_locked=True).execution_options(populate_existing=True)
_DECLINED = select(JobHistoryRow.technician_id).where(
    JobHistoryRow.request_no == bindparam("request_no"), JobHistoryRow.what == "declined"
)


class JobRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(
        self, request_no: str, lock: bool = False, skip_locked: bool = False
    ) -> JobRow | None:
        """``skip_locked``: None when another transaction holds the job (PostgreSQL)."""
        statement = _JOB if not lock else _JOB_SKIP_LOCKED if skip_locked else _JOB_LOCKED
        found = await self._session.execute(statement, {"request_no": request_no})
        return found.scalar_one_or_none()

    def add(self, row: JobRow) -> None:
        self._session.add(row)

    async def note(
        self,
        job: JobRow,
        what: str,
        actor: str,
        at: datetime,
        note: str | None = None,
        technician_id: str | None = None,
    ) -> None:
        self._session.add(self.history_row(job, what, actor, at, note, technician_id))

    @staticmethod
    def history_row(
        job: JobRow,
        what: str,
        actor: str,
        at: datetime,
        note: str | None = None,
        technician_id: str | None = None,
    ) -> JobHistoryRow:
        """The row ``note`` adds: the job as it is now."""
        return JobHistoryRow(
            request_no=job.request_no,
            status=job.status,
            what=what,
            actor=actor,
            note=note,
            technician_id=technician_id or job.technician_id,
            at=at,
        )

    async def history(self, request_no: str) -> list[JobHistoryRow]:
        rows = await self._session.execute(
            select(JobHistoryRow)
            .where(JobHistoryRow.request_no == request_no)
            .order_by(JobHistoryRow.id)
        )
        return list(rows.scalars())

    async def declined_by(self, request_no: str) -> frozenset[str]:
        rows = await self._session.execute(_DECLINED, {"request_no": request_no})
        return frozenset(tid for (tid,) in rows if tid)

    async def record_assignment(
        self,
        request_no: str,
        how: str,
        technician_id: str | None,
        actor: str,
        reason: str | None,
        explanation: dict[str, Any],
        at: datetime,
    ) -> None:
        self._session.add(
            self.assignment_row(request_no, how, technician_id, actor, reason, explanation, at)
        )

    @staticmethod
    def assignment_row(
        request_no: str,
        how: str,
        technician_id: str | None,
        actor: str,
        reason: str | None,
        explanation: dict[str, Any],
        at: datetime,
    ) -> AssignmentRow:
        """The row ``record_assignment`` adds."""
        return AssignmentRow(
            request_no=request_no,
            how=how,
            technician_id=technician_id,
            actor=actor,
            reason=reason,
            explanation=explanation,
            decided_at=at,
        )

    async def assignments(self, request_no: str) -> list[AssignmentRow]:
        rows = await self._session.execute(
            select(AssignmentRow)
            .where(AssignmentRow.request_no == request_no)
            .order_by(AssignmentRow.id)
        )
        return list(rows.scalars())

    async def board(
        self,
        status: JobStatus | None,
        region: str | None,
        technician_id: str | None,
        due_before: datetime | None,
        limit: int,
    ) -> list[JobRow]:
        """Urgent before ordinary, then the earliest arrival (or response) due first."""
        urgency = case((JobRow.severity == "urgent", 0), else_=1)
        due = func.coalesce(JobRow.arrival_due_at, JobRow.response_due_at)
        statement = (
            select(JobRow)
            # Placeholders (news of a request before its triage) are not jobs yet.
            .where(JobRow.kind != "")
            .order_by(urgency, due.is_(None), due, JobRow.id)
            .limit(limit)
        )
        if status is not None:
            statement = statement.where(JobRow.status == status.value)
        if region:
            statement = statement.where(JobRow.region == region)
        if technician_id:
            statement = statement.where(JobRow.technician_id == technician_id)
        if due_before is not None:
            statement = statement.where(
                JobRow.status.in_([s.value for s in OPEN]),
                JobRow.arrived_at.is_(None),
                JobRow.arrival_due_at <= due_before,
            )
        return list((await self._session.execute(statement)).scalars())

    async def unassigned_numbers(self, limit: int) -> list[str]:
        urgency = case((JobRow.severity == "urgent", 0), else_=1)
        rows = await self._session.execute(
            select(JobRow.request_no)
            .where(JobRow.status == JobStatus.UNASSIGNED.value, JobRow.kind != "")
            .order_by(urgency, JobRow.arrival_due_at.is_(None), JobRow.arrival_due_at, JobRow.id)
            .limit(limit)
        )
        return [number for (number,) in rows]

    async def satisfaction_by_technician(self) -> dict[str, tuple[float, int]]:
        """Technician → (average survey score, how many surveys) over their jobs."""
        rows = await self._session.execute(
            select(JobRow.technician_id, func.avg(JobRow.satisfaction_score), func.count())
            .where(JobRow.satisfaction_score.is_not(None), JobRow.technician_id.is_not(None))
            .group_by(JobRow.technician_id)
        )
        return {tid: (float(average), count) for tid, average, count in rows}

    async def count_by_status(self) -> dict[str, int]:
        rows = await self._session.execute(
            select(JobRow.status, func.count()).where(JobRow.kind != "").group_by(JobRow.status)
        )
        return {status: count for status, count in rows}

    async def last_completed_repair(
        self, serial_no: str, fault_code: str, not_request_no: str
    ) -> JobRow | None:
        rows = await self._session.execute(
            select(JobRow)
            .where(
                JobRow.serial_no == serial_no,
                JobRow.fault_code == fault_code,
                JobRow.request_no != not_request_no,
                JobRow.completed_at.is_not(None),
            )
            .order_by(JobRow.completed_at.desc())
            .limit(1)
        )
        return rows.scalar_one_or_none()
