"""Service points and technicians: CRUD, CSV import, and today's load on the board."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import BaseModel

from services.dispatch.api.access import StaffAdmin, StaffReader
from services.dispatch.commands.assignment import retry_unassigned
from services.dispatch.commands.errors import not_found
from services.dispatch.commands.staff import (
    ImportReport,
    UnknownServicePoint,
    import_service_points,
    import_technicians,
    put_service_point,
    put_technician,
)
from services.dispatch.db.jobs import JobRepository
from services.dispatch.db.models import ServicePointRow, TechnicianRow
from services.dispatch.db.staff import (
    DayLoads,
    ServicePoints,
    Technicians,
    forget_candidates,
    skills_of,
)
from services.dispatch.domain.staffing import CODE, ServicePointIn, TechnicianIn
from services.dispatch.settings import DispatchSettings
from shared.http.deps import UnitOfWorkDep
from shared.http.problems import Problem

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/v1", tags=["service points and technicians"])
Code = Annotated[str, Path(pattern=CODE)]
CSV_BODY = {
    "requestBody": {
        "required": True,
        "content": {"text/csv": {"schema": {"type": "string"}}},
        "description": "UTF-8 CSV with a header row naming the record's fields",
    }
}


class ServicePointRead(BaseModel):
    id: str
    name: str
    region: str
    latitude: float | None
    longitude: float | None
    zone: str
    covers_regions: list[str]


class TechnicianRead(BaseModel):
    id: str
    name: str
    login: str | None
    skills: list[str]
    certification_level: str
    certified_until: date
    certificate_valid: bool
    service_point_id: str
    max_jobs_per_day: int
    active: bool
    shifts: str
    leave: str
    jobs_today: int
    satisfaction_average: float | None = None
    satisfaction_surveys: int = 0


class RejectedLineRead(BaseModel):
    line: int
    errors: list[str]


class ImportReportRead(BaseModel):
    created: int
    updated: int
    rejected: list[RejectedLineRead]
    assigned_from_queue: int = 0


def _settings(request: Request) -> DispatchSettings:
    settings = request.app.state.runtime.settings.service
    assert isinstance(settings, DispatchSettings)
    return settings


def _point(row: ServicePointRow) -> ServicePointRead:
    return ServicePointRead(
        id=row.id,
        name=row.name,
        region=row.region,
        latitude=row.latitude,
        longitude=row.longitude,
        zone=row.zone,
        covers_regions=row.covers_regions.split(","),
    )


def _technician(
    row: TechnicianRow,
    today: date,
    jobs_today: int,
    satisfaction: tuple[float, int] | None = None,
) -> TechnicianRead:
    return TechnicianRead(
        id=row.id,
        name=row.name,
        login=row.login,
        skills=skills_of(row.skills),
        certification_level=row.certification_level,
        certified_until=row.certified_until,
        certificate_valid=row.certified_until >= today,
        service_point_id=row.service_point_id,
        max_jobs_per_day=row.max_jobs_per_day,
        active=row.active,
        shifts=row.shifts,
        leave=row.leave,
        jobs_today=jobs_today,
        satisfaction_average=None if satisfaction is None else round(satisfaction[0], 2),
        satisfaction_surveys=0 if satisfaction is None else satisfaction[1],
    )


async def _csv_text(request: Request) -> str:
    if request.headers.get("content-type", "").split(";")[0].strip() != "text/csv":
        raise Problem(415, "Unsupported Media Type", "Send the file as text/csv (UTF-8).")
    try:
        return (await request.body()).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Problem(
            422, "Unprocessable Content", f"The file is not UTF-8 text (byte {exc.start})."
        ) from exc


def _report(report: ImportReport, assigned: int = 0) -> ImportReportRead:
    return ImportReportRead(
        created=report.created,
        updated=report.updated,
        assigned_from_queue=assigned,
        rejected=[RejectedLineRead(line=r.line, errors=r.errors) for r in report.rejected],
    )


async def _retry_queue(request: Request) -> int:
    """A technician came or changed: jobs waiting in the queue may fit now. Best effort: the
    technician is saved already, and the periodic retry catches what fails here."""
    runtime = request.app.state.runtime
    try:
        return await retry_unassigned(runtime.unit_of_work, _settings(request))
    except Exception as exc:
        log.warning("retrying the unassigned queue failed", extra={"error": repr(exc)[:300]})
        return 0


@router.get("/service-points", summary="All service points")
async def list_points(uow: UnitOfWorkDep, _: StaffReader) -> list[ServicePointRead]:
    async with uow:
        return [_point(p) for p in await ServicePoints(uow.session).all()]


@router.get("/service-points/{point_id}", summary="One service point")
async def get_point(point_id: Code, uow: UnitOfWorkDep, _: StaffReader) -> ServicePointRead:
    async with uow:
        row = await ServicePoints(uow.session).get(point_id)
    if row is None:
        raise not_found(f"No service point {point_id}.")
    return _point(row)


@router.put("/service-points/{point_id}", summary="Create or replace a service point")
async def put_point(
    point_id: Code, body: ServicePointIn, response: Response, uow: UnitOfWorkDep, _: StaffAdmin
) -> ServicePointRead:
    if body.id != point_id:
        raise Problem(422, "Unprocessable Content", "The body's id differs from the path's.")
    created = await put_service_point(uow, body)
    response.status_code = 201 if created else 200
    async with uow:
        row = await ServicePoints(uow.session).get(point_id)
    assert row is not None
    return _point(row)


@router.delete(
    "/service-points/{point_id}",
    status_code=204,
    summary="Remove a service point no technician calls home",
)
async def delete_point(point_id: Code, uow: UnitOfWorkDep, _: StaffAdmin) -> None:
    async with uow:
        points = ServicePoints(uow.session)
        row = await points.get(point_id)
        if row is None:
            raise not_found(f"No service point {point_id}.")
        based = await Technicians(uow.session).list(point_id, None, 1)
        if based:
            raise Problem(409, "Conflict", f"Technicians are based at {point_id}: move them first.")
        await uow.session.delete(row)
        await uow.commit()
    forget_candidates()


@router.post(
    "/service-points/import",
    summary="Import service points from CSV; bad rows reported by line",
    description="Columns: id, name, region, latitude, longitude, zone (city or suburb), "
    "covers_regions (regions served besides its own, ';'-separated).",
    openapi_extra=CSV_BODY,
)
async def import_points(request: Request, uow: UnitOfWorkDep, _: StaffAdmin) -> ImportReportRead:
    return _report(await import_service_points(uow, await _csv_text(request)))


@router.get("/technicians", summary="Technicians with today's load")
async def list_technicians(
    request: Request,
    uow: UnitOfWorkDep,
    _: StaffReader,
    service_point_id: Annotated[str | None, Query(max_length=40)] = None,
    skill: Annotated[str | None, Query(max_length=50)] = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 500,
) -> list[TechnicianRead]:
    today = _settings(request).service_hours().local_day(datetime.now(UTC))
    async with uow:
        rows = await Technicians(uow.session).list(service_point_id, skill, limit)
        loads = await DayLoads(uow.session).today(today)
        satisfaction = await JobRepository(uow.session).satisfaction_by_technician()
    return [_technician(row, today, loads.get(row.id, 0), satisfaction.get(row.id)) for row in rows]


@router.get("/technicians/{technician_id}", summary="One technician with today's load")
async def get_technician(
    technician_id: Code, request: Request, uow: UnitOfWorkDep, _: StaffReader
) -> TechnicianRead:
    today = _settings(request).service_hours().local_day(datetime.now(UTC))
    async with uow:
        row = await Technicians(uow.session).get(technician_id)
        loads = await DayLoads(uow.session).today(today)
    if row is None:
        raise not_found(f"No technician {technician_id}.")
    return _technician(row, today, loads.get(row.id, 0))


@router.put(
    "/technicians/{technician_id}",
    summary="Create or replace a technician (a renewed certificate, new shifts, leave)",
)
async def put_tech(
    technician_id: Code,
    body: TechnicianIn,
    request: Request,
    response: Response,
    uow: UnitOfWorkDep,
    _: StaffAdmin,
) -> TechnicianRead:
    if body.id != technician_id:
        raise Problem(422, "Unprocessable Content", "The body's id differs from the path's.")
    async with uow:
        if body.login:
            other = await Technicians(uow.session).by_login(body.login)
            if other is not None and other.id != technician_id:
                raise Problem(409, "Conflict", f"{other.id} already signs in as {body.login}.")
    try:
        created = await put_technician(uow, body)
    except UnknownServicePoint as exc:
        raise Problem(
            422,
            "Unprocessable Content",
            f"No service point {exc}.",
            errors=[{"field": "service_point_id", "message": "unknown service point"}],
        ) from exc
    response.status_code = 201 if created else 200
    await _retry_queue(request)
    return await get_technician(technician_id, request, uow, _)


@router.delete(
    "/technicians/{technician_id}",
    status_code=204,
    summary="Deactivate a technician (records stay)",
)
async def deactivate(technician_id: Code, uow: UnitOfWorkDep, _: StaffAdmin) -> None:
    async with uow:
        row = await Technicians(uow.session).get(technician_id)
        if row is None:
            raise not_found(f"No technician {technician_id}.")
        row.active = False
        row.updated_at = datetime.now(UTC)
        await uow.commit()
    forget_candidates()


@router.post(
    "/technicians/import",
    summary="Import technicians from CSV; bad rows reported by line",
    description="Columns: id, name, login, skills (';'-separated), certification_level, "
    "certified_until (YYYY-MM-DD), service_point_id, max_jobs_per_day, active, shifts "
    "(e.g. 'mon-fri 09:00-18:00'), leave (e.g. '2026-12-01..2026-12-03').",
    openapi_extra=CSV_BODY,
)
async def import_techs(request: Request, uow: UnitOfWorkDep, _: StaffAdmin) -> ImportReportRead:
    report = await import_technicians(uow, await _csv_text(request))
    assigned = await _retry_queue(request) if report.created or report.updated else 0
    return _report(report, assigned)
