"""Intake agents moving a request along: acknowledge, triage, resolve remotely, cancel,
close, reopen. An illegal move is 409 with the moves that are allowed."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from services.intake.api.routes import RequestNo, illegal_transition, request_read
from services.intake.api.schemas import ServiceRequestRead
from services.intake.api.sla_routes import clocks_of
from services.intake.commands import workflow
from services.intake.commands.errors import NotFound
from services.intake.domain.service_request import Kind, ServiceRequest, Severity
from services.intake.domain.triage import decision_for
from services.intake.domain.workflow import IllegalTransition
from shared.auth.dependencies import require_roles
from shared.auth.roles import Role
from shared.auth.tokens import Staff
from shared.db.unit_of_work import UnitOfWork
from shared.http.deps import UnitOfWorkDep
from shared.http.problems import Problem

router = APIRouter(prefix="/api/v1/service-requests", tags=["service requests"])
Agent = Annotated[Staff, Depends(require_roles(Role.INTAKE_AGENT, Role.MANAGER))]


class TriageIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Kind
    severity: Severity
    visit_needed: bool | None = Field(None, description="Default: from the kind")


class Reason(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    reason: str = Field(min_length=1, max_length=2000)


class Resolution(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    note: str = Field(min_length=1, max_length=5000)


async def _run(uow: UnitOfWork, action: Awaitable[ServiceRequest]) -> ServiceRequestRead:
    try:
        request = await action
    except NotFound as exc:
        raise Problem(404, "Not Found", f"No service request {exc}.") from exc
    except IllegalTransition as exc:
        raise illegal_transition(exc, exc.status.value, exc.allowed) from exc
    return request_read(request, await clocks_of(uow, request.request_no))


@router.post("/{request_no}/acknowledge", summary="Acknowledge receipt")
async def acknowledge(
    request_no: RequestNo, uow: UnitOfWorkDep, staff: Agent
) -> ServiceRequestRead:
    return await _run(uow, workflow.acknowledge(uow, request_no, staff.subject))


@router.post("/{request_no}/triage", summary="Triage, or change the triage")
async def triage(
    request_no: RequestNo, body: TriageIn, uow: UnitOfWorkDep, staff: Agent
) -> ServiceRequestRead:
    decision = decision_for(body.kind, body.severity, body.visit_needed)
    return await _run(uow, workflow.triage(uow, request_no, decision, staff.subject))


@router.post("/{request_no}/resolve-remotely", summary="Solved on the phone; no visit")
async def resolve_remotely(
    request_no: RequestNo, body: Resolution, uow: UnitOfWorkDep, staff: Agent
) -> ServiceRequestRead:
    return await _run(uow, workflow.resolve_remotely(uow, request_no, body.note, staff.subject))


@router.post("/{request_no}/cancel", summary="Cancel an open request, with a reason")
async def cancel(
    request_no: RequestNo, body: Reason, uow: UnitOfWorkDep, staff: Agent
) -> ServiceRequestRead:
    return await _run(uow, workflow.cancel(uow, request_no, body.reason, staff.subject))


@router.post("/{request_no}/close", summary="Close a request whose work is done")
async def close(request_no: RequestNo, uow: UnitOfWorkDep, staff: Agent) -> ServiceRequestRead:
    return await _run(uow, workflow.close(uow, request_no, staff.subject))


@router.post("/{request_no}/reopen", summary="Reopen within 30 days (setting) of closing")
async def reopen(
    request_no: RequestNo, body: Reason, uow: UnitOfWorkDep, staff: Agent, request: Request
) -> ServiceRequestRead:
    window = request.app.state.runtime.settings.service.reopen_window
    return await _run(uow, workflow.reopen(uow, request_no, body.reason, staff.subject, window))


@router.post(
    "/{request_no}/wait-for-customer", summary="Stop the SLA clocks: waiting on the customer"
)
async def wait_for_customer(
    request_no: RequestNo, body: Reason, uow: UnitOfWorkDep, staff: Agent
) -> ServiceRequestRead:
    return await _run(uow, workflow.wait_for_customer(uow, request_no, body.reason, staff.subject))


@router.post("/{request_no}/customer-answered", summary="Start the SLA clocks again")
async def customer_answered(
    request_no: RequestNo, uow: UnitOfWorkDep, staff: Agent
) -> ServiceRequestRead:
    return await _run(uow, workflow.customer_answered(uow, request_no, staff.subject))
