"""Claims's own tables."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    Integer,
    MetaData,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.db.types import UtcDateTime


class Base(DeclarativeBase):
    metadata = MetaData()


class ClaimRow(Base):
    __tablename__ = "warranty_claims"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    claim_no: Mapped[str] = mapped_column(String(20), unique=True)
    # One claim per request and source: a redelivered or replayed report opens nothing more.
    request_no: Mapped[str] = mapped_column(String(20), unique=True)
    source: Mapped[str] = mapped_column(String(20))
    dealer_id: Mapped[str | None] = mapped_column(String(20), index=True)
    serial_no: Mapped[str] = mapped_column(String(100))
    product_model: Mapped[str] = mapped_column(String(100))
    purchase_date: Mapped[date | None] = mapped_column(Date)
    in_warranty_at_intake: Mapped[bool | None] = mapped_column(Boolean)
    cause: Mapped[str] = mapped_column(String(30))
    fault_description: Mapped[str] = mapped_column(Text)
    fault_code: Mapped[str | None] = mapped_column(String(50))
    repaired_at: Mapped[datetime] = mapped_column(UtcDateTime())
    labour_hours: Mapped[Decimal] = mapped_column(Numeric(8, 2))
    travel_km: Mapped[Decimal] = mapped_column(Numeric(9, 1))
    parts: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(20))
    opened_at: Mapped[datetime] = mapped_column(UtcDateTime())
    product_line: Mapped[str | None] = mapped_column(String(50))
    lines: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    rule_results: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    # ",EW,SUB," so a list can be filtered by one code with LIKE.
    reason_codes: Mapped[str] = mapped_column(String(100), default="")
    supplier_ids: Mapped[str] = mapped_column(String(200), default="")
    review_reasons: Mapped[list[str]] = mapped_column(JSON, default=list)
    history: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    amount_claimed: Mapped[Decimal] = mapped_column(Numeric(12, 2), default=Decimal("0"))
    amount_approved: Mapped[Decimal] = mapped_column(Numeric(12, 2), default=Decimal("0"))
    decided_by: Mapped[str | None] = mapped_column(String(100))
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    decision_note: Mapped[str | None] = mapped_column(Text)
    dispute_reason: Mapped[str | None] = mapped_column(Text)
    disputed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    final: Mapped[bool] = mapped_column(Boolean, default=False)
    repeat_repair: Mapped[bool] = mapped_column(Boolean, default=False)
    # The monthly dealer settlement that reimbursed it, and billing's statement for that.
    settlement_no: Mapped[str | None] = mapped_column(String(20))
    settled: Mapped[bool] = mapped_column(Boolean, default=False)
    # The last day the claimant may dispute the decision (none once a ruling is final).
    dispute_deadline: Mapped[date | None] = mapped_column(Date)
    # Other losses staff entered per supplier ({supplier_id: {"amount", "reason"}}), carried
    # into the supplier's recovery when it is issued.
    other_losses: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class ClaimNumberCounter(Base):
    __tablename__ = "claim_number_counters"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_sequence: Mapped[int] = mapped_column(Integer)


class DocumentCounter(Base):
    """Gap-free numbers of recoveries (SR…) and settlements (ST…), per prefix and year."""

    __tablename__ = "document_counters"

    prefix: Mapped[str] = mapped_column(String(5), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_sequence: Mapped[int] = mapped_column(Integer)


class PolicyRow(Base):
    __tablename__ = "warranty_policies"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    product_model: Mapped[str] = mapped_column(String(100), index=True)
    effective_from: Mapped[date] = mapped_column(Date)
    effective_to: Mapped[date | None] = mapped_column(Date)
    period_months: Mapped[int] = mapped_column(Integer)
    covers_parts: Mapped[bool] = mapped_column(Boolean)
    covers_labour: Mapped[bool] = mapped_column(Boolean)
    covers_travel: Mapped[bool] = mapped_column(Boolean)
    excluded_causes: Mapped[list[str]] = mapped_column(JSON)
    excluded_parts: Mapped[list[str]] = mapped_column(JSON)
    travel_cap_km: Mapped[Decimal | None] = mapped_column(Numeric(9, 1))


class LabourOperationRow(Base):
    __tablename__ = "labour_operations"

    code: Mapped[str] = mapped_column(String(30), primary_key=True)
    product_line: Mapped[str] = mapped_column(String(50), index=True)
    description: Mapped[str] = mapped_column(String(200))
    standard_hours: Mapped[Decimal] = mapped_column(Numeric(6, 2))
    fault_code: Mapped[str | None] = mapped_column(String(50))


class LabourRateRow(Base):
    __tablename__ = "labour_rates"

    product_line: Mapped[str] = mapped_column(String(50), primary_key=True)
    hourly_rate: Mapped[Decimal] = mapped_column(Numeric(10, 2))
    per_km_rate: Mapped[Decimal] = mapped_column(Numeric(10, 2))


class CataloguePartRow(Base):
    """Claims' copy of parts' catalogue (latest ``changed_at`` wins)."""

    __tablename__ = "catalogue_parts"

    part_no: Mapped[str] = mapped_column(String(50), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    list_price: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    unit_cost: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    supplier_id: Mapped[str | None] = mapped_column(String(50))
    return_required: Mapped[bool] = mapped_column(Boolean)
    changed_at: Mapped[datetime] = mapped_column(UtcDateTime())


class SupplierRow(Base):
    __tablename__ = "suppliers"

    supplier_id: Mapped[str] = mapped_column(String(50), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    assessment_per_unit: Mapped[Decimal] = mapped_column(Numeric(10, 2))
    dispute_days: Mapped[int | None] = mapped_column(Integer)
    settle_by: Mapped[str] = mapped_column(String(20), default="chargeback")


class CoreEvidenceRow(Base):
    """What parts said about one old part of a request: received (matched or not) or
    overdue. Kept even before the claim exists, as events come in any order."""

    __tablename__ = "core_evidence"
    __table_args__ = (UniqueConstraint("request_no", "part_no"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    request_no: Mapped[str] = mapped_column(String(20), index=True)
    part_no: Mapped[str] = mapped_column(String(50))
    state: Mapped[str] = mapped_column(String(20))
    detail: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UtcDateTime())


class RecoveryRow(Base):
    __tablename__ = "supplier_recoveries"
    __table_args__ = (UniqueConstraint("claim_no", "supplier_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    recovery_no: Mapped[str] = mapped_column(String(20), unique=True)
    supplier_id: Mapped[str] = mapped_column(String(50), index=True)
    claim_no: Mapped[str] = mapped_column(String(20))
    request_no: Mapped[str] = mapped_column(String(20))
    product_model: Mapped[str] = mapped_column(String(100))
    part_nos: Mapped[list[str]] = mapped_column(JSON)
    material: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    labour: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    travel: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    other: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    assessment: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    total: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    state: Mapped[str] = mapped_column(String(20), index=True)
    issued_at: Mapped[datetime] = mapped_column(UtcDateTime())
    dispute_deadline: Mapped[date] = mapped_column(Date)
    dispute_reason: Mapped[str | None] = mapped_column(Text)
    disputed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    ruling: Mapped[str | None] = mapped_column(Text)
    finalized_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    settle_by: Mapped[str] = mapped_column(String(20))
    settlement_no: Mapped[str | None] = mapped_column(String(20))
    # The latest of billing's chargebacks by ``issued_at``; every one is in ``chargebacks``
    # (billing charges again after a correction), oldest first: {chargeback_no, total,
    # settle_by, issued_at}.
    chargeback_no: Mapped[str | None] = mapped_column(String(30))
    chargebacks: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    # The assessment is per failed unit of the supplier's part on the claim.
    failed_units: Mapped[int] = mapped_column(Integer, default=1)
    assessment_per_unit: Mapped[Decimal | None] = mapped_column(Numeric(10, 2))
    # Other losses staff entered (part of ``other``), with the reason they gave.
    other_entered: Mapped[Decimal] = mapped_column(Numeric(12, 2), default=Decimal("0"))
    other_reason: Mapped[str | None] = mapped_column(Text)
    # A later ruling changed what a recovery already final should have been: billing's
    # side must be corrected by hand.
    correction_needed: Mapped[str | None] = mapped_column(Text)
    correction_noted_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    # What happened to it, oldest first: issued, reissued, disputed, finalized, corrected,
    # withdrawn; each with its time, who or what did it, why and the amounts it changed.
    history: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)


class RequestFactsRow(Base):
    """What intake's triage knew of a request (latest ``triaged_at`` wins): a workshop
    return's report lacks the purchase date, product line and dealer the rules need."""

    __tablename__ = "request_facts"

    request_no: Mapped[str] = mapped_column(String(20), primary_key=True)
    product_line: Mapped[str | None] = mapped_column(String(50))
    purchase_date: Mapped[date | None] = mapped_column(Date)
    in_warranty: Mapped[bool | None] = mapped_column(Boolean)
    dealer_id: Mapped[str | None] = mapped_column(String(20))
    triaged_at: Mapped[datetime] = mapped_column(UtcDateTime())


