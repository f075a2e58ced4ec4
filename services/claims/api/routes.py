"""Claims adjusters' view of warranty claims: list with filters, detail with every rule
result, the adjuster's decision, the claimant's dispute and the manager's ruling."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from services.claims.api.deps import NO_NUL, Adjuster, DeskDep, Manager, Reader, refusals
from services.claims.commands import adjudication
from services.claims.commands.adjudication import LineDecision
from services.claims.db.repository import ClaimFilter, ClaimRepository
from services.claims.domain.claim import (
    DECIDED,
    ClaimSource,
    ClaimStatus,
    WarrantyClaim,
    allowed_actions,
)
from services.claims.domain.reason_codes import ReasonCode
from shared.http.deps import UnitOfWorkDep
from shared.http.problems import Problem

router = APIRouter(prefix="/api/v1/claims", tags=["warranty claims"])
ClaimNo = Annotated[str, Path(pattern=r"^WC-\d{4}-\d{6}$")]


class ClaimedPartRead(BaseModel):
    part_no: str
    quantity: int
    old_part_serial: str | None


class ClaimLineRead(BaseModel):
    line_no: int
    kind: str
    description: str
    part_no: str | None
    supplier_id: str | None
    operation_code: str | None
    quantity: Decimal
    unit_price: Decimal
    amount_claimed: Decimal
    amount_approved: Decimal
    reason_codes: list[str]
    notes: list[str]


class RuleResultRead(BaseModel):
    rule: str
    verdict: str
    reason_code: str | None
    detail: str


class StatusChangeRead(BaseModel):
    to: str
    at: AwareDatetime
    by: str
    note: str | None
    from_: str = Field(alias="from")

    model_config = ConfigDict(populate_by_name=True)


class ClaimRead(BaseModel):
    claim_no: str
    request_no: str
    source: ClaimSource
    dealer_id: str | None
    serial_no: str
    product_model: str
    product_line: str | None
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
    amount_claimed: Decimal
    amount_approved: Decimal
    reason_codes: list[str]
    decided_by: str | None
    decided_at: AwareDatetime | None
    final: bool = Field(
        description="A manager's ruling, or a decision not disputed by its dispute_deadline: "
        "nothing changes it any more"
    )
    repeat_repair: bool
    dispute_deadline: date | None = Field(
        description="Last calendar day the claimant may dispute the decision (once)"
    )


class ClaimDetail(ClaimRead):
    lines: list[ClaimLineRead]
    rule_results: list[RuleResultRead]
    review_reasons: list[str]
    decision_note: str | None
    dispute_reason: str | None
    disputed_at: AwareDatetime | None
    history: list[dict[str, Any]]
    allowed_actions: list[str]


def _read(claim: WarrantyClaim) -> ClaimRead:
    fields = {n: getattr(claim, n) for n in ClaimRead.model_fields if n not in ("parts", "final")}
    # A decision nobody disputed by its deadline stands: final, as a ruling is.
    undisputed = (
        claim.status in DECIDED
        and claim.disputed_at is None
        and claim.dispute_deadline is not None
        and datetime.now(UTC).date() > claim.dispute_deadline
    )
    return ClaimRead(
        **fields,
        final=claim.final or undisputed,
        parts=[ClaimedPartRead(**vars(p)) for p in claim.parts],
    )


def _detail(claim: WarrantyClaim) -> ClaimDetail:
    return ClaimDetail(
        **_read(claim).model_dump(),
        lines=[ClaimLineRead(**line.as_dict()) for line in claim.lines],
        rule_results=[RuleResultRead(**r) for r in claim.rule_results],
        review_reasons=claim.review_reasons,
        decision_note=claim.decision_note,
        dispute_reason=claim.dispute_reason,
        disputed_at=claim.disputed_at,
        history=claim.history,
        allowed_actions=allowed_actions(
            claim.status,
            claim.disputed_at is not None,
            claim.final,
            claim.dispute_deadline,
            datetime.now(UTC).date(),
        ),
    )


@router.get("", summary="Claims, filtered, oldest first")
async def list_claims(
    uow: UnitOfWorkDep,
    _: Reader,
    status: ClaimStatus | None = None,
    source: ClaimSource | None = None,
    request_no: Annotated[
        str | None,
        Query(max_length=20, pattern=NO_NUL, description="The service request's claim"),
    ] = None,
    dealer_id: Annotated[str | None, Query(max_length=50, pattern=NO_NUL)] = None,
    supplier_id: Annotated[str | None, Query(max_length=50, pattern=NO_NUL)] = None,
    product_model: Annotated[str | None, Query(max_length=100, pattern=NO_NUL)] = None,
    reason_code: ReasonCode | None = None,
    # As the amounts are kept: a bigger one is a client's mistake, not a database error.
    min_amount: Annotated[Decimal | None, Query(ge=0, max_digits=12, decimal_places=2)] = None,
    max_amount: Annotated[Decimal | None, Query(ge=0, max_digits=12, decimal_places=2)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[ClaimRead]:
    where = ClaimFilter(
        request_no=request_no,
        status=status,
        source=source,
        dealer_id=dealer_id,
        supplier_id=supplier_id,
        product_model=product_model,
        reason_code=reason_code.value if reason_code else None,
        min_amount=min_amount,
        max_amount=max_amount,
    )
    async with uow:
        return [_read(c) for c in await ClaimRepository(uow.session).search(where, limit)]


@router.get("/review-queue", summary="Claims waiting for an adjuster, oldest first")
async def review_queue(uow: UnitOfWorkDep, _: Reader) -> list[ClaimDetail]:
    async with uow:
        claims = await ClaimRepository(uow.session).search(
            ClaimFilter(status=ClaimStatus.IN_REVIEW), 500
        )
    return [_detail(c) for c in claims]


@router.get("/{claim_no}", summary="One claim with its lines and every rule result")
async def get_claim(claim_no: ClaimNo, uow: UnitOfWorkDep, _: Reader) -> ClaimDetail:
    async with uow:
        claim = await ClaimRepository(uow.session).get(claim_no)
    if claim is None:
        raise Problem(404, "Not Found", f"No claim {claim_no}.")
    return _detail(claim)


class LineDecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    line_no: int = Field(ge=1)
    amount_approved: Decimal = Field(ge=0, max_digits=12, decimal_places=2)
    reason_codes: list[ReasonCode] = []


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    lines: list[LineDecisionIn] = Field(
        default=[], description="Lines whose approved amount differs from the rules' proposal"
    )
    reason_codes: list[ReasonCode] = []
    reason: str | None = Field(None, min_length=1, max_length=2000, pattern=NO_NUL)


class RulingIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    lines: list[LineDecisionIn] = []
    reason_codes: list[ReasonCode] = Field(
        default=[], description="A claim-level refusal (EW, CDR, NDF, PNR, SUB, DUP)"
    )
    reason: str = Field(min_length=1, max_length=2000, pattern=NO_NUL)


class DisputeIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    reason: str = Field(min_length=1, max_length=2000, pattern=NO_NUL)


def _decisions(lines: list[LineDecisionIn]) -> list[LineDecision]:
    return [
        LineDecision(x.line_no, x.amount_approved, tuple(c.value for c in x.reason_codes))
        for x in lines
    ]


@router.post("/{claim_no}/decision", summary="An adjuster decides a claim in review")
async def decide(
    claim_no: ClaimNo, body: DecisionIn, uow: UnitOfWorkDep, staff: Adjuster, desk: DeskDep
) -> ClaimDetail:
    with refusals("claim"):
        async with uow:
            claim = await adjudication.decide(
                uow,
                desk,
                claim_no,
                _decisions(body.lines),
                [c.value for c in body.reason_codes],
                body.reason,
                staff.subject,
                datetime.now(UTC),
            )
            await uow.commit()
    return _detail(claim)


@router.post("/{claim_no}/rerun", summary="Run the rules again on a claim in review")
async def rerun(claim_no: ClaimNo, uow: UnitOfWorkDep, staff: Adjuster) -> ClaimDetail:
    with refusals("claim"):
        async with uow:
            claim = await adjudication.rerun(uow, claim_no, staff.subject, datetime.now(UTC))
            await uow.commit()
    return _detail(claim)


@router.post("/{claim_no}/dispute", summary="The claimant disputes the decision (once)")
async def dispute(
    claim_no: ClaimNo, body: DisputeIn, uow: UnitOfWorkDep, _: Adjuster
) -> ClaimDetail:
    with refusals("claim"):
        async with uow:
            claim = await adjudication.dispute(uow, claim_no, body.reason, datetime.now(UTC))
            await uow.commit()
    return _detail(claim)


@router.post("/{claim_no}/ruling", summary="A manager's final ruling on a disputed claim")
async def ruling(
    claim_no: ClaimNo, body: RulingIn, uow: UnitOfWorkDep, staff: Manager, desk: DeskDep
) -> ClaimDetail:
    with refusals("claim"):
        async with uow:
            claim = await adjudication.rule(
                uow,
                desk,
                claim_no,
                _decisions(body.lines),
                body.reason,
                staff.subject,
                datetime.now(UTC),
                [c.value for c in body.reason_codes],
            )
            await uow.commit()
    return _detail(claim)
