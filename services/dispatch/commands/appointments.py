"""Appointment windows agreed with the customer, and the parts requested when agreed; the
promised time a job not finished on its day must have."""

from __future__ import annotations

from datetime import datetime

from services.dispatch.commands.errors import conflict, invalid
from services.dispatch.commands.field_work import Actor, load_job
from services.dispatch.db.jobs import JobRepository
from services.dispatch.db.models import JobRow
from services.dispatch.db.staff import Technicians, technician_hours
from services.dispatch.domain.calendar import overlaps_working_hours
from services.dispatch.domain.field_report import PartLine
from services.dispatch.domain.job import JobStatus
from shared.db.unit_of_work import UnitOfWork
from shared.events.schemas.dispatch import AppointmentAgreedV1, PartsRequestedV1, RequestedPartV1

BEFORE_ARRIVAL = frozenset(
    {JobStatus.ASSIGNED.value, JobStatus.ACCEPTED.value, JobStatus.EN_ROUTE.value}
)
PROMISABLE = BEFORE_ARRIVAL | {
    JobStatus.ON_SITE.value,
    JobStatus.WAITING_PARTS.value,
    JobStatus.ESCALATED.value,
}


def _window_checked(start: datetime, end: datetime) -> None:
    if end <= start:
        raise invalid("window_end", "the window ends before it starts")


async def _within_working_hours(
    uow: UnitOfWork, job: JobRow, start: datetime, end: datetime, zone: str
) -> None:
    """The window must meet the assigned technician's shifts (leave included)."""
    if job.technician_id is None:
        return
    technician = await Technicians(uow.session).get(job.technician_id)
    if technician is None:
        return
    hours = technician_hours(zone, technician.shifts, technician.leave)
    if not overlaps_working_hours(hours, start, end):
        raise invalid(
            "window_start",
            f"the window lies outside {technician.id}'s working hours ({technician.shifts})",
        )


async def propose(
    uow: UnitOfWork,
    request_no: str,
    start: datetime,
    end: datetime,
    actor: Actor,
    now: datetime,
    zone: str,
) -> JobRow:
    _window_checked(start, end)
    job = await load_job(uow, request_no, actor)
    if job.status not in BEFORE_ARRIVAL:
        raise conflict(
            f"An appointment is made before arrival; the job is {job.status}.",
            status_now=job.status,
        )
    if job.appointment_state == "agreed":
        raise conflict("An appointment is agreed already: reschedule it, with a reason.")
    await _within_working_hours(uow, job, start, end, zone)
    job.appointment_state, job.appointment_start, job.appointment_end = "proposed", start, end
    job.updated_at = now
    await JobRepository(uow.session).note(
        job,
        "appointment_proposed",
        actor.subject,
        now,
        note=f"{start.isoformat()}–{end.isoformat()}",
    )
    return job


async def _agreed(
    uow: UnitOfWork,
    job: JobRow,
    parts: list[PartLine],
    rescheduled: bool,
    reason: str | None,
    actor: Actor,
    now: datetime,
) -> None:
    assert job.appointment_start is not None and job.appointment_end is not None
    job.appointment_state = "agreed"
    job.updated_at = now
    await JobRepository(uow.session).note(
        job,
        "appointment_rescheduled" if rescheduled else "appointment_agreed",
        actor.subject,
        now,
        note=reason,
    )
    await uow.publish(
        AppointmentAgreedV1(
            request_no=job.request_no,
            technician_id=job.technician_id or "",
            window_start=job.appointment_start,
            window_end=job.appointment_end,
            rescheduled=rescheduled,
            reason=reason,
            agreed_at=now,
        )
    )
    if parts:
        job.parts_state = "requested"
        await uow.publish(
            PartsRequestedV1(
                request_no=job.request_no,
                service_point_id=job.service_point_id or "",
                technician_id=job.technician_id,
                product_model=job.product_model,
                priority="urgent" if job.severity == "urgent" else "ordinary",
                needed_by=job.appointment_start,
                lines=[RequestedPartV1(part_no=p.part_no, quantity=p.quantity) for p in parts],
                requested_at=now,
            )
        )


async def agree(
    uow: UnitOfWork, request_no: str, parts: list[PartLine], actor: Actor, now: datetime
) -> JobRow:
    job = await load_job(uow, request_no, actor)
    if job.appointment_state != "proposed" or job.status not in BEFORE_ARRIVAL:
        raise conflict(
            "Only a proposed window can be agreed (propose one first; reschedule an agreed one).",
            status_now=job.status,
            appointment=job.appointment_state,
        )
    await _agreed(uow, job, parts, False, None, actor, now)
    return job


async def reschedule(
    uow: UnitOfWork,
    request_no: str,
    start: datetime,
    end: datetime,
    reason: str,
    parts: list[PartLine],
    actor: Actor,
    now: datetime,
    zone: str,
) -> JobRow:
    _window_checked(start, end)
    job = await load_job(uow, request_no, actor)
    if job.appointment_state != "agreed" or job.status not in BEFORE_ARRIVAL:
        raise conflict(
            "Only an agreed appointment can be rescheduled, before arrival.", status_now=job.status
        )
    await _within_working_hours(uow, job, start, end, zone)
    job.appointment_start, job.appointment_end = start, end
    await _agreed(uow, job, parts, True, reason, actor, now)
    return job


async def loaner_delivered(
    uow: UnitOfWork, request_no: str, note: str, actor: Actor, now: datetime
) -> JobRow:
    """The loaner task is done: the unit reached the customer."""
    job = await load_job(uow, request_no, actor)
    if job.loaner_required_at is None:
        raise conflict("No loaner is required for this job.", status_now=job.status)
    if job.loaner_delivered_at is not None:
        raise conflict("The loaner was delivered already.", status_now=job.status)
    job.loaner_delivered_at, job.updated_at = now, now
    await JobRepository(uow.session).note(job, "loaner_delivered", actor.subject, now, note=note)
    return job


async def promise(
    uow: UnitOfWork, request_no: str, promised_at: datetime, note: str, actor: Actor, now: datetime
) -> JobRow:
    job = await load_job(uow, request_no, actor)
    if job.status not in PROMISABLE:
        raise conflict(
            f"A promised time is given for an open job; the job is {job.status}.",
            status_now=job.status,
        )
    if promised_at <= now:
        raise invalid("promised_at", "the promised time must lie ahead")
    job.promised_at, job.promise_note, job.updated_at = promised_at, note, now
    await JobRepository(uow.session).note(
        job, "promised", actor.subject, now, note=f"{promised_at.isoformat()} {note}"
    )
    return job
