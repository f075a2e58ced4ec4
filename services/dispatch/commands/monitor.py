"""The background watch in every dispatch instance: arrival and loaner due times that pass
(emitted once, counted), loaners that become due, jobs that missed the same-day rule
(flagged once, counted), and the gauges of the board. Rows are taken
with SKIP LOCKED so several instances share the work without doing it twice."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import func, select

from services.dispatch.db.jobs import JobRepository
from services.dispatch.db.models import JobRow, TechnicianDayLoadRow, TechnicianRow
from services.dispatch.db.staff import technician_hours
from services.dispatch.domain.arrival import loaner_due
from services.dispatch.domain.calendar import end_of_working_day
from services.dispatch.domain.job import OPEN, JobStatus, same_day_missed
from services.dispatch.metrics import (
    JOBS,
    NEEDING_PROMISED_TIME,
    SAME_DAY_MISSED,
    SLA_BREACHES,
    UNASSIGNED_JOBS,
    UTILISATION,
)
from services.dispatch.settings import DispatchSettings
from shared.db.unit_of_work import UnitOfWork
from shared.events.schemas.dispatch import DispatchSlaBreachedV1, LoanerRequiredV1

log = logging.getLogger(__name__)
OPEN_VALUES = [s.value for s in OPEN]
WITH_TECHNICIAN = [s for s in OPEN_VALUES if s != JobStatus.UNASSIGNED.value]
ON_SITE_VALUES = [JobStatus.ON_SITE.value, JobStatus.WAITING_PARTS.value, JobStatus.ESCALATED.value]


async def check_due_times(uow: UnitOfWork, settings: DispatchSettings, now: datetime) -> list[str]:
    """One pass, inside the caller's transaction; the breached targets, counted after commit."""
    session = uow.session
    breached: list[str] = []
    late = await session.execute(
        select(JobRow)
        .where(
            JobRow.status.in_(OPEN_VALUES),
            JobRow.kind != "",
            JobRow.arrived_at.is_(None),
            JobRow.arrival_breached_at.is_(None),
            JobRow.arrival_due_at < now,
        )
        .limit(500)
        .with_for_update(skip_locked=True)
    )
    for job in late.scalars():
        assert job.arrival_due_at is not None
        job.arrival_breached_at = now
        await uow.publish(
            DispatchSlaBreachedV1(
                request_no=job.request_no,
                target="arrival",
                due_at=job.arrival_due_at,
                breached_at=now,
            )
        )
        breached.append("arrival")
    targets = settings.arrival_targets()
    unrepaired = await session.execute(
        select(JobRow)
        .where(
            JobRow.status.in_(ON_SITE_VALUES),
            JobRow.loaner_required_at.is_(None),
            JobRow.arrived_at < now - targets.loaner_after,
        )
        .limit(500)
        .with_for_update(skip_locked=True)
    )
    for job in unrepaired.scalars():
        assert job.arrived_at is not None
        required_at, due_at = loaner_due(job.arrived_at, targets)
        job.loaner_required_at, job.loaner_due_at = required_at, due_at
        await JobRepository(session).note(job, "loaner_required", "dispatch", now)
        await uow.publish(
            LoanerRequiredV1(
                request_no=job.request_no,
                product_model=job.product_model,
                serial_no=job.serial_no,
                customer_name=job.customer_name,
                address=job.address,
                due_at=due_at,
                required_at=now,
            )
        )
    loaner_late = await session.execute(
        select(JobRow)
        .where(
            JobRow.status.in_(ON_SITE_VALUES),
            JobRow.loaner_breached_at.is_(None),
            JobRow.loaner_delivered_at.is_(None),
            JobRow.loaner_due_at < now,
        )
        .limit(500)
        .with_for_update(skip_locked=True)
    )
    for job in loaner_late.scalars():
        assert job.loaner_due_at is not None
        job.loaner_breached_at = now
        await uow.publish(
            DispatchSlaBreachedV1(
                request_no=job.request_no,
                target="loaner",
                due_at=job.loaner_due_at,
                breached_at=now,
            )
        )
        breached.append("loaner")
    await session.flush()
    return breached


