"""Stock by warehouse, the movement ledger, receipts, transfers, adjustments, scrap and
reorder points."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from sqlalchemy import select

from services.parts.api.deps import HoldingsReader, Reader, Warehouse, only_own, stockroom_for
from services.parts.api.schemas import (
    AdjustmentWrite,
    MovementRead,
    ReceiptWrite,
    ReorderWrite,
    ScrapWrite,
    StockChangeRead,
    StockRead,
    TransferWrite,
)
from services.parts.commands import stock
from services.parts.db.models import MovementRow, StockRow, WarehouseRow
from services.parts.domain.stock import MovementKind
from shared.http.deps import UnitOfWorkDep

router = APIRouter(prefix="/api/v1", tags=["stock"])
Key = Annotated[str, Path(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9._\-]+$")]


def _stock(row: StockRow) -> StockRead:
    available = row.on_hand - row.reserved
    return StockRead(
        part_no=row.part_no,
        warehouse_id=row.warehouse_id,
        on_hand=row.on_hand,
        reserved=row.reserved,
        available=available,
        reorder_point=row.reorder_point,
        reorder_quantity=row.reorder_quantity,
        below_reorder_point=row.reorder_point is not None and available <= row.reorder_point,
    )


@router.get(
    "/stock", summary="Stock by warehouse and part, with filters (a technician: their own van)"
)
async def list_stock(
    uow: UnitOfWorkDep,
    staff: HoldingsReader,
    warehouse_id: Annotated[str | None, Query(max_length=20)] = None,
    part_no: Annotated[str | None, Query(max_length=40)] = None,
    below_reorder_point: bool = False,
    limit: Annotated[int, Query(ge=1, le=1000)] = 500,
) -> list[StockRead]:
    query = select(StockRow).order_by(StockRow.warehouse_id, StockRow.part_no)
    own = only_own(staff)
    if own is not None:
        query = query.where(
            StockRow.warehouse_id.in_(
                select(WarehouseRow.warehouse_id).where(WarehouseRow.technician_id == own)
            )
        )
    if warehouse_id:
        query = query.where(StockRow.warehouse_id == warehouse_id)
    if part_no:
        query = query.where(StockRow.part_no == part_no)
    if below_reorder_point:
        query = query.where(
            StockRow.reorder_point.is_not(None),
            StockRow.on_hand - StockRow.reserved <= StockRow.reorder_point,
        )
    async with uow:
        rows = (await uow.session.execute(query.limit(limit))).scalars().all()
    return [_stock(r) for r in rows]


@router.get("/parts/{part_no}/movements", summary="The movement ledger of one part")
async def part_movements(
    part_no: Key,
    uow: UnitOfWorkDep,
    _: Reader,
    warehouse_id: Annotated[str | None, Query(max_length=20)] = None,
    kind: MovementKind | None = None,
    after_id: Annotated[int, Query(ge=0, description="Cursor: the last id seen")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[MovementRead]:
    query = select(MovementRow).where(MovementRow.part_no == part_no, MovementRow.id > after_id)
    if warehouse_id:
        query = query.where(MovementRow.warehouse_id == warehouse_id)
    if kind:
        query = query.where(MovementRow.kind == kind.value)
    async with uow:
        rows = (await uow.session.execute(query.order_by(MovementRow.id).limit(limit))).scalars()
        return [MovementRead.model_validate(r) for r in rows]


@router.post("/receipts", status_code=201, summary="Goods received from a supplier")
async def post_receipt(body: ReceiptWrite, uow: UnitOfWorkDep, staff: Warehouse) -> StockChangeRead:
    async with stockroom_for(uow, staff) as room:
        given = await stock.receive(
            room, body.part_no, body.warehouse_id, body.quantity, body.reference, body.plan_no
        )
    return StockChangeRead(
        part_no=body.part_no, warehouse_id=body.warehouse_id, to_backorders=given
    )


@router.post("/transfers", status_code=201, summary="Move stock between warehouses")
async def post_transfer(
    body: TransferWrite, uow: UnitOfWorkDep, staff: Warehouse
) -> StockChangeRead:
    async with stockroom_for(uow, staff) as room:
        given = await stock.transfer(
            room, body.part_no, body.from_warehouse_id, body.to_warehouse_id, body.quantity,
            body.reference, body.plan_no,
        )  # fmt: skip
    return StockChangeRead(
        part_no=body.part_no, warehouse_id=body.to_warehouse_id, to_backorders=given
    )


@router.post("/adjustments", status_code=201, summary="Correct a count, with the reason")
async def post_adjustment(
    body: AdjustmentWrite, uow: UnitOfWorkDep, staff: Warehouse
) -> StockChangeRead:
    async with stockroom_for(uow, staff) as room:
        await stock.adjust(room, body.part_no, body.warehouse_id, body.change, body.reason)
    return StockChangeRead(part_no=body.part_no, warehouse_id=body.warehouse_id, to_backorders=0)


@router.post("/scrap", status_code=201, summary="Write off damaged or unusable stock")
async def post_scrap(body: ScrapWrite, uow: UnitOfWorkDep, staff: Warehouse) -> StockChangeRead:
    async with stockroom_for(uow, staff) as room:
        await stock.scrap(room, body.part_no, body.warehouse_id, body.quantity, body.reason)
    return StockChangeRead(part_no=body.part_no, warehouse_id=body.warehouse_id, to_backorders=0)


@router.put(
    "/stock/{warehouse_id}/{part_no}/reorder",
    summary="Reorder point (min) and reorder quantity of a part in a warehouse",
)
async def put_reorder(
    warehouse_id: Key, part_no: Key, body: ReorderWrite, uow: UnitOfWorkDep, staff: Warehouse
) -> StockRead:
    async with stockroom_for(uow, staff) as room:
        await stock.set_reorder_point(
            room, part_no, warehouse_id, body.reorder_point, body.reorder_quantity
        )
        row = await room.row(part_no, warehouse_id)
        result = _stock(row)
    return result
