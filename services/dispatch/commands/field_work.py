"""A technician's work on a job: accept or decline, travel, arrive, wait for parts, escalate,
report, get the customer's sign-off, complete. Each a transaction; illegal moves refused
naming the allowed ones."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from services.dispatch.commands.assignment import assign_automatically
from services.dispatch.commands.errors import conflict, not_found
from services.dispatch.db.jobs import JobRepository
from services.dispatch.db.models import JobRow
from services.dispatch.domain.field_report import FieldReport, PartLine, SignOffIn, stored_sign_off
from services.dispatch.domain.job import (
    Action,
    IllegalMove,
    JobStatus,
    Result,
    SignOff,
    allowed_actions,
    completion_refusal,
    finished_status,
    is_repeat_repair,
    next_status,
)
from services.dispatch.metrics import JOBS_FINISHED, REPEAT_REPAIRS
from services.dispatch.settings import DispatchSettings
from shared.db.unit_of_work import UnitOfWork
from shared.events.schemas.dispatch import (
    JobCompletedV1,
    JobEscalatedV1,
    JobOnSiteV1,
    JobWaitingPartsV1,
    PartsRequestedV1,
    RemovedPartV1,
    RepeatRepairFlaggedV1,
    RequestedPartV1,
    UsedPartV1,
)
from shared.http.problems import Problem

WORKING = frozenset(
    {JobStatus.ON_SITE.value, JobStatus.WAITING_PARTS.value, JobStatus.ESCALATED.value}
)


@dataclass(frozen=True)
class Actor:
    subject: str
    technician_id: str | None  # set when the caller acts only as a technician


async def load_job(uow: UnitOfWork, request_no: str, actor: Actor) -> JobRow:
    job = await JobRepository(uow.session).get(request_no, lock=True)
    if job is None or not job.kind:
        raise not_found(f"No job for {request_no}.")
    if actor.technician_id is not None and job.technician_id != actor.technician_id:
        raise Problem(
            403,
            "Forbidden",
            "A technician may act only on their own jobs.",
            type_="urn:aftersales:problem:forbidden",
        )
    return job


def _move(job: JobRow, action: Action) -> JobStatus:
    try:
        return next_status(JobStatus(job.status), action)
    except IllegalMove as exc:
        raise conflict(str(exc), allowed=exc.allowed, status_now=job.status) from exc


async def act(
    uow: UnitOfWork,
    settings: DispatchSettings,
    request_no: str,
    action: Action,
    actor: Actor,
    now: datetime,
    reason: str | None = None,
    owner: str | None = None,
    lines: list[PartLine] | None = None,
) -> JobRow:
    """Every move but completion (see ``complete``)."""
    jobs = JobRepository(uow.session)
    job = await load_job(uow, request_no, actor)
    target = _move(job, action)
    if action in (Action.DEPART, Action.ARRIVE) and job.quote_state == "issued":
        raise conflict(
            f"Quote {job.quote_no} waits for the customer's acceptance; the work cannot go on.",
            allowed=[],
            status_now=job.status,
        )
    technician = job.technician_id
    job.status = target.value
    job.updated_at = now
    if action is Action.DECLINE:
        # The declined day is given back with the next technician's day taken, in one
        # consistent order (two declines swapping technicians must not deadlock).
        releasing = (
            (technician, job.planned_day)
            if technician is not None and job.planned_day is not None
            else None
        )
        await jobs.note(job, "declined", actor.subject, now, note=reason, technician_id=technician)
        job.technician_id = job.technician_name = job.service_point_id = None
        job.planned_day = job.planned_arrival_at = job.assigned_at = None
        job.appointment_state = None
        await uow.session.flush()
        await assign_automatically(
            uow,
            settings,
            request_no,
            now,
            how="after_decline",
            actor=actor.subject,
            releasing=releasing,
        )
        return job
    if action is Action.ARRIVE:
        job.arrived_at = job.arrived_at or now
    if action is Action.WAIT_FOR_PARTS:
        job.first_visit_fixed = False
        needed = [RequestedPartV1(part_no=p.part_no, quantity=p.quantity) for p in lines or []]
        await uow.publish(
            JobWaitingPartsV1(
                request_no=request_no, technician_id=technician or "", lines=needed, since=now
            )
        )
        # The parts found missing on site are requested from parts at once.
        job.parts_state = "requested"
        await uow.publish(
            PartsRequestedV1(
                request_no=request_no,
                service_point_id=job.service_point_id or "",
                technician_id=technician,
                product_model=job.product_model,
                priority="urgent" if job.severity == "urgent" else "ordinary",
                needed_by=None,
                lines=needed,
                requested_at=now,
            )
        )
    if action in (Action.ARRIVE, Action.RESUME) and target is JobStatus.ON_SITE:
        due = job.arrival_due_at
        await uow.publish(
            JobOnSiteV1(
                request_no=request_no,
                technician_id=technician or "",
                arrived_at=now,
                arrival_due_at=due,
                late=due is not None and (job.arrived_at or now) > due,
            )
        )
    if action is Action.ESCALATE:
        job.escalation = {
            "reason": reason,
            "owner": owner,
            "escalated_at": now.isoformat(),
            "escalated_by": actor.subject,
            "resolution": None,
            "joint_evaluation": None,
        }
        await uow.publish(
            JobEscalatedV1(
                request_no=request_no,
                technician_id=technician,
                reason=reason or "",
                owner=owner or "",
                escalated_at=now,
            )
        )
    await jobs.note(job, action.value.replace("-", "_"), actor.subject, now, note=reason)
    return job


async def resolve_escalation(
    uow: UnitOfWork,
    request_no: str,
    resolution: str,
    joint_evaluation: bool,
    actor: Actor,
    now: datetime,
) -> JobRow:
    job = await load_job(uow, request_no, actor)
    if job.escalation is None:
        raise conflict(
            "The job was never escalated.", allowed=allowed_actions(JobStatus(job.status))
        )
    job.escalation = {
        **job.escalation,
        "resolution": resolution,
        "joint_evaluation": joint_evaluation,
        "resolved_at": now.isoformat(),
        "resolved_by": actor.subject,
    }
    job.updated_at = now
    await JobRepository(uow.session).note(
        job, "escalation_resolved", actor.subject, now, note=resolution
    )
    return job


async def record_report(
    uow: UnitOfWork, request_no: str, report: FieldReport, actor: Actor, now: datetime
) -> JobRow:
    job = await load_job(uow, request_no, actor)
    if job.status not in WORKING:
        raise conflict(
            f"A field report is recorded on site; the job is {job.status}.",
            allowed=allowed_actions(JobStatus(job.status)),
            status_now=job.status,
        )
    job.field_report = report.model_dump(mode="json")
    job.fault_code = report.fault_code
    job.updated_at = now
    await JobRepository(uow.session).note(job, "field_report", actor.subject, now)
    return job


async def record_sign_off(
    uow: UnitOfWork,
    settings: DispatchSettings,
    request_no: str,
    sign_off: SignOffIn,
    actor: Actor,
    now: datetime,
) -> JobRow:
    if sign_off.signature_bytes() > settings.max_signature_bytes:
        raise Problem(
            413,
            "Content Too Large",
            f"The signature image is larger than {settings.max_signature_bytes} bytes.",
        )
    job = await load_job(uow, request_no, actor)
    if job.status not in WORKING:
        raise conflict(
            f"The customer signs off on site; the job is {job.status}.",
            allowed=allowed_actions(JobStatus(job.status)),
            status_now=job.status,
        )
    job.sign_off = stored_sign_off(sign_off, now)
    job.updated_at = now
    await JobRepository(uow.session).note(
        job, "signed_off", actor.subject, now, note=sign_off.signer
    )
    return job


async def complete(
    uow: UnitOfWork, settings: DispatchSettings, request_no: str, actor: Actor, now: datetime
) -> tuple[JobRow, bool]:
    """Finish the job with its report and sign-off; the job and whether it is a repeat repair."""
    jobs = JobRepository(uow.session)
    job = await load_job(uow, request_no, actor)
    _move(job, Action.COMPLETE)
    sign_off = None
    if job.sign_off is not None:
        sign_off = SignOff(
            signer=job.sign_off["signer"],
            signed_at=datetime.fromisoformat(job.sign_off["signed_at"]),
            signature_png_base64=job.sign_off.get("signature_png_base64"),
            typed_confirmation=job.sign_off.get("typed_confirmation"),
        )
    refusal = completion_refusal(job.field_report is not None, sign_off)
    if refusal is not None:
        raise conflict(
            refusal, allowed=allowed_actions(JobStatus(job.status)), status_now=job.status
        )
    assert sign_off is not None and job.field_report is not None
    report = FieldReport.model_validate(job.field_report)
    job.status = finished_status(report.result).value
    job.completed_at = now
    job.updated_at = now
    first_visit = job.first_visit_fixed is None and job.escalation is None
    job.first_visit_fixed = first_visit and report.result is Result.REPAIRED
    repeat = None
    if report.fault_code:
        previous = await jobs.last_completed_repair(job.serial_no, report.fault_code, request_no)
        if (
            previous is not None
            and previous.completed_at is not None
            and is_repeat_repair(now, previous.completed_at, settings.repeat_window)
        ):
            repeat = previous
            job.repeat_of = previous.request_no
    await jobs.note(job, "completed", actor.subject, now, note=report.result.value)
    await uow.publish(
        JobCompletedV1(
            request_no=request_no,
            technician_id=job.technician_id or "",
            technician_name=job.technician_name or "",
            service_point_id=job.service_point_id or "",
            region=job.region,
            kind=job.kind,
            product_line=job.required_skill,
            product_model=job.product_model,
            serial_no=job.serial_no,
            purchase_date=job.purchase_date,
            in_warranty=job.in_warranty,
            dealer_id=job.dealer_id,
            customer_name=job.customer_name,
            findings=report.findings,
            work_done=report.work_done,
            cause=report.cause.value,
            fault_code=report.fault_code,
            result=report.result.value,
            labour_minutes=report.labour_minutes,
            travel_km=Decimal(report.travel_km),
            parts_used=[
                UsedPartV1(part_no=p.part_no, quantity=p.quantity, serials=p.serials)
                for p in report.parts_used
            ],
            old_parts_removed=[
                RemovedPartV1(part_no=p.part_no, quantity=p.quantity, serials=p.serials)
                for p in report.old_parts_removed
            ],
            repeat_repair=repeat is not None,
            arrived_at=job.arrived_at,
            completed_at=now,
            signed_by=sign_off.signer,
            signed_at=sign_off.signed_at,
        )
    )
    if repeat is not None and repeat.completed_at is not None and report.fault_code:
        await uow.publish(
            RepeatRepairFlaggedV1(
                request_no=request_no,
                serial_no=job.serial_no,
                product_model=job.product_model,
                fault_code=report.fault_code,
                previous_request_no=repeat.request_no,
                previous_completed_at=repeat.completed_at,
                completed_at=now,
            )
        )
    return job, repeat is not None


def count_finished(job: JobRow, repeat: bool) -> None:
    """After commit."""
    JOBS_FINISHED.labels(job.status, "yes" if job.first_visit_fixed else "no").inc()
    if repeat:
        REPEAT_REPAIRS.inc()
