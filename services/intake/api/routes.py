"""Intake's staff API."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Response

from services.intake.api.schemas import ServiceRequestCreate, ServiceRequestRead
from services.intake.commands import RegisterRequest, find_request, register_request
from services.intake.domain.service_request import ServiceRequest
from shared.auth.dependencies import require_roles
from shared.auth.roles import Role
from shared.auth.tokens import Staff
from shared.http.deps import UnitOfWorkDep
from shared.http.problems import Problem

router = APIRouter(prefix="/api/v1/service-requests", tags=["service requests"])

RequestNo = Annotated[str, Path(pattern=r"^SR-\d{4}-\d{6}$", examples=["SR-2026-000123"])]


def _read(request: ServiceRequest) -> ServiceRequestRead:
    return ServiceRequestRead(
        request_no=request.request_no,
        channel=request.channel,
        status=request.status,
        customer_name=request.customer_name,
        product_model=request.product_model,
        serial_no=request.serial_no,
        fault_description=request.fault_description,
        received_at=request.received_at,
    )


@router.post("", status_code=201, summary="Register a service request")
async def create_service_request(
    body: ServiceRequestCreate,
    uow: UnitOfWorkDep,
    response: Response,
    _staff: Annotated[Staff, Depends(require_roles(Role.INTAKE_AGENT))],
) -> ServiceRequestRead:
    request = await register_request(
        uow,
        RegisterRequest(
            channel=body.channel,
            customer_name=body.customer.name,
            customer_phone=body.customer.phone,
            product_model=body.product.model,
            serial_no=body.product.serial_no,
            fault_description=body.fault_description,
        ),
    )
    response.headers["Location"] = f"{router.prefix}/{request.request_no}"
    return _read(request)


@router.get("/{request_no}", summary="One service request")
async def get_service_request(
    request_no: RequestNo,
    uow: UnitOfWorkDep,
    _staff: Annotated[Staff, Depends(require_roles(Role.INTAKE_AGENT, read=True))],
) -> ServiceRequestRead:
    request = await find_request(uow, request_no)
    if request is None:
        raise Problem(404, "Not Found", f"No service request {request_no}.")
    return _read(request)
