"""Administering partner dealers: create, rotate secrets, suspend."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request, Response
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from services.intake.api.dealer_auth import dealer_directory, secret_box
from services.intake.commands.dealers import (
    IssuedSecret,
    create_dealer,
    issue_dealer_secret,
    revoke_dealer_secret,
    set_dealer_status,
)
from services.intake.commands.errors import Conflict, NotFound
from services.intake.db.dealers import DealerRepository
from services.intake.db.models import DealerRow
from shared.auth.dependencies import require_roles
from shared.auth.tokens import Staff
from shared.http.deps import UnitOfWorkDep
from shared.http.problems import Problem

router = APIRouter(prefix="/api/v1/admin/dealers", tags=["dealer administration"])
Admin = Annotated[Staff, Depends(require_roles())]  # admin only
Auditor = Annotated[Staff, Depends(require_roles(read=True))]
DealerId = Annotated[str, Path(pattern=r"^D\d{4,}$", examples=["D0001"])]


class DealerCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=200)
    rate_per_second: float | None = Field(None, gt=0, le=10_000)
    burst: int | None = Field(None, ge=1, le=100_000)


class SecretIssued(BaseModel):
    dealer_id: str
    secret_id: int
    secret: str = Field(description="Shown once; only a sealed copy is stored")


class SecretRead(BaseModel):
    secret_id: int
    fingerprint: str
    created_at: AwareDatetime
    revoked_at: AwareDatetime | None


class DealerRead(BaseModel):
    dealer_id: str
    name: str
    status: str
    rate_per_second: float
    burst: int
    created_at: datetime
    secrets: list[SecretRead] = []


def _issued(issued: IssuedSecret) -> SecretIssued:
    return SecretIssued(
        dealer_id=issued.dealer.dealer_id, secret_id=issued.secret_id, secret=issued.secret
    )


def _dealer(row: DealerRow, secrets: list[SecretRead] | None = None) -> DealerRead:
    return DealerRead(
        dealer_id=row.dealer_id,
        name=row.name,
        status=row.status,
        rate_per_second=row.rate_per_second,
        burst=row.burst,
        created_at=row.created_at,
        secrets=secrets or [],
    )


@router.post("", status_code=201, summary="Create a dealer; its secret is shown once")
async def create(
    body: DealerCreate, request: Request, response: Response, uow: UnitOfWorkDep, _: Admin
) -> SecretIssued:
    settings = request.app.state.runtime.settings.service
    issued = await create_dealer(
        uow,
        secret_box(request),
        body.name,
        body.rate_per_second or settings.dealer_rate_per_second,
        body.burst or settings.dealer_burst,
    )
    response.headers["Location"] = f"{router.prefix}/{issued.dealer.dealer_id}"
    return _issued(issued)


@router.get("/{dealer_id}", summary="A dealer, with its secrets' fingerprints")
async def read(dealer_id: DealerId, uow: UnitOfWorkDep, _: Auditor) -> DealerRead:
    async with uow:
        dealers = DealerRepository(uow.session)
        row = await dealers.get(dealer_id)
        if row is None:
            raise Problem(404, "Not Found", f"No dealer {dealer_id}.")
        secrets = [
            SecretRead(
                secret_id=s.id,
                fingerprint=s.fingerprint,
                created_at=s.created_at,
                revoked_at=s.revoked_at,
            )
            for s in await dealers.secrets(dealer_id, active_only=False)
        ]
    return _dealer(row, secrets)


@router.post("/{dealer_id}/secrets", status_code=201, summary="Issue a second secret")
async def issue_secret(
    dealer_id: DealerId, request: Request, uow: UnitOfWorkDep, _: Admin
) -> SecretIssued:
    try:
        issued = _issued(await issue_dealer_secret(uow, secret_box(request), dealer_id))
        dealer_directory(request).forget(dealer_id)
        return issued
    except NotFound as exc:
        raise Problem(404, "Not Found", f"No dealer {dealer_id}.") from exc
    except Conflict as exc:
        raise Problem(409, "Conflict", str(exc)) from exc


@router.delete(
    "/{dealer_id}/secrets/{secret_id}", status_code=204, summary="Revoke a secret at once"
)
async def revoke_secret(
    dealer_id: DealerId, secret_id: int, request: Request, uow: UnitOfWorkDep, _: Admin
) -> Response:
    try:
        await revoke_dealer_secret(uow, dealer_id, secret_id)
        dealer_directory(request).forget(dealer_id)
    except NotFound as exc:
        raise Problem(404, "Not Found", f"No secret {secret_id} of dealer {dealer_id}.") from exc
    return Response(status_code=204)


@router.post("/{dealer_id}/suspend", summary="Suspend a dealer: its requests get 403")
async def suspend(
    dealer_id: DealerId, request: Request, uow: UnitOfWorkDep, _: Admin
) -> DealerRead:
    return await _set_status(request, uow, dealer_id, "suspended")


@router.post("/{dealer_id}/reactivate", summary="Let a suspended dealer in again")
async def reactivate(
    dealer_id: DealerId, request: Request, uow: UnitOfWorkDep, _: Admin
) -> DealerRead:
    return await _set_status(request, uow, dealer_id, "active")


async def _set_status(
    request: Request, uow: UnitOfWorkDep, dealer_id: str, status: str
) -> DealerRead:
    try:
        changed = _dealer(await set_dealer_status(uow, dealer_id, status))
        dealer_directory(request).forget(dealer_id)
        return changed
    except NotFound as exc:
        raise Problem(404, "Not Found", f"No dealer {dealer_id}.") from exc
