"""Return-for-repair for intake agents: receive, store, send to repair, inspect, ship back,
confirm the customer's receipt. A step out of order is 409 naming the steps allowed."""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import asdict
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from services.intake.api.routes import RequestNo, illegal_transition
from services.intake.commands import returns as commands
from services.intake.commands.errors import Conflict, NotFound
from services.intake.domain.return_for_repair import (
    ReplacedPart,
    ReturnForRepair,
    ReturnRefused,
    ReturnStatus,
    WorkshopRepair,
)
from services.intake.domain.service_request import Cause
from shared.auth.dependencies import require_roles
from shared.auth.roles import Role
from shared.auth.tokens import Staff
from shared.http.deps import UnitOfWorkDep
from shared.http.problems import Problem

router = APIRouter(prefix="/api/v1", tags=["return for repair"])
Agent = Annotated[Staff, Depends(require_roles(Role.INTAKE_AGENT, Role.MANAGER))]
Reader = Annotated[Staff, Depends(require_roles(Role.INTAKE_AGENT, Role.MANAGER, read=True))]
Text = Annotated[str, Field(min_length=1, max_length=2000)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ReturnReceive(_In):
    condition: Text = Field(description="As it arrived, e.g. 外壳有划痕，包装完好")
    accessories: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(
        default_factory=list, max_length=50
    )


class ReturnStore(_In):
    location: Annotated[str, Field(min_length=1, max_length=200)]


class ReturnToRepair(_In):
    note: Text | None = None


class ReplacedPartIn(_In):
    part_no: Annotated[str, Field(min_length=1, max_length=50)]
    quantity: int = Field(ge=1, le=1000)
    old_part_serial: Annotated[str, Field(min_length=1, max_length=100)] | None = None


class WorkshopRepairIn(_In):
    cause: Cause
    fault_code: Annotated[str, Field(min_length=1, max_length=50)] | None = None
    labour_hours: Decimal = Field(ge=0, le=1000, max_digits=6, decimal_places=2)
    parts_replaced: list[ReplacedPartIn] = Field(default_factory=list, max_length=100)

    def report(self, repaired_by: str) -> WorkshopRepair:
        return WorkshopRepair(
            cause=self.cause, fault_code=self.fault_code, labour_hours=self.labour_hours,
            parts_replaced=tuple(
                ReplacedPart(p.part_no, p.quantity, p.old_part_serial) for p in self.parts_replaced
            ),
            repaired_by=repaired_by,
        )  # fmt: skip


class ReturnInspection(_In):
    passed: bool
    notes: Text | None = None
    repair: WorkshopRepairIn | None = Field(
        None,
        description=(
            "Required when passed: what the workshop found and did (the warranty claim is "
            "judged by it)"
        ),
    )

    @model_validator(mode="after")
    def _passed_with_its_repair(self) -> ReturnInspection:
        if self.passed and self.repair is None:
            raise ValueError("a passed inspection needs the workshop's repair report (repair)")
        return self


class ReturnShipment(_In):
    carrier: Annotated[str, Field(min_length=1, max_length=100)]
    tracking_no: Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9-]+$")]
    shipping_cost: Decimal | None = Field(None, ge=0, max_digits=12, decimal_places=2)


class ReturnStepRead(BaseModel):
    at: AwareDatetime
    status: ReturnStatus
    note: str
    by: str


class ReturnRead(BaseModel):
    return_no: str
    request_no: str
    product_model: str
    serial_no: str
    in_warranty: bool | None
    condition: str
    accessories: list[str]
    status: ReturnStatus
    location: str | None
    repair_rounds: int
    carrier: str | None
    tracking_no: str | None
    shipping_cost: Decimal | None
    received_at: AwareDatetime
    shipped_at: AwareDatetime | None
    confirmed_at: AwareDatetime | None
    repair: dict[str, Any] | None
    history: list[ReturnStepRead]


