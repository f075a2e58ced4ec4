"""Jobs from intake's triage (v1 and v2 feed the same upsert), and their arrival due time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from services.dispatch.commands.assignment import SYSTEM, assign_automatically, release_technician
from services.dispatch.db.jobs import JobRepository
from services.dispatch.db.models import JobRow
from services.dispatch.db.new_job import NewJob
from services.dispatch.db.staff import ServicePoints
from services.dispatch.domain.arrival import ArrivalDue, arrival_due
from services.dispatch.domain.assignment import great_circle_kms
from services.dispatch.domain.job import JobStatus
from services.dispatch.settings import DispatchSettings
from shared.db.unit_of_work import UnitOfWork

NO_VISIT = "re-triaged: no visit needed"
BEFORE_WORK = frozenset(
    {JobStatus.UNASSIGNED.value, JobStatus.ASSIGNED.value, JobStatus.ACCEPTED.value}
)


@dataclass(frozen=True)
class Triaged:
    request_no: str
    kind: str
    severity: str
    visit_needed: bool
    product_line: str | None
    product_model: str
    serial_no: str
    customer_name: str
    customer_phone: str
    address: str | None
    region: str | None
    response_due_at: datetime | None
    triaged_at: datetime
    # Only in v2.
    fault_description: str | None = None
    purchase_date: date | None = None
    in_warranty: bool | None = None
    dealer_id: str | None = None
    customer_id: str | None = None
    latitude: float | None = None
    longitude: float | None = None


async def due_for(
    uow: UnitOfWork,
    settings: DispatchSettings,
    latitude: float | None,
    longitude: float | None,
    region: str | None,
    start: datetime,
) -> ArrivalDue:
    """From the nearest service point (with coordinates) or the one covering the region."""
    points = await ServicePoints(uow.session).places()
    distance: float | None = None
    zone: str | None = None
    if latitude is not None and longitude is not None:
        located = [p for p in points if p.latitude is not None and p.longitude is not None]
        if located:
            distances = great_circle_kms(
                latitude, longitude, [(p.latitude, p.longitude) for p in located]
            )
            # The first of the nearest, as min() finds it.
            index = min(range(len(located)), key=distances.__getitem__)  # type: ignore[arg-type]
            distance, zone = distances[index], located[index].zone
    if distance is None and region:
        covering = [p for p in points if region in p.covers_regions]
        own = [p for p in covering if p.region == region]
        zone = (own or covering)[0].zone if covering else None
    return arrival_due(start, distance, zone, settings.arrival_targets(), settings.service_hours())


async def take_triaged(
    uow: UnitOfWork, settings: DispatchSettings, triaged: Triaged, now: datetime
) -> None:
    """Create or update the request's job, then assign it at once if it waits."""
    jobs = JobRepository(uow.session)
    if triaged.visit_needed:
        # Most triages are a request's first: its job is made and assigned as new, and the
        # read of the technicians' loads says too whether the job's row is there after all
        # (one round trip, instead of a locked read finding nothing first). If it is, that
        # is all undone (nothing was written) and the job is taken as below.
        fresh = NewJob(placeholder(triaged.request_no, now), checked=False)
        await fill(uow, settings, fresh.row, triaged, True, now)
        kind = f"{triaged.kind}/{triaged.severity}"
        fresh.records.append(jobs.history_row(fresh.row, "created", SYSTEM, now, note=kind))
        await assign_automatically(uow, settings, triaged.request_no, now, fresh=fresh)
        if fresh.written:
            return
    releasing: tuple[str, date] | None = None
    job = await jobs.get(triaged.request_no, lock=True)
    if job is not None and job.triaged_at is not None and job.triaged_at > triaged.triaged_at:
        return  # an older triage arriving late changes nothing
    if not triaged.visit_needed:
        # Re-triaged to no visit: the job it had is no longer wanted.
        if job is not None and job.status in BEFORE_WORK:
            job.triaged_at = triaged.triaged_at
            await cancel(uow, job, NO_VISIT, now)
        return
    if job is not None and job.status == JobStatus.CANCELLED.value:
        if job.cancel_reason != NO_VISIT or job.triaged_at is None:
            return  # cancelled for good (intake, a declined quote), even if this came late
        # Triaged to a visit again after a triage that needed none: the job is wanted again.
        job.status, job.cancel_reason = JobStatus.UNASSIGNED.value, None
        job.unassignable_since = None
        _forget_technician(job)
        await jobs.note(job, "reopened", SYSTEM, now, note="re-triaged: visit needed")
    if (
        job is not None
        and job.status in (JobStatus.ASSIGNED.value, JobStatus.ACCEPTED.value)
        and job.required_skill != triaged.product_line
    ):
        # The request needs another skill now: its technician may not have it. Their day is
        # given back with the next technician's taken, in one order (see ``DayLoads.move``).
        if job.technician_id is not None and job.planned_day is not None:
            releasing = (job.technician_id, job.planned_day)
        await jobs.note(job, "unassigned", SYSTEM, now, note="re-triaged: other skill needed")
        job.status = JobStatus.UNASSIGNED.value
        job.unassignable_since = None
        _forget_technician(job)
    new = job is None
    if job is None:
        # Not added to the session: written once, when assigned (see below).
        job = placeholder(triaged.request_no, now)
    created = not job.kind
    await fill(uow, settings, job, triaged, created, now)
    kind = f"{triaged.kind}/{triaged.severity}"
    if new:
        # Nobody else sees the job before this transaction commits, nor can have declined
        # it: it is written once, with its history and its assignment (see db.new_job).
        fresh = NewJob(job, [jobs.history_row(job, "created", SYSTEM, now, note=kind)])
        await assign_automatically(uow, settings, triaged.request_no, now, fresh=fresh)
        return
    await uow.session.flush()
    if created:
        await jobs.note(job, "created", SYSTEM, now, note=kind)
    await assign_automatically(uow, settings, triaged.request_no, now, releasing=releasing)


