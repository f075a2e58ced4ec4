"""Reservations and backorders, issue to technicians and their returns, emergencies."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from sqlalchemy import select

from services.parts.api.deps import (
    Approver,
    EmergencyRequester,
    HoldingsReader,
    Reader,
    Settings,
    Warehouse,
    WarehouseOrTechnician,
    only_own,
    stockroom_for,
)
from services.parts.api.schemas import (
    BackorderRead,
    DecisionWrite,
    EmergencyRead,
    EmergencyWrite,
    HoldingRead,
    IssuedLineRead,
    IssueWrite,
    ReservationLineRead,
    ReservationRead,
    ReturnWrite,
    ShipmentWrite,
)
from services.parts.commands import emergencies, reservations
from services.parts.commands.errors import Conflict, NotFound
from services.parts.db.models import (
    EmergencyRow,
    ReservationLineRow,
    ReservationRow,
    TechnicianHoldingRow,
)
from shared.http.deps import UnitOfWorkDep

router = APIRouter(prefix="/api/v1", tags=["reservations and emergencies"])
Number = Annotated[str, Path(min_length=1, max_length=30, pattern=r"^[A-Za-z0-9\-]+$")]


@router.get("/reservations", summary="Reservations, by state and job")
async def list_reservations(
    uow: UnitOfWorkDep,
    _: Reader,
    status: Annotated[str | None, Query(pattern="^(confirmed|backordered|issued|closed)$")] = None,
    request_no: Annotated[str | None, Query(max_length=20)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[ReservationRead]:
    query = select(ReservationRow).order_by(ReservationRow.created_at.desc()).limit(limit)
    if status:
        query = query.where(ReservationRow.status == status)
    if request_no:
        query = query.where(ReservationRow.request_no == request_no)
    async with uow:
        rows = (await uow.session.execute(query)).scalars().all()
        ids = [r.reservation_id for r in rows]
        lines = (
            (
                await uow.session.execute(
                    select(ReservationLineRow)
                    .where(ReservationLineRow.reservation_id.in_(ids))
                    .order_by(ReservationLineRow.id)
                )
            )
            .scalars()
            .all()
        )
    by_reservation: dict[str, list[ReservationLineRead]] = {}
    for line in lines:
        by_reservation.setdefault(line.reservation_id, []).append(
            ReservationLineRead.model_validate(line)
        )
    return [
        ReservationRead.model_validate(r).model_copy(
            update={"lines": by_reservation.get(r.reservation_id, [])}
        )
        for r in rows
    ]


@router.get("/backorders", summary="What waits for stock, in the order it will be filled")
async def list_backorders(
    uow: UnitOfWorkDep,
    _: Reader,
    part_no: Annotated[str | None, Query(max_length=40)] = None,
) -> list[BackorderRead]:
    query = (
        select(ReservationLineRow, ReservationRow)
        .join(ReservationRow, ReservationRow.reservation_id == ReservationLineRow.reservation_id)
        .where(ReservationLineRow.backordered > 0, ReservationRow.status == "backordered")
    )
    if part_no:
        query = query.where(ReservationLineRow.part_no == part_no)
    async with uow:
        found = (await uow.session.execute(query)).all()
    rank = {"emergency": 0, "urgent": 1, "ordinary": 2}
    found.sort(key=lambda x: (rank.get(x[1].priority, 2), x[1].created_at, x[0].id))
    return [
        BackorderRead(
            reservation_id=r.reservation_id, request_no=r.request_no,
            warehouse_id=r.warehouse_id, priority=r.priority, created_at=r.created_at,
            part_no=line.part_no, waiting=line.backordered,
        )
        for line, r in found
    ]  # fmt: skip


@router.post(
    "/reservations/{reservation_id}/issue", summary="Hand the reserved parts to the technician"
)
async def issue_reservation(
    reservation_id: Number, body: IssueWrite, uow: UnitOfWorkDep, staff: Warehouse
) -> list[IssuedLineRead]:
    async with stockroom_for(uow, staff) as room:
        issued = await reservations.issue(room, reservation_id, body.technician_id)
    return [IssuedLineRead(**line.model_dump()) for line in issued]


@router.post(
    "/reservations/{reservation_id}/release",
    summary="Give a reservation's parts back to stock (a warehouse decision)",
)
async def release_reservation(
    reservation_id: Number, uow: UnitOfWorkDep, staff: Warehouse
) -> dict[str, str]:
    async with stockroom_for(uow, staff) as room:
        row = await room.session.get(ReservationRow, reservation_id, with_for_update=True)
        if row is None:
            raise NotFound(f"No reservation {reservation_id}.")
        if row.status not in ("confirmed", "backordered"):
            raise Conflict(
                f"reservation {reservation_id} is {row.status}; "
                "only confirmed or backordered reservations can be released"
            )
        await reservations.release(room, row, "manual")
    return {"reservation_id": reservation_id, "status": "closed"}


@router.post("/returns", status_code=201, summary="Unused parts back from the technician")
async def return_parts(
    body: ReturnWrite, uow: UnitOfWorkDep, staff: WarehouseOrTechnician
) -> dict[str, int | str]:
    async with stockroom_for(uow, staff) as room:
        await reservations.return_unused(
            room, body.request_no, body.part_no, body.quantity, only_own(staff)
        )
    return {"request_no": body.request_no, "part_no": body.part_no, "returned": body.quantity}


@router.get("/issues", summary="Parts out with technicians (a technician sees only their own)")
async def list_issues(
    uow: UnitOfWorkDep,
    staff: HoldingsReader,
    technician_id: Annotated[str | None, Query(max_length=60)] = None,
    request_no: Annotated[str | None, Query(max_length=20)] = None,
    outstanding: bool = False,
) -> list[HoldingRead]:
    own = only_own(staff)
    if own is not None:
        technician_id = own
    query = select(TechnicianHoldingRow).order_by(TechnicianHoldingRow.id)
    if technician_id:
        query = query.where(TechnicianHoldingRow.technician_id == technician_id)
    if request_no:
        query = query.where(TechnicianHoldingRow.request_no == request_no)
    if outstanding:
        query = query.where(
            TechnicianHoldingRow.issued
            > TechnicianHoldingRow.consumed + TechnicianHoldingRow.returned
        )
    async with uow:
        return [HoldingRead.model_validate(r) for r in (await uow.session.execute(query)).scalars()]


@router.post("/emergencies", status_code=201, summary="Ask for parts for a machine that is down")
async def post_emergency(
    body: EmergencyWrite, uow: UnitOfWorkDep, staff: EmergencyRequester
) -> EmergencyRead:
    lines: dict[str, int] = {}
    for line in body.lines:
        lines[line.part_no] = lines.get(line.part_no, 0) + line.quantity
    async with stockroom_for(uow, staff) as room:
        row = await emergencies.request_emergency(
            room, body.request_no, body.service_point_id, lines, body.reason
        )
        result = EmergencyRead.model_validate(row)
    return result


@router.get("/emergencies", summary="Emergency requests, by state")
async def list_emergencies(
    uow: UnitOfWorkDep,
    _: Reader,
    status: Annotated[
        str | None, Query(pattern="^(requested|approved|rejected|shipped|cancelled)$")
    ] = None,
) -> list[EmergencyRead]:
    query = select(EmergencyRow).order_by(EmergencyRow.requested_at)
    if status:
        query = query.where(EmergencyRow.status == status)
    async with uow:
        return [
            EmergencyRead.model_validate(r) for r in (await uow.session.execute(query)).scalars()
        ]


@router.post(
    "/emergencies/{emergency_no}/decision",
    summary="A manager approves (it is then served before everyone) or rejects",
)
async def decide_emergency(
    emergency_no: Number, body: DecisionWrite, uow: UnitOfWorkDep, staff: Approver,
    settings: Settings,
) -> EmergencyRead:  # fmt: skip
    async with stockroom_for(uow, staff) as room:
        row = await emergencies.decide(room, emergency_no, body.approve, settings.reservation_hold)
        result = EmergencyRead.model_validate(row)
    return result


@router.post(
    "/emergencies/{emergency_no}/shipment",
    summary="Record the shipment (carrier, tracking); announced to intake and claims",
)
async def ship_emergency(
    emergency_no: Number, body: ShipmentWrite, uow: UnitOfWorkDep, staff: Warehouse
) -> EmergencyRead:
    async with stockroom_for(uow, staff) as room:
        row = await emergencies.ship(room, emergency_no, body.carrier, body.tracking_no)
        result = EmergencyRead.model_validate(row)
    return result
