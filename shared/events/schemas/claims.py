"""Events claims publishes. A decision event carries the approved amounts by line and the
reason codes, so billing and intake need nothing else. Money is CNY as Decimal."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from shared.events.registry import EventSchema, event_schema


class _Line(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


@event_schema("claims.claim.submitted", 1)
class ClaimSubmittedV1(EventSchema):
    """A warranty claim was opened, from a completed job or a dealer's report."""

    claim_no: str
    request_no: str
    source: str = Field(description="job or dealer_report")
    dealer_id: str | None
    product_model: str
    serial_no: str
    amount_claimed: Decimal
    currency: str
    submitted_at: AwareDatetime


@event_schema("claims.claim.waiting_for_part", 1)
class ClaimWaitingForPartV1(EventSchema):
    """The rules pass, but final approval waits for the old part to arrive and match."""

    claim_no: str
    request_no: str
    part_nos: list[str]
    due_on: date | None
    at: AwareDatetime


class DecidedLineV1(_Line):
    line_no: int
    kind: str = Field(description="part, labour, travel or other")
    description: str
    part_no: str | None
    supplier_id: str | None
    quantity: Decimal
    amount_claimed: Decimal
    amount_approved: Decimal
    reason_codes: list[str]


class _ClaimDecision(EventSchema):
    claim_no: str
    request_no: str
    source: str = Field(description="job or dealer_report")
    dealer_id: str | None
    product_model: str
    serial_no: str
    cause: str
    lines: list[DecidedLineV1]
    amount_claimed: Decimal
    amount_approved: Decimal
    currency: str
    reason_codes: list[str] = Field(description="EW, CDR, NDF, ELH, PNR, SUB, DUP, EXC, PWA")
    decided_by: str = Field(description="rules, or the adjuster's or manager's user id")
    final: bool = Field(
        description=(
            "True for a manager's ruling on a dispute: nothing changes it any more. False for "
            "the rules' or an adjuster's decision: the claimant may dispute it once until "
            "dispute_deadline; if no dispute comes by then the decision stands as sent (no "
            "further event). A dispute is announced by claims.claim.disputed and its ruling "
            "by a new decision event with final=True, whose amounts replace these."
        )
    )
    decided_at: AwareDatetime
    dispute_deadline: date | None = Field(
        None, description="Last calendar day the claimant may dispute; null when final"
    )


@event_schema("claims.claim.approved", 1)
class ClaimApprovedV1(_ClaimDecision):
    """Every line approved as claimed (after any rule cuts, none applied)."""


@event_schema("claims.claim.partially_approved", 1)
class ClaimPartiallyApprovedV1(_ClaimDecision):
    """Some lines cut or refused; approved lines are warranty (C), the rest is paid (A)."""


@event_schema("claims.claim.rejected", 1)
class ClaimRejectedV1(_ClaimDecision):
    """Nothing approved; the reason codes say why."""


@event_schema("claims.claim.disputed", 1)
class ClaimDisputedV1(EventSchema):
    """The claimant disputed the decision (once); a manager's ruling follows."""

    claim_no: str
    request_no: str
    reason: str
    disputed_at: AwareDatetime


@event_schema("claims.supplier_recovery.issued", 1)
class SupplierRecoveryIssuedV1(EventSchema):
    """A quality-loss claim against a supplier whose part caused the failure. The supplier
    may dispute until ``dispute_deadline``; it must also collect its old parts."""

    recovery_no: str
    supplier_id: str
    claim_no: str
    request_no: str
    part_nos: list[str]
    material: Decimal
    labour: Decimal
    travel: Decimal
    other: Decimal
    assessment: Decimal
    total: Decimal
    currency: str
    dispute_deadline: date
    issued_at: AwareDatetime
    failed_units: int = Field(1, description="Units of the supplier's part that failed")
    assessment_per_unit: Decimal | None = Field(
        None, description="The supplier's assessment per failed unit; assessment = this × units"
    )
    other_reason: str | None = Field(None, description="Why staff entered other losses")


@event_schema("claims.supplier_recovery.disputed", 1)
class SupplierRecoveryDisputedV1(EventSchema):
    """The supplier disputed a recovery within its window; it is re-verified and ruled on."""

    recovery_no: str
    supplier_id: str
    reason: str
    disputed_at: AwareDatetime


@event_schema("claims.supplier_recovery.finalized", 1)
class SupplierRecoveryFinalizedV1(EventSchema):
    """A recovery is final (no dispute in time, or ruled on): billing charges the supplier
    or deducts it from what the company owes."""

    recovery_no: str
    supplier_id: str
    claim_no: str
    request_no: str
    total: Decimal
    currency: str
    settle_by: str = Field(description="chargeback or deduction")
    finalized_at: AwareDatetime
    material: Decimal | None = None
    labour: Decimal | None = None
    travel: Decimal | None = None
    other: Decimal | None = Field(None, description="Other losses, entered staff's included")
    other_reason: str | None = None
    assessment: Decimal | None = Field(None, description="assessment_per_unit × failed_units")
    assessment_per_unit: Decimal | None = None
    failed_units: int = 1


@event_schema("claims.supplier_recovery.withdrawn", 1)
class SupplierRecoveryWithdrawnV1(EventSchema):
    """The supplier is not at fault after all (its dispute upheld, or a ruling on the claim
    took the cause away from its part): nothing is recovered, it need not collect its old
    parts, and anything already charged or deducted is reversed."""

    recovery_no: str
    supplier_id: str
    claim_no: str
    request_no: str
    part_nos: list[str]
    reason: str
    was_final: bool = Field(
        description="True when it had been finalized: billing reverses what it charged"
    )
    withdrawn_at: AwareDatetime


@event_schema("claims.supplier_recovery.corrected", 1)
class SupplierRecoveryCorrectedV1(EventSchema):
    """A final recovery's amounts changed (a later ruling on its claim): billing charges
    ``difference`` more when positive, or credits it back when negative."""

    recovery_no: str
    supplier_id: str
    claim_no: str
    request_no: str
    previous_total: Decimal
    total: Decimal
    difference: Decimal = Field(description="total - previous_total")
    material: Decimal
    labour: Decimal
    travel: Decimal
    other: Decimal
    assessment: Decimal
    currency: str
    settle_by: str = Field(description="chargeback or deduction")
    reason: str
    corrected_at: AwareDatetime


class SettledItemV1(_Line):
    reference: str = Field(description="A claim number or a recovery number")
    request_no: str
    amount: Decimal


@event_schema("claims.settlement.closed", 1)
class SettlementClosedV1(EventSchema):
    """The monthly warranty settlement with one dealer (what the company reimburses) or one
    supplier (what it recovers)."""

    settlement_no: str
    party: str = Field(description="dealer or supplier")
    party_id: str
    period: str = Field(description="YYYY-MM")
    items: list[SettledItemV1]
    total: Decimal
    currency: str
    closed_at: AwareDatetime


@event_schema("claims.quality_alert.raised", 1)
class QualityAlertRaisedV1(EventSchema):
    """The same failure cause (model and fault code) passed its limit within a quarter."""

    product_model: str
    fault_code: str
    quarter: str = Field(description="YYYY-Qn")
    count: int
    threshold: int
    raised_at: AwareDatetime
