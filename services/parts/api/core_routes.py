"""Old parts: receipts into the old-parts store, expected and overdue returns, supplier
collections; replenishment plans; the reconciliation report."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel
from sqlalchemy import select

from services.parts.api.deps import Reader, Settings, Warehouse, refusals, stockroom_for
from services.parts.api.schemas import (
    CollectionRead,
    CoreReceiptRead,
    CoreReceiptWrite,
    ExpectedReturnRead,
    PlanLineRead,
    PlanRead,
    PlanWrite,
    ReconciledPartRead,
    ReconciliationRead,
)
from services.parts.commands import cores, replenishment, reports
from services.parts.commands.reports import reconciliation
from services.parts.db.models import (
    CoreReceiptRow,
    ExpectedReturnRow,
    ReplenishmentPlanRow,
    SupplierCollectionRow,
)
from services.parts.domain.reconciliation import ReconciledPart, months_before
from shared.http.deps import UnitOfWorkDep
from shared.http.problems import Problem

router = APIRouter(prefix="/api/v1", tags=["old parts, replenishment, reports"])
Number = Annotated[str, Path(min_length=1, max_length=30, pattern=r"^[A-Za-z0-9.\-_]+$")]


@router.post(
    "/core-receipts",
    status_code=201,
    summary="An old part handed in: checked against the job's report, mismatches recorded",
)
async def receive_core(
    body: CoreReceiptWrite, uow: UnitOfWorkDep, staff: Warehouse
) -> CoreReceiptRead:
    async with stockroom_for(uow, staff) as room:
        receipt = await cores.receive_core(
            room, body.request_no, body.part_no, body.quantity, body.serials
        )
        result = CoreReceiptRead.model_validate(receipt)
    return result


@router.get("/core-receipts", summary="Old parts handed in, with what did not match")
async def list_core_receipts(
    uow: UnitOfWorkDep,
    _: Reader,
    request_no: Annotated[str | None, Query(max_length=20)] = None,
    matched: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[CoreReceiptRead]:
    query = select(CoreReceiptRow).order_by(CoreReceiptRow.id.desc()).limit(limit)
    if request_no:
        query = query.where(CoreReceiptRow.request_no == request_no)
    if matched is not None:
        query = query.where(CoreReceiptRow.matched.is_(matched))
    async with uow:
        return [
            CoreReceiptRead.model_validate(r) for r in (await uow.session.execute(query)).scalars()
        ]


@router.get("/expected-returns", summary="Old parts expected back; overdue=true lists the late")
async def list_expected_returns(
    uow: UnitOfWorkDep,
    _: Reader,
    overdue: bool = False,
    request_no: Annotated[str | None, Query(max_length=20)] = None,
    status: Annotated[str | None, Query(pattern="^(expected|received|mismatched)$")] = None,
) -> list[ExpectedReturnRead]:
    query = select(ExpectedReturnRow).order_by(ExpectedReturnRow.due_at)
    if overdue:
        query = query.where(
            ExpectedReturnRow.due_at <= datetime.now(UTC),
            ExpectedReturnRow.quantity_received < ExpectedReturnRow.quantity_expected,
        )
    if request_no:
        query = query.where(ExpectedReturnRow.request_no == request_no)
    if status:
        query = query.where(ExpectedReturnRow.status == status)
    async with uow:
        rows = (await uow.session.execute(query)).scalars()
        return [ExpectedReturnRead.model_validate(r) for r in rows]


@router.get("/supplier-collections", summary="Suppliers told to collect their old parts")
async def list_collections(
    uow: UnitOfWorkDep,
    _: Reader,
    status: Annotated[str | None, Query(pattern="^(notified|collected|disposed)$")] = None,
) -> list[CollectionRead]:
    query = select(SupplierCollectionRow).order_by(SupplierCollectionRow.due_at)
    if status:
        query = query.where(SupplierCollectionRow.status == status)
    async with uow:
        rows = (await uow.session.execute(query)).scalars()
        return [CollectionRead.model_validate(r) for r in rows]


@router.post(
    "/supplier-collections/{collection_no}/collected",
    summary="The supplier collected its old parts in time",
)
async def collected(collection_no: Number, uow: UnitOfWorkDep, staff: Warehouse) -> CollectionRead:
    async with stockroom_for(uow, staff) as room:
        row = await cores.mark_collected(room, collection_no)
        result = CollectionRead.model_validate(row)
    return result


async def _plan_read(uow: UnitOfWorkDep, plan: ReplenishmentPlanRow) -> PlanRead:
    lines = await replenishment.plan_lines(uow.session, plan.plan_no)
    return PlanRead.model_validate(plan).model_copy(
        update={"lines": [PlanLineRead.model_validate(x) for x in lines]}
    )


@router.get("/replenishment-plans", summary="Replenishment plans, by warehouse and state")
async def list_plans(
    uow: UnitOfWorkDep,
    _: Reader,
    warehouse_id: Annotated[str | None, Query(max_length=20)] = None,
    status: Annotated[str | None, Query(pattern="^(draft|submitted|filled)$")] = None,
) -> list[PlanRead]:
    query = select(ReplenishmentPlanRow).order_by(ReplenishmentPlanRow.created_at)
    if warehouse_id:
        query = query.where(ReplenishmentPlanRow.warehouse_id == warehouse_id)
    if status:
        query = query.where(ReplenishmentPlanRow.status == status)
    async with uow:
        return [await _plan_read(uow, p) for p in (await uow.session.execute(query)).scalars()]


@router.put(
    "/warehouses/{warehouse_id}/replenishment-plan",
    summary="Set lines of the warehouse's draft plan (stock-low suggestions land here too)",
)
async def put_plan(
    warehouse_id: Number, body: PlanWrite, uow: UnitOfWorkDep, staff: Warehouse
) -> PlanRead:
    async with stockroom_for(uow, staff) as room:
        lines: dict[str, int] = {}
        for line in body.lines:
            lines[line.part_no] = line.quantity
        plan = await replenishment.put_lines(room.session, warehouse_id, lines, room.now)
        result = await _plan_read(uow, plan)
    return result


@router.post(
    "/replenishment-plans/{plan_no}/submit",
    summary="Send the plan; receipts and transfers naming it fill it",
)
async def submit_plan(plan_no: Number, uow: UnitOfWorkDep, staff: Warehouse) -> PlanRead:
    async with stockroom_for(uow, staff) as room:
        plan = await replenishment.submit(room.session, plan_no, staff.subject, room.now)
        result = await _plan_read(uow, plan)
    return result


def _figures(part: ReconciledPart) -> ReconciledPartRead:
    return ReconciledPartRead(
        part_no=part.part_no, issued=part.issued, consumed=part.consumed,
        returned=part.returned, still_out=part.still_out,
    )  # fmt: skip


@router.get(
    "/reconciliation/{warehouse_id}",
    summary="Issued vs consumed vs returned vs still out, per part, for a service centre",
    description="The period defaults to the last PARTS_RECONCILIATION_MONTHS months.",
)
async def reconciliation_report(
    warehouse_id: Number,
    uow: UnitOfWorkDep,
    _: Reader,
    settings: Settings,
    start: datetime | None = None,
    end: datetime | None = None,
) -> ReconciliationRead:
    if (start and start.tzinfo is None) or (end and end.tzinfo is None):
        raise Problem(422, "Invalid request", "start and end need a time zone (e.g. Z).")
    if any(moment and not 2000 <= moment.year <= 2100 for moment in (start, end)):
        # Also keeps "six months before" a real date.
        raise Problem(422, "Invalid request", "start and end lie between the years 2000 and 2100.")
    end = end or datetime.now(UTC)
    start = start or months_before(end, settings.reconciliation_months)
    if start >= end:
        raise Problem(422, "Invalid request", "start must be before end.")
    with refusals():
        async with uow:
            report = await reconciliation(uow.session, warehouse_id, start, end)
    return ReconciliationRead(
        warehouse_id=report.warehouse_id,
        period_start=report.period_start,
        period_end=report.period_end,
        parts=[_figures(p) for p in report.parts],
        totals=_figures(report.totals),
    )


class ReorderAdviceRead(BaseModel):
    part_no: str
    consumed: int
    reorder_point: int
    reorder_quantity: int


@router.get(
    "/reorder-advice/{warehouse_id}",
    summary="Reorder point and quantity per part, from the warehouse's consumption",
    description="Point: use during the lead time, doubled for safety; quantity: use during "
    "cover_days. Set them with PUT /stock/{warehouse_id}/{part_no}/reorder.",
)
async def get_reorder_advice(
    warehouse_id: Number,
    uow: UnitOfWorkDep,
    _: Reader,
    days: Annotated[int, Query(ge=7, le=730)] = 90,
    lead_days: Annotated[int, Query(ge=0, le=180)] = 7,
    cover_days: Annotated[int, Query(ge=1, le=365)] = 30,
) -> list[ReorderAdviceRead]:
    end = datetime.now(UTC)
    with refusals():
        async with uow:
            advice = await reports.reorder_advice(
                uow.session, warehouse_id, end - timedelta(days=days), end, lead_days, cover_days
            )
    return [ReorderAdviceRead(**a.__dict__) for a in advice]
