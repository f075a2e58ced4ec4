"""Intake's staff API."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request, Response

from services.intake.api.schemas import (
    CustomerRead,
    QualityAlertRead,
    ServiceRequestCreate,
    ServiceRequestRead,
    SlaClockRead,
    TechnicianRead,
    TimelineEntryRead,
    WarrantyRead,
)
from services.intake.api.sla_routes import clocks_of
from services.intake.commands.registration import RegisterRequest, find_request, register_request
from services.intake.db.catalogue import QualityAlerts
from services.intake.db.models import QualityAlertRow
from services.intake.domain.service_request import ServiceRequest
from shared.auth.dependencies import require_roles
from shared.auth.roles import Role
from shared.auth.tokens import Staff
from shared.http.deps import UnitOfWorkDep
from shared.http.problems import Problem

router = APIRouter(prefix="/api/v1/service-requests", tags=["service requests"])

RequestNo = Annotated[str, Path(pattern=r"^SR-\d{4}-\d{6}$", examples=["SR-2026-000123"])]


def illegal_transition(refused: Exception, status_now: str, allowed: list[str]) -> Problem:
    """The 409 every intake state machine (requests, complaints, returns) answers a move its
    state does not allow with: the state now and the moves it does allow."""
    return Problem(
        409,
        "Conflict",
        str(refused),
        type_="urn:aftersales:problem:illegal-transition",
        status_now=status_now,
        allowed=allowed,
    )


def request_read(
    request: ServiceRequest,
    sla: list[SlaClockRead] | None = None,
    alerts: list[QualityAlertRow] | None = None,
) -> ServiceRequestRead:
    return ServiceRequestRead(
        request_no=request.request_no,
        channel=request.channel,
        status=request.status,
        kind=request.kind,
        severity=request.severity,
        request=request.customer_asks,
        customer=CustomerRead(
            customer_id=request.customer_id,
            name=request.customer.name,
            phone=request.customer.phone,
            address=request.customer.address,
            region=request.customer.region,
        ),
        product_model=request.product_model,
        product_line=request.product_line,
        serial_no=request.serial_no,
        purchase_date=request.purchase_date,
        quantity=request.quantity,
        fault_description=request.fault_description,
        fault_code=request.fault_code,
        warranty=WarrantyRead(
            in_warranty=request.in_warranty, expires_on=request.warranty_expires_on
        ),
        dealer_id=request.dealer_id,
        dealer_report_no=request.dealer_report_no,
        received_at=request.received_at,
        updated_at=request.updated_at,
        timeline=[
            TimelineEntryRead(
                at=entry.at,
                department=entry.department,
                status=entry.status,
                summary=entry.summary,
                details=entry.details,
            )
            for entry in request.timeline
        ],
        sla=sla or [],
        technician=(
            TechnicianRead(
                technician_id=request.technician.technician_id,
                name=request.technician.name,
                assigned_at=request.technician.assigned_at,
            )
            if request.technician
            else None
        ),
        quality_alerts=[quality_alert_read(a) for a in alerts or []],
    )


def quality_alert_read(row: QualityAlertRow) -> QualityAlertRead:
    return QualityAlertRead(
        product_model=row.product_model, fault_code=row.fault_code, quarter=row.quarter,
        count=row.count, threshold=row.threshold, raised_at=row.raised_at,
    )  # fmt: skip


@router.post("", status_code=201, summary="Register a service request")
async def create_service_request(
    body: ServiceRequestCreate,
    uow: UnitOfWorkDep,
    request: Request,
    response: Response,
    staff: Annotated[Staff, Depends(require_roles(Role.INTAKE_AGENT))],
) -> ServiceRequestRead:
    registered = await register_request(
        uow,
        RegisterRequest(
            channel=body.channel,
            customer=body.customer.customer(),
            product_model=body.product.model,
            serial_no=body.product.serial_no,
            fault_description=body.fault_description,
            customer_asks=body.request,
            severity=body.severity,
            purchase_date=body.purchase_date,
            quantity=body.quantity,
            fault_code=body.fault_code,
            fault_occurred_at=body.fault_occurred_at,
            actor=staff.subject,
        ),
        request.app.state.runtime.settings.service.default_warranty_months,
    )
    response.headers["Location"] = f"{router.prefix}/{registered.request_no}"
    return request_read(registered, await clocks_of(uow, registered.request_no))


@router.get("/{request_no}", summary="One service request, with its timeline")
async def get_service_request(
    request_no: RequestNo,
    uow: UnitOfWorkDep,
    _staff: Annotated[Staff, Depends(require_roles(Role.INTAKE_AGENT, Role.MANAGER, read=True))],
) -> ServiceRequestRead:
    found = await find_request(uow, request_no, with_timeline=True)
    if found is None:
        raise Problem(404, "Not Found", f"No service request {request_no}.")
    async with uow:
        alerts = await QualityAlerts(uow.session).listed(found.product_model)
    return request_read(found, await clocks_of(uow, request_no), alerts)
