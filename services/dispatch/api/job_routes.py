"""Dispatchers' view of jobs."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from pydantic import AwareDatetime, BaseModel

from services.dispatch.db.jobs import JobRepository
from services.dispatch.domain.job import JobStatus
from shared.auth.dependencies import require_roles
from shared.auth.roles import Role
from shared.auth.tokens import Staff
from shared.http.deps import UnitOfWorkDep
from shared.http.problems import Problem

router = APIRouter(prefix="/api/v1/jobs", tags=["jobs"])
Reader = Annotated[Staff, Depends(require_roles(Role.DISPATCHER, Role.MANAGER, read=True))]


class JobRead(BaseModel):
    request_no: str
    kind: str
    severity: str
    required_skill: str | None
    product_model: str
    serial_no: str
    customer_name: str
    customer_phone: str
    address: str | None
    region: str | None
    response_due_at: AwareDatetime | None
    status: JobStatus
    cancel_reason: str | None
    created_at: AwareDatetime
    updated_at: AwareDatetime


@router.get("", summary="Jobs by status: the unassigned queue, urgent and soonest due first")
async def list_jobs(
    uow: UnitOfWorkDep,
    _: Reader,
    status: JobStatus = JobStatus.UNASSIGNED,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[JobRead]:
    async with uow:
        jobs = await JobRepository(uow.session).queue(status, limit)
    return [JobRead(**asdict(job)) for job in jobs]


@router.get("/{request_no}", summary="The job of a request")
async def get_job(
    request_no: Annotated[str, Path(pattern=r"^SR-\d{4}-\d{6}$")], uow: UnitOfWorkDep, _: Reader
) -> JobRead:
    async with uow:
        job = await JobRepository(uow.session).get(request_no)
    if job is None:
        raise Problem(404, "Not Found", f"No job for {request_no}.")
    return JobRead(**asdict(job))