class SettlementRow(Base):
    __tablename__ = "settlements"
    __table_args__ = (UniqueConstraint("party", "party_id", "period"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    settlement_no: Mapped[str] = mapped_column(String(20), unique=True)
    party: Mapped[str] = mapped_column(String(10))
    party_id: Mapped[str] = mapped_column(String(50))
    period: Mapped[str] = mapped_column(String(7))
    items: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    total: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    closed_at: Mapped[datetime] = mapped_column(UtcDateTime())
    statement_no: Mapped[str | None] = mapped_column(String(30))


class QualityAlertRow(Base):
    __tablename__ = "quality_alerts"
    __table_args__ = (UniqueConstraint("product_model", "fault_code", "quarter"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    product_model: Mapped[str] = mapped_column(String(100))
    fault_code: Mapped[str] = mapped_column(String(50))
    quarter: Mapped[str] = mapped_column(String(7))
    count: Mapped[int] = mapped_column(Integer)
    threshold: Mapped[int] = mapped_column(Integer)
    raised_at: Mapped[datetime] = mapped_column(UtcDateTime())


class QualityReportRow(Base):
    """Quality matters other services pass on: complaints, repeat repairs, emergency
    shipment documents. One row per kind and reference, whatever is replayed."""

    __tablename__ = "quality_reports"
    __table_args__ = (UniqueConstraint("kind", "reference"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(30))
    reference: Mapped[str] = mapped_column(String(50))
    request_no: Mapped[str] = mapped_column(String(20), index=True)
    product_model: Mapped[str | None] = mapped_column(String(100))
    summary: Mapped[str] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(JSON)
    at: Mapped[datetime] = mapped_column(UtcDateTime())
