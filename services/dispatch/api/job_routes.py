"""The dispatch board and the work on one job."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from services.dispatch.api.access import Dispatcher, FieldStaff, Reader, actor_of
from services.dispatch.api.schemas import AssignmentRead, HistoryRead, JobDetail, JobRead
from services.dispatch.commands import appointments
from services.dispatch.commands.assignment import AssignmentRefused, assign_automatically, override
from services.dispatch.commands.diagnosis import record_diagnosis
from services.dispatch.commands.errors import not_found
from services.dispatch.commands.field_work import (
    act,
    complete,
    count_finished,
    record_report,
    record_sign_off,
    resolve_escalation,
)
from services.dispatch.db.jobs import JobRepository
from services.dispatch.db.models import JobRow
from services.dispatch.domain.field_report import Diagnosis, FieldReport, PartLine, SignOffIn
from services.dispatch.domain.job import Action, JobStatus, allowed_actions
from services.dispatch.settings import DispatchSettings
from shared.http.deps import UnitOfWorkDep
from shared.http.problems import Problem

router = APIRouter(prefix="/api/v1/jobs", tags=["jobs"])
RequestNo = Annotated[str, Path(pattern=r"^SR-\d{4}-\d{6}$")]


def _settings(request: Request) -> DispatchSettings:
    settings = request.app.state.runtime.settings.service
    assert isinstance(settings, DispatchSettings)
    return settings


class _Body(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")


class Reason(_Body):
    reason: str = Field(min_length=1, max_length=2000)


class Reassignment(_Body):
    technician_id: str = Field(min_length=1, max_length=40)
    reason: str = Field(min_length=1, max_length=2000)


class PartsNeeded(_Body):
    lines: list[PartLine] = Field(min_length=1, max_length=200)


class Escalation(_Body):
    reason: str = Field(min_length=1, max_length=2000)
    owner: str = Field(min_length=1, max_length=200, description="Who in the technical department")


class EscalationResolution(_Body):
    resolution: str = Field(min_length=1, max_length=5000)
    joint_evaluation: bool = False


class Window(_Body):
    window_start: AwareDatetime
    window_end: AwareDatetime


class Agreement(_Body):
    parts: list[PartLine] = Field(default_factory=list, max_length=200)


class Rescheduling(Window):
    reason: str = Field(min_length=1, max_length=2000)
    parts: list[PartLine] = Field(default_factory=list, max_length=200)


class Promise(_Body):
    promised_at: AwareDatetime
    note: str = Field("", max_length=2000)


async def _detail(uow: UnitOfWorkDep, job: JobRow) -> JobDetail:
    jobs = JobRepository(uow.session)
    history = await jobs.history(job.request_no)
    assignments = await jobs.assignments(job.request_no)
    return JobDetail(
        **JobRead.model_validate(job).model_dump(),
        allowed_actions=allowed_actions(JobStatus(job.status)),
        history=[HistoryRead.model_validate(h) for h in history],
        assignments=[AssignmentRead.model_validate(a) for a in assignments],
    )


@router.get(
    "", summary="The board: jobs by status, region, technician, or at risk of their arrival SLA"
)
async def list_jobs(
    request: Request,
    uow: UnitOfWorkDep,
    staff: Reader,
    status: Annotated[
        JobStatus | None,
        Query(description="Default: the unassigned queue; a technician's own jobs, any status"),
    ] = None,
    region: Annotated[str | None, Query(max_length=100)] = None,
    technician_id: Annotated[str | None, Query(max_length=40)] = None,
    at_risk: Annotated[
        bool, Query(description="Arrival due within the at-risk window, or overdue")
    ] = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[JobRead]:
    async with uow:
        actor = await actor_of(staff, uow)
        if actor.technician_id is not None:
            technician_id = actor.technician_id
        elif status is None:
            status = JobStatus.UNASSIGNED
        due_before = None
        if at_risk:
            due_before = datetime.now(UTC) + timedelta(minutes=_settings(request).at_risk_minutes)
            status = None
        jobs = await JobRepository(uow.session).board(
            status, region, technician_id, due_before, limit
        )
        return [JobRead.model_validate(job) for job in jobs]


@router.get(
    "/{request_no}", summary="A job with its history, allowed actions and assignment explanations"
)
async def get_job(request_no: RequestNo, uow: UnitOfWorkDep, staff: Reader) -> JobDetail:
    async with uow:
        actor = await actor_of(staff, uow)
        job = await JobRepository(uow.session).get(request_no)
        if job is None:
            raise not_found(f"No job for {request_no}.")
        if actor.technician_id is not None and job.technician_id != actor.technician_id:
            raise Problem(403, "Forbidden", "A technician sees only their own jobs.")
        return await _detail(uow, job)


@router.post(
    "/{request_no}/assign", summary="Assign automatically now (for a job in the unassigned queue)"
)
async def assign_now(
    request_no: RequestNo, request: Request, uow: UnitOfWorkDep, staff: Dispatcher
) -> JobDetail:
    async with uow:
        job = await JobRepository(uow.session).get(request_no)
        if job is None or not job.kind:
            raise not_found(f"No job for {request_no}.")
        if job.status != JobStatus.UNASSIGNED.value:
            raise Problem(
                409,
                "Conflict",
                f"The job is {job.status}, not unassigned; reassign it instead.",
                allowed=allowed_actions(JobStatus(job.status)),
                status_now=job.status,
            )
        await assign_automatically(
            uow, _settings(request), request_no, datetime.now(UTC), actor=staff.subject
        )
        await uow.commit()
    async with uow:
        job = await JobRepository(uow.session).get(request_no)
        assert job is not None
        return await _detail(uow, job)


@router.post(
    "/{request_no}/reassign",
    summary="A dispatcher's override: give the job to a technician, with a reason",
)
async def reassign(
    request_no: RequestNo,
    body: Reassignment,
    request: Request,
    uow: UnitOfWorkDep,
    staff: Dispatcher,
) -> JobDetail:
    async with uow:
        try:
            await override(
                uow,
                _settings(request),
                request_no,
                body.technician_id,
                body.reason,
                staff.subject,
                datetime.now(UTC),
            )
        except AssignmentRefused as exc:
            raise Problem(
                exc.status, "Conflict" if exc.status == 409 else "Not Found", exc.detail
            ) from exc
        await uow.commit()
    async with uow:
        job = await JobRepository(uow.session).get(request_no)
        assert job is not None
        return await _detail(uow, job)


async def _act(
    request_no: str,
    action: Action,
    request: Request,
    uow: UnitOfWorkDep,
    staff: FieldStaff,
    **details: object,
) -> JobDetail:
    async with uow:
        actor = await actor_of(staff, uow)
        job = await act(
            uow, _settings(request), request_no, action, actor, datetime.now(UTC), **details
        )  # type: ignore[arg-type]
        await uow.commit()
    async with uow:
        job = await JobRepository(uow.session).get(request_no)
        assert job is not None
        return await _detail(uow, job)


@router.post("/{request_no}/accept", summary="The technician accepts the job")
async def accept(
    request_no: RequestNo, request: Request, uow: UnitOfWorkDep, staff: FieldStaff
) -> JobDetail:
    return await _act(request_no, Action.ACCEPT, request, uow, staff)


@router.post(
    "/{request_no}/decline",
    summary="The technician declines, with a reason: the next candidate is chosen",
)
async def decline(
    request_no: RequestNo, body: Reason, request: Request, uow: UnitOfWorkDep, staff: FieldStaff
) -> JobDetail:
    return await _act(request_no, Action.DECLINE, request, uow, staff, reason=body.reason)


@router.post("/{request_no}/depart", summary="On the way")
async def depart(
    request_no: RequestNo, request: Request, uow: UnitOfWorkDep, staff: FieldStaff
) -> JobDetail:
    return await _act(request_no, Action.DEPART, request, uow, staff)


@router.post("/{request_no}/arrive", summary="Arrived on site")
async def arrive(
    request_no: RequestNo, request: Request, uow: UnitOfWorkDep, staff: FieldStaff
) -> JobDetail:
    return await _act(request_no, Action.ARRIVE, request, uow, staff)


@router.post("/{request_no}/wait-for-parts", summary="Work stops until the parts arrive")
async def wait_for_parts(
    request_no: RequestNo,
    body: PartsNeeded,
    request: Request,
    uow: UnitOfWorkDep,
    staff: FieldStaff,
) -> JobDetail:
    return await _act(request_no, Action.WAIT_FOR_PARTS, request, uow, staff, lines=body.lines)


@router.post(
    "/{request_no}/resume",
    summary="Back on site (parts came, or the technical department answered)",
)
async def resume(
    request_no: RequestNo, request: Request, uow: UnitOfWorkDep, staff: FieldStaff
) -> JobDetail:
    return await _act(request_no, Action.RESUME, request, uow, staff)


@router.post("/{request_no}/escalate", summary="Escalate to the technical department")
async def escalate(
    request_no: RequestNo, body: Escalation, request: Request, uow: UnitOfWorkDep, staff: FieldStaff
) -> JobDetail:
    return await _act(
        request_no, Action.ESCALATE, request, uow, staff, reason=body.reason, owner=body.owner
    )


@router.post(
    "/{request_no}/escalation/resolution",
    summary="The technical department's resolution (joint evaluation noted)",
)
async def resolve(
    request_no: RequestNo, body: EscalationResolution, uow: UnitOfWorkDep, staff: Dispatcher
) -> JobDetail:
    async with uow:
        actor = await actor_of(staff, uow)
        job = await resolve_escalation(
            uow, request_no, body.resolution, body.joint_evaluation, actor, datetime.now(UTC)
        )
        await uow.commit()
        return await _detail(uow, job)


@router.post(
    "/{request_no}/diagnosis",
    summary="What caused the fault, found on site before any repair (once per job)",
)
async def diagnose(
    request_no: RequestNo, body: Diagnosis, uow: UnitOfWorkDep, staff: FieldStaff
) -> JobDetail:
    async with uow:
        actor = await actor_of(staff, uow)
        job = await record_diagnosis(uow, request_no, body, actor, datetime.now(UTC))
        await uow.commit()
        return await _detail(uow, job)


@router.put(
    "/{request_no}/field-report",
    summary="The technician's field report (replaced until completion)",
)
async def put_field_report(
    request_no: RequestNo, body: FieldReport, uow: UnitOfWorkDep, staff: FieldStaff
) -> JobDetail:
    async with uow:
        actor = await actor_of(staff, uow)
        await record_report(uow, request_no, body, actor, datetime.now(UTC))
        await uow.commit()
    async with uow:
        job = await JobRepository(uow.session).get(request_no)
        assert job is not None
        return await _detail(uow, job)


@router.post(
    "/{request_no}/sign-off",
    summary="The customer's sign-off: signer, time, signature image or typed confirmation",
)
async def sign_off(
    request_no: RequestNo, body: SignOffIn, request: Request, uow: UnitOfWorkDep, staff: FieldStaff
) -> JobDetail:
    async with uow:
        actor = await actor_of(staff, uow)
        await record_sign_off(uow, _settings(request), request_no, body, actor, datetime.now(UTC))
        await uow.commit()
    async with uow:
        job = await JobRepository(uow.session).get(request_no)
        assert job is not None
        return await _detail(uow, job)


@router.post(
    "/{request_no}/complete",
    summary="Finish the job: needs the field report and the customer's sign-off",
)
async def complete_job(
    request_no: RequestNo, request: Request, uow: UnitOfWorkDep, staff: FieldStaff
) -> JobDetail:
    async with uow:
        actor = await actor_of(staff, uow)
        job, repeat = await complete(uow, _settings(request), request_no, actor, datetime.now(UTC))
        await uow.commit()
    count_finished(job, repeat)
    async with uow:
        job = await JobRepository(uow.session).get(request_no)
        assert job is not None
        return await _detail(uow, job)


@router.post("/{request_no}/appointment", summary="Propose an appointment window")
async def propose_window(
    request: Request, request_no: RequestNo, body: Window, uow: UnitOfWorkDep, staff: FieldStaff
) -> JobDetail:
    async with uow:
        actor = await actor_of(staff, uow)
        job = await appointments.propose(
            uow,
            request_no,
            body.window_start,
            body.window_end,
            actor,
            datetime.now(UTC),
            _settings(request).calendar_zone,
        )
        await uow.commit()
        return await _detail(uow, job)


@router.post(
    "/{request_no}/appointment/agree",
    summary="The customer agreed the window; the parts the job needs are requested",
)
async def agree_window(
    request_no: RequestNo, body: Agreement, uow: UnitOfWorkDep, staff: FieldStaff
) -> JobDetail:
    async with uow:
        actor = await actor_of(staff, uow)
        job = await appointments.agree(uow, request_no, body.parts, actor, datetime.now(UTC))
        await uow.commit()
        return await _detail(uow, job)


@router.post(
    "/{request_no}/appointment/reschedule", summary="Move the agreed window, with a reason"
)
async def reschedule_window(
    request: Request,
    request_no: RequestNo,
    body: Rescheduling,
    uow: UnitOfWorkDep,
    staff: FieldStaff,
) -> JobDetail:
    async with uow:
        actor = await actor_of(staff, uow)
        job = await appointments.reschedule(
            uow,
            request_no,
            body.window_start,
            body.window_end,
            body.reason,
            body.parts,
            actor,
            datetime.now(UTC),
            _settings(request).calendar_zone,
        )
        await uow.commit()
        return await _detail(uow, job)


class LoanerDelivery(_Body):
    note: str = Field("", max_length=2000, description="Which unit, who brought it")


@router.post("/{request_no}/loaner-delivered", summary="The loaner task is done")
async def loaner_delivered(
    request_no: RequestNo, body: LoanerDelivery, uow: UnitOfWorkDep, staff: FieldStaff
) -> JobDetail:
    async with uow:
        actor = await actor_of(staff, uow)
        job = await appointments.loaner_delivered(
            uow, request_no, body.note, actor, datetime.now(UTC)
        )
        await uow.commit()
        return await _detail(uow, job)


@router.post(
    "/{request_no}/promise",
    summary="Same-day rule: the promised time of a job not finished on its day",
)
async def promise(
    request_no: RequestNo, body: Promise, uow: UnitOfWorkDep, staff: FieldStaff
) -> JobDetail:
    async with uow:
        actor = await actor_of(staff, uow)
        job = await appointments.promise(
            uow, request_no, body.promised_at, body.note, actor, datetime.now(UTC)
        )
        await uow.commit()
        return await _detail(uow, job)
