"""Product models and registered units: reading them, and importing them from CSV."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel

from services.intake.api.routes import quality_alert_read
from services.intake.api.schemas import QualityAlertRead
from services.intake.commands.catalogue import ImportReport, import_models, import_units
from services.intake.db.catalogue import ProductCatalogue, QualityAlerts
from services.intake.domain.warranty import Warranty
from shared.auth.dependencies import require_roles
from shared.auth.roles import Role
from shared.auth.tokens import Staff
from shared.http.deps import UnitOfWorkDep
from shared.http.problems import Problem

router = APIRouter(prefix="/api/v1", tags=["product models and units"])
Importer = Annotated[Staff, Depends(require_roles(Role.MANAGER))]
Reader = Annotated[Staff, Depends(require_roles(Role.INTAKE_AGENT, Role.MANAGER, read=True))]

CSV_BODY = {
    "requestBody": {
        "required": True,
        "content": {"text/csv": {"schema": {"type": "string"}}},
        "description": "UTF-8 CSV with a header row",
    }
}


class RejectedLineRead(BaseModel):
    line: int
    errors: list[str]


class ImportReportRead(BaseModel):
    created: int
    updated: int
    rejected: list[RejectedLineRead]


class UnitRead(BaseModel):
    serial_no: str
    product_model: str
    purchase_date: date | None
    in_warranty: bool | None
    warranty_expires_on: date | None
    selling_dealer_id: str | None


async def _csv_text(request: Request) -> str:
    if request.headers.get("content-type", "").split(";")[0].strip() != "text/csv":
        raise Problem(415, "Unsupported Media Type", "Send the file as text/csv (UTF-8).")
    try:
        return (await request.body()).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Problem(
            422, "Unprocessable Content", f"The file is not UTF-8 text (byte {exc.start})."
        ) from exc


def _report(report: ImportReport) -> ImportReportRead:
    return ImportReportRead(
        created=report.created,
        updated=report.updated,
        rejected=[RejectedLineRead(line=r.line, errors=r.errors) for r in report.rejected],
    )


@router.post(
    "/product-models/import",
    summary="Import product models from CSV; good rows are kept, bad ones reported by line",
    description="Columns: model, name, product_line, warranty_months (default 12), "
    "covers_parts, covers_labour, covers_travel (default true). Existing models are updated.",
    openapi_extra=CSV_BODY,
)
async def import_product_models(
    request: Request, uow: UnitOfWorkDep, _: Importer
) -> ImportReportRead:
    return _report(await import_models(uow, await _csv_text(request)))


@router.post(
    "/units/import",
    summary="Import registered units from CSV; good rows are kept, bad ones reported by line",
    description="Columns: serial_no, model, purchase_date (YYYY-MM-DD), owner_name, "
    "owner_phone, owner_region, owner_address, selling_dealer_id. Existing units are updated.",
    openapi_extra=CSV_BODY,
)
async def import_registered_units(
    request: Request, uow: UnitOfWorkDep, _: Importer
) -> ImportReportRead:
    return _report(await import_units(uow, await _csv_text(request)))


@router.get("/units/{serial_no}", summary="A unit and its warranty today")
async def get_unit(
    serial_no: Annotated[str, Path(max_length=100)],
    request: Request,
    uow: UnitOfWorkDep,
    _: Reader,
) -> UnitRead:
    async with uow:
        catalogue = ProductCatalogue(uow.session)
        unit = await catalogue.unit(serial_no)
        if unit is None:
            raise Problem(404, "Not Found", f"No unit {serial_no}.")
        model = await catalogue.model(unit.product_model)
    months = (
        model.warranty_months
        if model is not None
        else request.app.state.runtime.settings.service.default_warranty_months
    )
    warranty = Warranty.for_unit(unit.purchase_date, months)
    return UnitRead(
        serial_no=unit.serial_no,
        product_model=unit.product_model,
        purchase_date=unit.purchase_date,
        in_warranty=warranty.covers(datetime.now(UTC).date()),
        warranty_expires_on=warranty.expires_on,
        selling_dealer_id=unit.selling_dealer_id,
    )


class ProductModelRead(BaseModel):
    model: str
    name: str
    product_line: str
    warranty_months: int
    covers_parts: bool
    covers_labour: bool
    covers_travel: bool
    quality_alerts: list[QualityAlertRead]


@router.get("/product-models/{model}", summary="A product model, with claims' quality alerts")
async def get_product_model(
    model: Annotated[str, Path(max_length=100)], uow: UnitOfWorkDep, _: Reader
) -> ProductModelRead:
    async with uow:
        row = await ProductCatalogue(uow.session).model(model)
        if row is None:
            raise Problem(404, "Not Found", f"No product model {model}.")
        alerts = await QualityAlerts(uow.session).listed(model)
    return ProductModelRead(
        model=row.model, name=row.name, product_line=row.product_line,
        warranty_months=row.warranty_months, covers_parts=row.covers_parts,
        covers_labour=row.covers_labour, covers_travel=row.covers_travel,
        quality_alerts=[quality_alert_read(a) for a in alerts],
    )  # fmt: skip


@router.get("/quality-alerts", summary="Claims' quality alerts, newest first")
async def list_quality_alerts(
    uow: UnitOfWorkDep,
    _: Reader,
    product_model: Annotated[str | None, Query(max_length=100)] = None,
) -> list[QualityAlertRead]:
    async with uow:
        alerts = await QualityAlerts(uow.session).listed(product_model)
    return [quality_alert_read(a) for a in alerts]