async def flag_same_day_missed(uow: UnitOfWork, settings: DispatchSettings, now: datetime) -> int:
    """Same-day rule: a job still open, without a promised time, once its technician's
    working day (on the job's planned day) is over, is flagged once — a note in its history
    for the board, counted after commit. Returns how many were flagged."""
    session = uow.session
    today = settings.service_hours().local_day(now)
    found = await session.execute(
        select(JobRow, TechnicianRow.shifts, TechnicianRow.leave)
        .join(TechnicianRow, TechnicianRow.id == JobRow.technician_id)
        .where(
            JobRow.status.in_(WITH_TECHNICIAN),
            JobRow.kind != "",
            JobRow.promised_at.is_(None),
            JobRow.same_day_missed_at.is_(None),
            JobRow.planned_day <= today,
        )
        .limit(500)
        .with_for_update(of=JobRow, skip_locked=True)
    )
    flagged = 0
    jobs = JobRepository(session)
    for job, shifts, leave in found.all():
        assert job.planned_day is not None
        hours = technician_hours(settings.calendar_zone, shifts, leave)
        ends = end_of_working_day(hours, job.planned_day)
        if not same_day_missed(ends, now, JobStatus(job.status), job.promised_at is not None):
            continue
        job.same_day_missed_at = now
        await jobs.note(job, "same_day_missed", "dispatch", now, note=ends.isoformat())
        log.warning(
            "job not finished on its day and no promised time",
            extra={"request_no": job.request_no, "technician_id": job.technician_id},
        )
        flagged += 1
    await session.flush()
    return flagged


def count_breaches(targets: list[str]) -> None:
    for target in targets:
        SLA_BREACHES.labels(target).inc()


async def refresh_gauges(uow: UnitOfWork, settings: DispatchSettings, now: datetime) -> None:
    counts = await JobRepository(uow.session).count_by_status()
    for status in JobStatus:
        JOBS.labels(status.value).set(counts.get(status.value, 0))
    UNASSIGNED_JOBS.set(counts.get(JobStatus.UNASSIGNED.value, 0))
    today = settings.service_hours().local_day(now)
    NEEDING_PROMISED_TIME.set(
        (
            await uow.session.execute(
                select(func.count()).where(
                    JobRow.status.in_(WITH_TECHNICIAN),
                    JobRow.kind != "",
                    JobRow.promised_at.is_(None),
                    JobRow.planned_day < today,
                )
            )
        ).scalar_one()
    )
    capacity = (
        await uow.session.execute(
            select(func.coalesce(func.sum(TechnicianRow.max_jobs_per_day), 0)).where(
                TechnicianRow.active.is_(True)
            )
        )
    ).scalar_one()
    planned = (
        await uow.session.execute(
            select(func.coalesce(func.sum(TechnicianDayLoadRow.jobs), 0)).where(
                TechnicianDayLoadRow.day == today
            )
        )
    ).scalar_one()
    UTILISATION.set(min(1.0, planned / capacity) if capacity else 0.0)


async def watch(make_uow: Callable[[], UnitOfWork], settings: DispatchSettings) -> None:
    while True:
        await asyncio.sleep(settings.monitor_seconds)
        try:
            now = datetime.now(UTC)
            async with make_uow() as uow:
                breached = await check_due_times(uow, settings, now)
                missed = await flag_same_day_missed(uow, settings, now)
                await uow.commit()
            count_breaches(breached)
            SAME_DAY_MISSED.inc(missed)
            async with make_uow() as uow:
                await refresh_gauges(uow, settings, now)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("dispatch monitor pass failed", extra={"error": repr(exc)[:300]})
