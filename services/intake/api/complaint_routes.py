"""The complaints register for intake agents: open with a cause, handle, resolve; the list and
the analysis report (counts by cause, model and month; JSON or CSV)."""

from __future__ import annotations

import csv
import io
from collections.abc import Awaitable
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from services.intake.api.routes import RequestNo, illegal_transition
from services.intake.commands import complaints as commands
from services.intake.commands.errors import Conflict, NotFound
from services.intake.domain.complaint import (
    Complaint,
    ComplaintCause,
    ComplaintRefused,
    ComplaintStatus,
    StepKind,
)
from shared.auth.dependencies import require_roles
from shared.auth.roles import Role
from shared.auth.tokens import Staff
from shared.http.deps import UnitOfWorkDep
from shared.http.problems import Problem

router = APIRouter(prefix="/api/v1", tags=["complaints"])
Agent = Annotated[Staff, Depends(require_roles(Role.INTAKE_AGENT, Role.MANAGER))]
Reader = Annotated[Staff, Depends(require_roles(Role.INTAKE_AGENT, Role.MANAGER, read=True))]


class ComplaintOpen(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    cause: ComplaintCause
    description: str | None = Field(
        None, min_length=1, max_length=5000, description="Default: the request's description"
    )


class ComplaintClassify(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cause: ComplaintCause


class HandlingStepIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    kind: StepKind
    note: str = Field(min_length=1, max_length=5000)


class ComplaintResult(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    result: str = Field(min_length=1, max_length=5000)


class HandlingStepRead(BaseModel):
    at: AwareDatetime
    kind: StepKind
    note: str
    by: str


class ComplaintRead(BaseModel):
    complaint_no: str
    request_no: str
    product_model: str
    description: str
    cause: ComplaintCause
    quality: bool
    status: ComplaintStatus
    steps: list[HandlingStepRead]
    result: str | None
    received_at: AwareDatetime
    opened_at: AwareDatetime
    reported_to_quality_at: AwareDatetime | None
    resolved_at: AwareDatetime | None


class CountRead(BaseModel):
    key: str
    count: int


class ComplaintAnalysisRead(BaseModel):
    total: int
    quality: int
    by_cause: list[CountRead]
    by_model: list[CountRead]
    by_month: list[CountRead]


def _read(c: Complaint) -> ComplaintRead:
    return ComplaintRead(
        complaint_no=c.complaint_no, request_no=c.request_no, product_model=c.product_model,
        description=c.description, cause=c.cause, quality=c.is_quality, status=c.status,
        steps=[HandlingStepRead(at=s.at, kind=s.kind, note=s.note, by=s.by) for s in c.steps],
        result=c.result, received_at=c.received_at, opened_at=c.opened_at,
        reported_to_quality_at=c.reported_at, resolved_at=c.resolved_at,
    )  # fmt: skip


async def _run(action: Awaitable[Complaint]) -> ComplaintRead:
    try:
        return _read(await action)
    except NotFound as exc:
        raise Problem(404, "Not Found", f"No complaint for service request {exc}.") from exc
    except Conflict as exc:
        raise Problem(409, "Conflict", str(exc), type_="urn:aftersales:problem:complaint") from exc
    except ComplaintRefused as exc:
        raise illegal_transition(exc, exc.status.value, exc.allowed) from exc


COMPLAINT = "/service-requests/{request_no}/complaint"


@router.post(COMPLAINT, status_code=201, summary="Register the request's complaint")
async def open_complaint(
    request_no: RequestNo, body: ComplaintOpen, uow: UnitOfWorkDep, staff: Agent
) -> ComplaintRead:
    return await _run(
        commands.open_complaint(uow, request_no, body.cause, body.description, staff.subject)
    )


@router.get(COMPLAINT, summary="The request's complaint, with its handling")
async def get_complaint(request_no: RequestNo, uow: UnitOfWorkDep, _: Reader) -> ComplaintRead:
    found = await commands.find_complaint(uow, request_no)
    if found is None:
        raise Problem(404, "Not Found", f"No complaint for service request {request_no}.")
    return _read(found)


@router.post(f"{COMPLAINT}/cause", summary="Change the cause (quality goes on to claims)")
async def classify(
    request_no: RequestNo, body: ComplaintClassify, uow: UnitOfWorkDep, staff: Agent
) -> ComplaintRead:
    return await _run(commands.classify_complaint(uow, request_no, body.cause, staff.subject))


@router.post(f"{COMPLAINT}/steps", summary="Record a handling step")
async def add_step(
    request_no: RequestNo, body: HandlingStepIn, uow: UnitOfWorkDep, staff: Agent
) -> ComplaintRead:
    return await _run(
        commands.add_handling_step(uow, request_no, body.kind, body.note, staff.subject)
    )


@router.post(f"{COMPLAINT}/resolve", summary="Record the result (after a verification)")
async def resolve(
    request_no: RequestNo, body: ComplaintResult, uow: UnitOfWorkDep, staff: Agent
) -> ComplaintRead:
    return await _run(commands.resolve_complaint(uow, request_no, body.result, staff.subject))


@router.get("/complaints", summary="The complaints register, newest first")
async def list_complaints(
    uow: UnitOfWorkDep,
    _: Reader,
    status: ComplaintStatus | None = None,
    cause: ComplaintCause | None = None,
    product_model: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[ComplaintRead]:
    return [
        _read(c) for c in await commands.list_complaints(uow, status, cause, product_model, limit)
    ]


@router.get(
    "/complaints/analysis",
    summary="Complaints counted by cause, product model and month of receipt (UTC)",
    response_model=ComplaintAnalysisRead,
    responses={200: {"content": {"text/csv": {}}}},
)
async def analysis(
    uow: UnitOfWorkDep,
    _: Reader,
    received_from: AwareDatetime | None = None,
    received_to: AwareDatetime | None = None,
    format: Literal["json", "csv"] = "json",
) -> ComplaintAnalysisRead | Response:
    result = await commands.analyse_complaints(uow, received_from, received_to)
    if format == "csv":
        text = io.StringIO()
        writer = csv.writer(text, lineterminator="\n")
        writer.writerow(["dimension", "key", "count"])
        writer.writerows(result.csv_rows())
        return Response(
            text.getvalue(),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="complaints.csv"'},
        )

    def counts(values: dict[str, int]) -> list[CountRead]:
        return [CountRead(key=k, count=n) for k, n in values.items()]

    return ComplaintAnalysisRead(
        total=result.total, quality=result.quality, by_cause=counts(result.by_cause),
        by_model=counts(result.by_model), by_month=counts(result.by_month),
    )  # fmt: skip
