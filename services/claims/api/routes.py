"""Claims adjusters' view of warranty claims."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from pydantic import AwareDatetime, BaseModel

from services.claims.db.repository import ClaimRepository
from services.claims.domain.claim import ClaimSource, ClaimStatus, WarrantyClaim
from shared.auth.dependencies import require_roles
from shared.auth.roles import Role
from shared.auth.tokens import Staff
from shared.http.deps import UnitOfWorkDep
from shared.http.problems import Problem

router = APIRouter(prefix="/api/v1/claims", tags=["warranty claims"])
Reader = Annotated[Staff, Depends(require_roles(Role.CLAIMS_ADJUSTER, Role.MANAGER, read=True))]


class ClaimedPartRead(BaseModel):
    part_no: str
    quantity: int
    old_part_serial: str | None


class ClaimRead(BaseModel):
    claim_no: str
    request_no: str
    source: ClaimSource
    dealer_id: str | None
    serial_no: str
    product_model: str
    purchase_date: date | None
    in_warranty_at_intake: bool | None
    cause: str
    fault_description: str
    fault_code: str | None
    repaired_at: AwareDatetime
    labour_hours: Decimal
    travel_km: Decimal
    parts: list[ClaimedPartRead]
    status: ClaimStatus
    opened_at: AwareDatetime | None


def _read(claim: WarrantyClaim) -> ClaimRead:
    return ClaimRead(
        **{name: getattr(claim, name) for name in ClaimRead.model_fields if name != "parts"},
        parts=[ClaimedPartRead(**vars(p)) for p in claim.parts],
    )


@router.get("", summary="Claims by status, oldest first")
async def list_claims(
    uow: UnitOfWorkDep,
    _: Reader,
    status: ClaimStatus = ClaimStatus.SUBMITTED,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[ClaimRead]:
    async with uow:
        return [_read(c) for c in await ClaimRepository(uow.session).by_status(status, limit)]


@router.get("/{claim_no}", summary="One claim")
async def get_claim(
    claim_no: Annotated[str, Path(pattern=r"^WC-\d{4}-\d{6}$")], uow: UnitOfWorkDep, _: Reader
) -> ClaimRead:
    async with uow:
        claim = await ClaimRepository(uow.session).get(claim_no)
    if claim is None:
        raise Problem(404, "Not Found", f"No claim {claim_no}.")
    return _read(claim)
