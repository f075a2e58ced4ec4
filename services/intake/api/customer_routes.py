"""Customers' records for intake agents: name, phones, address, region and position."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Response

from services.intake.api.schemas import CustomerCreate, CustomerRecord, CustomerUpdate
from services.intake.commands.customers import (
    CustomerChange,
    add_customer,
    change_customer,
    find_customer,
)
from services.intake.commands.errors import NotFound
from services.intake.db.catalogue import position_of
from services.intake.db.models import CustomerRow
from shared.auth.dependencies import require_roles
from shared.auth.roles import Role
from shared.auth.tokens import Staff
from shared.http.deps import UnitOfWorkDep
from shared.http.problems import Problem

router = APIRouter(prefix="/api/v1/customers", tags=["customers"])
Agent = Annotated[Staff, Depends(require_roles(Role.INTAKE_AGENT))]
Reader = Annotated[Staff, Depends(require_roles(Role.INTAKE_AGENT, Role.MANAGER, read=True))]
CustomerId = Annotated[int, Path(ge=1, le=2**31 - 1)]


def _record(row: CustomerRow) -> CustomerRecord:
    latitude, longitude = position_of(row)
    return CustomerRecord(
        customer_id=row.id, name=row.name, phone=row.phone, other_phones=row.other_phones,
        address=row.address, region=row.region, latitude=latitude, longitude=longitude,
        created_at=row.created_at,
    )  # fmt: skip


def _missing(customer_id: int) -> Problem:
    return Problem(404, "Not Found", f"No customer {customer_id}.")


@router.post("", status_code=201, summary="Register a customer")
async def create_customer(
    body: CustomerCreate, uow: UnitOfWorkDep, response: Response, _staff: Agent
) -> CustomerRecord:
    row = await add_customer(uow, body.customer(), body.other_phones)
    response.headers["Location"] = f"{router.prefix}/{row.id}"
    return _record(row)


@router.get("/{customer_id}", summary="One customer")
async def get_customer(
    customer_id: CustomerId, uow: UnitOfWorkDep, _staff: Reader
) -> CustomerRecord:
    row = await find_customer(uow, customer_id)
    if row is None:
        raise _missing(customer_id)
    return _record(row)


@router.patch("/{customer_id}", summary="Change a customer's record (only the fields given)")
async def update_customer(
    customer_id: CustomerId, body: CustomerUpdate, uow: UnitOfWorkDep, _staff: Agent
) -> CustomerRecord:
    try:
        row = await change_customer(
            uow, customer_id, CustomerChange(**body.model_dump(exclude_unset=True))
        )
    except NotFound as exc:
        raise _missing(customer_id) from exc
    return _record(row)