def _read(r: ReturnForRepair) -> ReturnRead:
    return ReturnRead(
        return_no=r.return_no, request_no=r.request_no, product_model=r.product_model,
        serial_no=r.serial_no, in_warranty=r.in_warranty, condition=r.condition,
        accessories=list(r.accessories), status=r.status, location=r.location,
        repair_rounds=r.repair_rounds, carrier=r.carrier, tracking_no=r.tracking_no,
        shipping_cost=r.shipping_cost, received_at=r.received_at, shipped_at=r.shipped_at,
        confirmed_at=r.confirmed_at,
        repair=None if r.repair is None else asdict(r.repair),
        history=[ReturnStepRead(at=h.at, status=h.status, note=h.note, by=h.by)
                 for h in r.history],
    )  # fmt: skip


async def _run(action: Awaitable[ReturnForRepair]) -> ReturnRead:
    try:
        return _read(await action)
    except NotFound as exc:
        raise Problem(404, "Not Found", f"No return for repair on service request {exc}.") from exc
    except Conflict as exc:
        raise Problem(409, "Conflict", str(exc), type_="urn:aftersales:problem:return") from exc
    except ReturnRefused as exc:
        raise illegal_transition(exc, exc.status.value, exc.allowed) from exc


RETURN = "/service-requests/{request_no}/return"


@router.post(RETURN, status_code=201, summary="The unit arrived: condition and accessories")
async def receive(
    request_no: RequestNo, body: ReturnReceive, uow: UnitOfWorkDep, staff: Agent
) -> ReturnRead:
    return await _run(
        commands.receive_return(uow, request_no, body.condition, body.accessories, staff.subject)
    )


@router.get(RETURN, summary="The unit sent in for repair, with its history")
async def get_return(request_no: RequestNo, uow: UnitOfWorkDep, _: Reader) -> ReturnRead:
    found = await commands.find_return(uow, request_no)
    if found is None:
        raise Problem(404, "Not Found", f"No return for repair on service request {request_no}.")
    return _read(found)


@router.post(f"{RETURN}/store", summary="Stored at a location")
async def store(
    request_no: RequestNo, body: ReturnStore, uow: UnitOfWorkDep, staff: Agent
) -> ReturnRead:
    return await _run(commands.store_return(uow, request_no, body.location, staff.subject))


@router.post(f"{RETURN}/send-to-repair", summary="Sent to the repair shop")
async def send_to_repair(
    request_no: RequestNo, uow: UnitOfWorkDep, staff: Agent, body: ReturnToRepair | None = None
) -> ReturnRead:
    note = body.note if body else None
    return await _run(commands.send_return_to_repair(uow, request_no, note, staff.subject))


@router.post(f"{RETURN}/inspect", summary="Inspected: passed, or failed and back to repair")
async def inspect(
    request_no: RequestNo, body: ReturnInspection, uow: UnitOfWorkDep, staff: Agent
) -> ReturnRead:
    repair = body.repair.report(staff.subject) if body.repair is not None else None
    return await _run(
        commands.inspect_return(uow, request_no, body.passed, body.notes, staff.subject, repair)
    )


@router.post(f"{RETURN}/ship", summary="Shipped back: carrier and tracking number")
async def ship(
    request_no: RequestNo, body: ReturnShipment, uow: UnitOfWorkDep, staff: Agent
) -> ReturnRead:
    return await _run(
        commands.ship_return(
            uow, request_no, body.carrier, body.tracking_no, body.shipping_cost, staff.subject
        )
    )


@router.post(f"{RETURN}/confirm-receipt", summary="The customer confirmed receipt")
async def confirm_receipt(request_no: RequestNo, uow: UnitOfWorkDep, staff: Agent) -> ReturnRead:
    return await _run(commands.confirm_return_receipt(uow, request_no, staff.subject))


@router.get("/returns", summary="Units sent in for repair, newest first")
async def list_returns(
    uow: UnitOfWorkDep,
    _: Reader,
    status: ReturnStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[ReturnRead]:
    return [_read(r) for r in await commands.list_returns(uow, status, limit)]
