"""The dispatch board at a glance: jobs by status, at risk, needing a promised time, and
technicians with today's load."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi import APIRouter, Request
from pydantic import BaseModel
from sqlalchemy import select

from services.dispatch.api.access import StaffReader
from services.dispatch.api.schemas import JobRead
from services.dispatch.db.jobs import JobRepository
from services.dispatch.db.models import JobRow, TechnicianRow
from services.dispatch.db.staff import DayLoads
from services.dispatch.domain.job import OPEN, JobStatus, needs_promised_time
from services.dispatch.settings import DispatchSettings
from shared.http.deps import UnitOfWorkDep

router = APIRouter(prefix="/api/v1/board", tags=["board"])


class TechnicianLoad(BaseModel):
    technician_id: str
    name: str
    service_point_id: str
    jobs_today: int
    max_jobs_per_day: int


class Board(BaseModel):
    jobs_by_status: dict[str, int]
    at_risk: list[JobRead]
    needing_promised_time: list[JobRead]
    loaners_to_deliver: list[JobRead]
    technicians: list[TechnicianLoad]


@router.get(
    "", summary="Counts by status, jobs at risk, jobs needing a promised time, today's loads"
)
async def board(request: Request, uow: UnitOfWorkDep, _: StaffReader) -> Board:
    settings = request.app.state.runtime.settings.service
    assert isinstance(settings, DispatchSettings)
    now = datetime.now(UTC)
    today = settings.service_hours().local_day(now)
    async with uow:
        jobs = JobRepository(uow.session)
        counts = await jobs.count_by_status()
        at_risk = await jobs.board(
            None, None, None, now + timedelta(minutes=settings.at_risk_minutes), 200
        )
        open_before_today = await uow.session.execute(
            select(JobRow)
            .where(
                JobRow.status.in_([s.value for s in OPEN]),
                JobRow.planned_day < today,
                JobRow.promised_at.is_(None),
            )
            .order_by(JobRow.planned_day, JobRow.id)
            .limit(200)
        )
        unpromised = [
            job
            for job in open_before_today.scalars()
            if needs_promised_time(job.planned_day, today, JobStatus(job.status), False)
        ]
        loaners = await uow.session.execute(
            select(JobRow)
            .where(
                JobRow.loaner_required_at.is_not(None),
                JobRow.loaner_delivered_at.is_(None),
                JobRow.status.in_([s.value for s in OPEN] + [JobStatus.ESCALATED.value]),
            )
            .order_by(JobRow.loaner_due_at, JobRow.id)
            .limit(200)
        )
        loads = await DayLoads(uow.session).today(today)
        technicians = (
            await uow.session.execute(
                select(TechnicianRow)
                .where(TechnicianRow.active.is_(True))
                .order_by(TechnicianRow.id)
            )
        ).scalars()
        return Board(
            jobs_by_status=counts,
            at_risk=[JobRead.model_validate(j) for j in at_risk],
            needing_promised_time=[JobRead.model_validate(j) for j in unpromised],
            loaners_to_deliver=[JobRead.model_validate(j) for j in loaners.scalars()],
            technicians=[
                TechnicianLoad(
                    technician_id=t.id,
                    name=t.name,
                    service_point_id=t.service_point_id,
                    jobs_today=loads.get(t.id, 0),
                    max_jobs_per_day=t.max_jobs_per_day,
                )
                for t in technicians
            ],
        )
