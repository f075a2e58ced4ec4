"""Catalogue, suppliers and warehouses."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from sqlalchemy import select

from services.parts.api.deps import CatalogueReader, Reader, Warehouse, refusals
from services.parts.api.schemas import (
    ImportReportRead,
    PartRead,
    PartWrite,
    RejectedLineRead,
    SupplierRead,
    SupplierWrite,
    WarehouseRead,
    WarehouseWrite,
)
from services.parts.commands.catalogue import import_parts, put_supplier, put_warehouse, save_part
from services.parts.db.models import PartRow, SupplierRow, WarehouseRow
from services.parts.domain.catalogue import PartDefinition
from shared.http.deps import UnitOfWorkDep
from shared.http.problems import Problem

router = APIRouter(prefix="/api/v1", tags=["catalogue"])
Key = Annotated[str, Path(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9._\-]+$")]
# Supplier and warehouse ids are kept in 20 characters: a longer one is refused here, not
# by the database.
ShortKey = Annotated[str, Path(min_length=1, max_length=20, pattern=r"^[A-Za-z0-9._\-]+$")]

CSV_BODY = {
    "requestBody": {
        "required": True,
        "content": {"text/csv": {"schema": {"type": "string"}}},
        "description": "UTF-8 CSV with a header row",
    }
}


@router.get("/parts", summary="The catalogue, optionally for one product model")
async def list_parts(
    uow: UnitOfWorkDep,
    _: CatalogueReader,
    model: Annotated[str | None, Query(max_length=100)] = None,
    supplier_id: Annotated[str | None, Query(max_length=20)] = None,
) -> list[PartRead]:
    async with uow:
        query = select(PartRow).order_by(PartRow.part_no)
        if supplier_id:
            query = query.where(PartRow.supplier_id == supplier_id)
        rows = (await uow.session.execute(query)).scalars().all()
    return [PartRead.model_validate(r) for r in rows if model is None or model in r.fits_models]


@router.get("/parts/{part_no}", summary="One part")
async def get_part(part_no: Key, uow: UnitOfWorkDep, _: CatalogueReader) -> PartRead:
    async with uow:
        row = await uow.session.get(PartRow, part_no)
    if row is None:
        raise Problem(404, "Not Found", f"No part {part_no}.")
    return PartRead.model_validate(row)


@router.put("/parts/{part_no}", summary="Add a part or change it (announced to claims, billing)")
async def put_part_route(
    part_no: Key, body: PartWrite, uow: UnitOfWorkDep, _: Warehouse, response: Response
) -> PartRead:
    try:
        part = PartDefinition(part_no=part_no, **body.model_dump())
    except ValidationError as exc:  # e.g. a name of blanks, empty once stripped
        raise RequestValidationError(
            [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)]
        ) from exc
    outcome = await save_part(uow, part)
    response.status_code = 201 if outcome == "created" else 200
    async with uow:
        row = await uow.session.get(PartRow, part_no)
    return PartRead.model_validate(row)


@router.post(
    "/parts/import",
    summary="Import parts from CSV; good rows are kept, bad ones reported by line",
    description="Columns: part_no, name, fits_models (separated by ;), unit_cost, list_price, "
    "supplier_id, genuine, return_required. Existing parts are updated.",
    openapi_extra=CSV_BODY,
)
async def import_parts_route(
    request: Request, uow: UnitOfWorkDep, _: Warehouse
) -> ImportReportRead:
    if request.headers.get("content-type", "").split(";")[0].strip() != "text/csv":
        raise Problem(415, "Unsupported Media Type", "Send the file as text/csv (UTF-8).")
    try:
        text = (await request.body()).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Problem(
            422, "Unprocessable Content", f"The file is not UTF-8 text (byte {exc.start})."
        ) from exc
    report = await import_parts(uow, text)
    return ImportReportRead(
        created=report.created,
        updated=report.updated,
        unchanged=report.unchanged,
        rejected=[RejectedLineRead(line=r.line, errors=r.errors) for r in report.rejected],
    )


@router.get("/suppliers", summary="Suppliers")
async def list_suppliers(uow: UnitOfWorkDep, _: CatalogueReader) -> list[SupplierRead]:
    async with uow:
        rows = await uow.session.execute(select(SupplierRow).order_by(SupplierRow.supplier_id))
        return [SupplierRead.model_validate(r) for r in rows.scalars()]


@router.put("/suppliers/{supplier_id}", summary="Add a supplier or change it")
async def put_supplier_route(
    supplier_id: ShortKey, body: SupplierWrite, uow: UnitOfWorkDep, _: Warehouse
) -> SupplierRead:
    async with uow:
        await put_supplier(uow, supplier_id, body.name, body.contact)
        await uow.commit()
    return SupplierRead(supplier_id=supplier_id, name=body.name, contact=body.contact)


@router.get("/warehouses", summary="Warehouses: central, service centres, old-parts store")
async def list_warehouses(uow: UnitOfWorkDep, _: Reader) -> list[WarehouseRead]:
    async with uow:
        rows = await uow.session.execute(select(WarehouseRow).order_by(WarehouseRow.warehouse_id))
        return [WarehouseRead.model_validate(r) for r in rows.scalars()]


@router.put(
    "/warehouses/{warehouse_id}",
    summary="Add a warehouse or change it; a service centre names its service point, a van "
    "its technician",
)
async def put_warehouse_route(
    warehouse_id: ShortKey, body: WarehouseWrite, uow: UnitOfWorkDep, _: Warehouse
) -> WarehouseRead:
    with refusals():
        async with uow:
            await put_warehouse(
                uow, warehouse_id, body.kind, body.name, body.service_point_id, body.technician_id
            )
            await uow.commit()
    return WarehouseRead(warehouse_id=warehouse_id, kind=body.kind.value, name=body.name,
                         service_point_id=body.service_point_id,
                         technician_id=body.technician_id)  # fmt: skip