async def fill(
    uow: UnitOfWork,
    settings: DispatchSettings,
    job: JobRow,
    triaged: Triaged,
    created: bool,
    now: datetime,
) -> None:
    """The job as triaged, and its arrival due time unless someone is there already."""
    job.kind, job.severity = triaged.kind, triaged.severity
    job.required_skill = triaged.product_line
    job.product_model, job.serial_no = triaged.product_model, triaged.serial_no
    job.customer_name, job.customer_phone = triaged.customer_name, triaged.customer_phone
    job.address, job.region = triaged.address, triaged.region
    job.response_due_at, job.triaged_at = triaged.response_due_at, triaged.triaged_at
    for name in (
        "fault_description",
        "purchase_date",
        "in_warranty",
        "dealer_id",
        "customer_id",
        "latitude",
        "longitude",
    ):
        value = getattr(triaged, name)
        if value is not None or created:
            setattr(job, name, value)
    if job.arrived_at is None:
        due = await due_for(
            uow, settings, job.latitude, job.longitude, job.region, triaged.triaged_at
        )
        job.arrival_target, job.arrival_due_at = due.target, due.due_at
    job.updated_at = now


def _forget_technician(job: JobRow) -> None:
    job.technician_id = job.technician_name = job.service_point_id = None
    job.planned_day = job.planned_arrival_at = job.assigned_at = None
    job.appointment_state = None


async def cancel(uow: UnitOfWork, job: JobRow, reason: str, at: datetime) -> bool:
    if job.status in (
        JobStatus.CANCELLED.value,
        JobStatus.COMPLETED.value,
        JobStatus.UNRESOLVED.value,
    ):
        return False
    if job.status != JobStatus.UNASSIGNED.value and job.arrived_at is None:
        await release_technician(uow, job)
    job.status = JobStatus.CANCELLED.value
    job.cancel_reason = reason
    job.updated_at = at
    await uow.session.flush()
    await JobRepository(uow.session).note(job, "cancelled", SYSTEM, at, note=reason)
    return True


def placeholder(request_no: str, at: datetime) -> JobRow:
    """A job heard of before its triage (e.g. cancelled first): kept so the late triage
    finds what happened."""
    return JobRow(
        request_no=request_no,
        kind="",
        severity="",
        required_skill=None,
        product_model="",
        serial_no="",
        customer_name="",
        customer_phone="",
        address=None,
        region=None,
        response_due_at=None,
        status=JobStatus.UNASSIGNED.value,
        created_at=at,
        updated_at=at,
        intake_sla_breaches=0,
    )
