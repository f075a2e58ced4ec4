"""Supplier recoveries and their disputes, monthly settlements, the quality watch and the
figures behind the metrics."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from sqlalchemy import select

from services.claims.api.deps import NO_NUL, Adjuster, DeskDep, Manager, Reader, refusals
from services.claims.commands import recovery, reporting, settlements
from services.claims.db.models import (
    QualityAlertRow,
    QualityReportRow,
    RecoveryRow,
    SettlementRow,
)
from services.claims.domain.recovery import RecoveryState, may_dispute
from shared.http.deps import UnitOfWorkDep
from shared.http.problems import Problem

router = APIRouter(prefix="/api/v1", tags=["supplier recovery, settlements, quality"])
RecoveryNo = Annotated[str, Path(pattern=r"^RC-\d{4}-\d{6}$")]


class ChargebackRead(BaseModel):
    chargeback_no: str
    total: Decimal | None
    settle_by: str | None
    issued_at: AwareDatetime | None


class RecoveryRead(BaseModel):
    recovery_no: str
    supplier_id: str
    claim_no: str
    request_no: str
    product_model: str
    part_nos: list[str]
    material: Decimal
    labour: Decimal
    travel: Decimal
    other: Decimal
    assessment: Decimal
    total: Decimal
    state: RecoveryState
    issued_at: AwareDatetime
    dispute_deadline: date
    final_on: date = Field(description="The day it becomes final without a dispute")
    may_dispute_now: bool
    dispute_reason: str | None
    disputed_at: AwareDatetime | None
    ruling: str | None
    finalized_at: AwareDatetime | None
    settle_by: str
    settlement_no: str | None
    chargeback_no: str | None = Field(
        description="The latest of billing's chargebacks (by issued_at); every one is in "
        "chargebacks"
    )
    chargebacks: list[ChargebackRead] = Field(
        description="Every chargeback billing issued for it, oldest first (billing charges "
        "again after a correction)"
    )
    failed_units: int
    assessment_per_unit: Decimal | None
    other_entered: Decimal = Field(description="Other losses staff entered (part of other)")
    other_reason: str | None
    correction_needed: str | None = Field(
        description="Set only on recoveries made final before corrections were automatic: a "
        "later ruling changed what it should be, to correct by hand. A ruling now corrects a "
        "final recovery itself (claims.supplier_recovery.corrected, see history)"
    )
    correction_noted_at: AwareDatetime | None
    history: list[dict[str, Any]] = Field(
        description="Oldest first: issued, reissued, disputed, finalized, billed, corrected "
        "(with previous_total and difference), withdrawn (with was_final); each with at, by, "
        "note, the state after it and the amounts then"
    )


def _recovery(row: RecoveryRow) -> RecoveryRead:
    data = {
        k: getattr(row, k)
        for k in RecoveryRead.model_fields
        if hasattr(row, k) and k not in ("history", "chargebacks")
    }
    return RecoveryRead(
        **data,
        history=list(row.history or []),
        chargebacks=[ChargebackRead(**c) for c in row.chargebacks or []],
        final_on=date.fromordinal(row.dispute_deadline.toordinal() + 1),
        may_dispute_now=may_dispute(
            RecoveryState(row.state), row.dispute_deadline, datetime.now(UTC).date()
        ),
    )


@router.get("/recoveries", summary="Supplier recoveries with their dispute deadlines")
async def list_recoveries(
    uow: UnitOfWorkDep,
    _: Reader,
    state: RecoveryState | None = None,
    supplier_id: Annotated[str | None, Query(max_length=50, pattern=NO_NUL)] = None,
    correction_needed: bool | None = Query(
        None, description="true: final recoveries a later ruling has made wrong"
    ),
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[RecoveryRead]:
    query = select(RecoveryRow).order_by(RecoveryRow.id).limit(limit)
    if correction_needed is not None:
        query = query.where(
            RecoveryRow.correction_needed.is_not(None)
            if correction_needed
            else RecoveryRow.correction_needed.is_(None)
        )
    if state is not None:
        query = query.where(RecoveryRow.state == state.value)
    if supplier_id is not None:
        query = query.where(RecoveryRow.supplier_id == supplier_id)
    async with uow:
        return [_recovery(r) for r in (await uow.session.execute(query)).scalars()]


@router.get("/recoveries/{recovery_no}", summary="One supplier recovery")
async def get_recovery(recovery_no: RecoveryNo, uow: UnitOfWorkDep, _: Reader) -> RecoveryRead:
    async with uow:
        row = (
            await uow.session.execute(
                select(RecoveryRow).where(RecoveryRow.recovery_no == recovery_no)
            )
        ).scalar_one_or_none()
        if row is None:
            raise Problem(404, "Not Found", f"No recovery {recovery_no}.")
        return _recovery(row)


class Reason(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    reason: str = Field(min_length=1, max_length=2000, pattern=NO_NUL)


class RecoveryRulingIn(Reason):
    upheld: bool
    assessment: Decimal | None = Field(
        None,
        ge=500,
        le=2000,
        max_digits=10,
        decimal_places=2,
        description="The assessment per failed unit, if re-verification changed it",
    )


class OtherLossesIn(Reason):
    amount: Decimal = Field(ge=0, max_digits=12, decimal_places=2)


class ClaimOtherLossesIn(OtherLossesIn):
    supplier_id: str = Field(min_length=1, max_length=50, pattern=NO_NUL)


class ClaimOtherLossesRead(BaseModel):
    claim_no: str
    supplier_id: str
    amount: Decimal
    reason: str
    recovery: RecoveryRead | None = Field(
        description="The supplier's recovery when already issued (changed by this), else null: "
        "the losses go into it when it is issued"
    )


@router.put(
    "/claims/{claim_no}/other-losses",
    summary="Other losses a supplier owes for a claim, with a reason (before or after its "
    "recovery is issued, while not final)",
)
async def enter_claim_other_losses(
    claim_no: Annotated[str, Path(pattern=r"^WC-\d{4}-\d{6}$")],
    body: ClaimOtherLossesIn,
    uow: UnitOfWorkDep,
    staff: Adjuster,
    desk: DeskDep,
) -> ClaimOtherLossesRead:
    with refusals("claim"):
        async with uow:
            row = await recovery.enter_claim_other_losses(
                uow,
                desk,
                claim_no,
                body.supplier_id,
                body.amount,
                body.reason,
                staff.subject,
                datetime.now(UTC),
            )
            await uow.commit()
            return ClaimOtherLossesRead(
                claim_no=claim_no,
                supplier_id=body.supplier_id,
                amount=body.amount,
                reason=body.reason,
                recovery=None if row is None else _recovery(row),
            )


@router.put(
    "/recoveries/{recovery_no}/other-losses",
    summary="Other losses the supplier owes, with a reason (while not final; issued again)",
)
async def enter_other_losses(
    recovery_no: RecoveryNo,
    body: OtherLossesIn,
    uow: UnitOfWorkDep,
    staff: Adjuster,
    desk: DeskDep,
) -> RecoveryRead:
    with refusals("recovery"):
        async with uow:
            row = await recovery.enter_other_losses(
                uow, desk, recovery_no, body.amount, body.reason, staff.subject, datetime.now(UTC)
            )
            await uow.commit()
            return _recovery(row)


@router.post("/recoveries/{recovery_no}/dispute", summary="The supplier disputes, in time")
async def dispute_recovery(
    recovery_no: RecoveryNo, body: Reason, uow: UnitOfWorkDep, _: Adjuster
) -> RecoveryRead:
    with refusals("recovery"):
        async with uow:
            row = await recovery.dispute_recovery(uow, recovery_no, body.reason, datetime.now(UTC))
            await uow.commit()
            return _recovery(row)


@router.post("/recoveries/{recovery_no}/ruling", summary="Re-verified: upheld or withdrawn")
async def rule_on_recovery(
    recovery_no: RecoveryNo,
    body: RecoveryRulingIn,
    uow: UnitOfWorkDep,
    staff: Manager,
    desk: DeskDep,
) -> RecoveryRead:
    with refusals("recovery"):
        async with uow:
            row = await recovery.rule_on_recovery(
                uow,
                desk,
                recovery_no,
                body.upheld,
                body.assessment,
                body.reason,
                datetime.now(UTC),
                staff.subject,
            )
            await uow.commit()
            return _recovery(row)


class SettlementRead(BaseModel):
    settlement_no: str
    party: str
    party_id: str
    period: str
    items: list[dict[str, Any]]
    total: Decimal
    closed_at: AwareDatetime
    statement_no: str | None


class CloseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    period: str = Field(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")


def _settlement(row: SettlementRow) -> SettlementRead:
    return SettlementRead(**{k: getattr(row, k) for k in SettlementRead.model_fields})


@router.get("/settlements", summary="Monthly settlements with dealers and suppliers")
async def list_settlements(
    uow: UnitOfWorkDep,
    _: Reader,
    period: Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}$")] = None,
    party: Literal["dealer", "supplier"] | None = None,
) -> list[SettlementRead]:
    query = select(SettlementRow).order_by(SettlementRow.id)
    if period is not None:
        query = query.where(SettlementRow.period == period)
    if party is not None:
        query = query.where(SettlementRow.party == party)
    async with uow:
        return [_settlement(r) for r in (await uow.session.execute(query)).scalars()]


@router.post("/settlements", status_code=201, summary="Close a month for every dealer and supplier")
async def close_month(
    body: CloseIn, uow: UnitOfWorkDep, _: Manager, desk: DeskDep
) -> list[SettlementRead]:
    with refusals("period"):
        async with uow:
            numbers = await settlements.close_month(uow, desk, body.period, datetime.now(UTC))
            await uow.commit()
    async with uow:
        rows = await uow.session.execute(
            select(SettlementRow).where(SettlementRow.settlement_no.in_(numbers))
        )
        return [_settlement(r) for r in rows.scalars()]


class QualityAlertRead(BaseModel):
    product_model: str
    fault_code: str
    quarter: str
    count: int
    threshold: int
    raised_at: AwareDatetime


@router.get("/quality/alerts", summary="Quality alerts raised")
async def quality_alerts(uow: UnitOfWorkDep, _: Reader) -> list[QualityAlertRead]:
    async with uow:
        rows = await uow.session.execute(select(QualityAlertRow).order_by(QualityAlertRow.id))
        return [
            QualityAlertRead(**{k: getattr(r, k) for k in QualityAlertRead.model_fields})
            for r in rows.scalars()
        ]


class QualityReportRead(BaseModel):
    kind: str
    reference: str
    request_no: str
    product_model: str | None
    summary: str
    details: dict[str, Any]
    at: AwareDatetime


@router.get(
    "/quality/reports",
    summary="Quality register: complaints, repeat repairs, emergency shipment documents",
)
async def quality_reports(
    uow: UnitOfWorkDep,
    _: Reader,
    kind: Literal["complaint", "repeat_repair", "emergency_shipment"] | None = None,
) -> list[QualityReportRead]:
    query = select(QualityReportRow).order_by(QualityReportRow.id)
    if kind is not None:
        query = query.where(QualityReportRow.kind == kind)
    async with uow:
        rows = await uow.session.execute(query)
        return [
            QualityReportRead(**{k: getattr(r, k) for k in QualityReportRead.model_fields})
            for r in rows.scalars()
        ]


@router.get("/claims-figures", summary="Claims by status and source, approval ratio, ...")
async def figures(uow: UnitOfWorkDep, desk: DeskDep, _: Reader) -> dict[str, Any]:
    async with uow:
        return await reporting.summary(uow.session, desk=desk)


@router.get("/claims-figures/warranty-cost", summary="Approved warranty cost per month")
async def warranty_cost(
    uow: UnitOfWorkDep, _: Reader, by: Literal["model", "dealer", "supplier"] = "model"
) -> list[dict[str, Any]]:
    async with uow:
        return await reporting.warranty_cost(uow.session, by)
