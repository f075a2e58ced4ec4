"""Intake's own tables."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
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


class ProductModelRow(Base):
    __tablename__ = "product_models"

    model: Mapped[str] = mapped_column(String(100), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    product_line: Mapped[str] = mapped_column(String(100))
    warranty_months: Mapped[int] = mapped_column(Integer)
    covers_parts: Mapped[bool] = mapped_column(Boolean, default=True)
    covers_labour: Mapped[bool] = mapped_column(Boolean, default=True)
    covers_travel: Mapped[bool] = mapped_column(Boolean, default=True)


class UnitRow(Base):
    """A unit sold, known by its serial number."""

    __tablename__ = "units"

    serial_no: Mapped[str] = mapped_column(String(100), primary_key=True)
    product_model: Mapped[str] = mapped_column(String(100))
    purchase_date: Mapped[date | None] = mapped_column(Date)
    owner_customer_id: Mapped[int | None] = mapped_column(Integer)
    selling_dealer_id: Mapped[str | None] = mapped_column(String(20))
    registered_at: Mapped[datetime] = mapped_column(UtcDateTime())


class CustomerRow(Base):
    __tablename__ = "customers"
    __table_args__ = (Index("ix_customers_phone", "phone"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200))
    phone: Mapped[str] = mapped_column(String(50))
    other_phones: Mapped[list[str]] = mapped_column(JSON, default=list)
    address: Mapped[str | None] = mapped_column(String(500))
    region: Mapped[str | None] = mapped_column(String(100))
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class ServiceRequestRow(Base):
    __tablename__ = "service_requests"
    __table_args__ = (
        UniqueConstraint("dealer_id", "dealer_report_no", name="uq_service_requests_dealer_report"),
        Index("ix_service_requests_updated", "updated_at", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    request_no: Mapped[str] = mapped_column(String(20), unique=True)
    channel: Mapped[str] = mapped_column(String(20))
    kind: Mapped[str | None] = mapped_column(String(30))
    severity: Mapped[str | None] = mapped_column(String(20))
    customer_request: Mapped[str | None] = mapped_column(String(30))
    customer_id: Mapped[int | None] = mapped_column(Integer)
    customer_name: Mapped[str] = mapped_column(String(200))
    customer_phone: Mapped[str] = mapped_column(String(50))
    customer_address: Mapped[str | None] = mapped_column(String(500))
    customer_region: Mapped[str | None] = mapped_column(String(100))
    product_model: Mapped[str] = mapped_column(String(100))
    product_line: Mapped[str | None] = mapped_column(String(100))
    serial_no: Mapped[str] = mapped_column(String(100))
    purchase_date: Mapped[date | None] = mapped_column(Date)
    quantity: Mapped[int] = mapped_column(Integer, default=1)
    fault_description: Mapped[str] = mapped_column(Text)
    fault_code: Mapped[str | None] = mapped_column(String(50))
    fault_occurred_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    in_warranty: Mapped[bool | None] = mapped_column(Boolean)
    warranty_expires_on: Mapped[date | None] = mapped_column(Date)
    visit_needed: Mapped[bool | None] = mapped_column(Boolean)
    dealer_id: Mapped[str | None] = mapped_column(String(20))
    dealer_report_no: Mapped[str | None] = mapped_column(String(100))
    work_done: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(30))
    received_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
    last_department_update_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    technician_id: Mapped[str | None] = mapped_column(String(50))
    technician_name: Mapped[str | None] = mapped_column(String(200))
    technician_assigned_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class TimelineEntryRow(Base):
    """What happened to a request, by which department, oldest first."""

    __tablename__ = "request_timeline"
    __table_args__ = (Index("ix_request_timeline_request", "request_no", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    request_no: Mapped[str] = mapped_column(String(20))
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    department: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(30))
    summary: Mapped[str] = mapped_column(Text)
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    actor: Mapped[str | None] = mapped_column(String(200))


class RequestNumberCounter(Base):
    """The last request number given out per year; incremented in the registering transaction,
    so a rolled-back registration gives its number back and the sequence has no gaps."""

    __tablename__ = "request_number_counters"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_sequence: Mapped[int] = mapped_column(Integer)


class DealerRow(Base):
    __tablename__ = "dealers"

    dealer_id: Mapped[str] = mapped_column(String(20), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20))
    rate_per_second: Mapped[float] = mapped_column(Float)
    burst: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class DealerSecretRow(Base):
    """A dealer's signing secret, encrypted: HMAC needs the secret itself, so a hash cannot
    do; the key that decrypts it lives outside the database."""

    __tablename__ = "dealer_secrets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dealer_id: Mapped[str] = mapped_column(ForeignKey("dealers.dealer_id"), index=True)
    sealed: Mapped[bytes] = mapped_column(LargeBinary)
    fingerprint: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class DealerIdempotencyRow(Base):
    """The answer given to a dealer's ``Idempotency-Key``, replayed for 24 hours."""

    __tablename__ = "dealer_idempotency_keys"

    dealer_id: Mapped[str] = mapped_column(String(20), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    body_sha256: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(Integer)
    response: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)


class SequenceRow(Base):
    """Named counters (dealer ids), incremented inside the transaction that uses them."""

    __tablename__ = "sequences"

    name: Mapped[str] = mapped_column(String(50), primary_key=True)
    last_value: Mapped[int] = mapped_column(Integer)


class SlaClockRow(Base):
    """One SLA target watched on one request; ``due_at`` is empty while the clock is paused."""

    __tablename__ = "sla_clocks"
    __table_args__ = (
        UniqueConstraint("request_no", "target", name="uq_sla_clocks_request_target"),
        Index("ix_sla_clocks_open_due", "met_at", "breached_at", "due_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    request_no: Mapped[str] = mapped_column(String(20))
    target: Mapped[str] = mapped_column(String(50))
    basis: Mapped[str] = mapped_column(String(20))
    duration_seconds: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime())
    pauses: Mapped[list[list[str | None]]] = mapped_column(JSON, default=list)
    due_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    met_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    breached_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class SurveyRow(Base):
    __tablename__ = "surveys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    request_no: Mapped[str] = mapped_column(String(20), unique=True)
    # Only the hash of the customer's one-time link; empty once answered or for staff surveys.
    link_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    score: Mapped[int | None] = mapped_column(Integer)
    comment: Mapped[str | None] = mapped_column(Text)
    channel: Mapped[str | None] = mapped_column(String(10))
    dealer_id: Mapped[str | None] = mapped_column(String(20))
    recorded_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    recorded_by: Mapped[str | None] = mapped_column(String(200))


class QualityAlertRow(Base):
    """Claims found one failure cause of a model too often in a quarter; agents see it."""

    __tablename__ = "quality_alerts"
    __table_args__ = (
        UniqueConstraint(
            "product_model", "fault_code", "quarter", name="uq_quality_alerts_model_code_quarter"
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    product_model: Mapped[str] = mapped_column(String(100))
    fault_code: Mapped[str] = mapped_column(String(50))
    quarter: Mapped[str] = mapped_column(String(7))
    count: Mapped[int] = mapped_column(Integer)
    threshold: Mapped[int] = mapped_column(Integer)
    raised_at: Mapped[datetime] = mapped_column(UtcDateTime())


class ComplaintRow(Base):
    """One complaint per complaint request: cause, handling steps, result."""

    __tablename__ = "complaints"
    __table_args__ = (Index("ix_complaints_received", "received_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    complaint_no: Mapped[str] = mapped_column(String(20), unique=True)
    request_no: Mapped[str] = mapped_column(String(20), unique=True)
    product_model: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text)
    cause: Mapped[str] = mapped_column(String(30))
    status: Mapped[str] = mapped_column(String(20))
    steps: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    result: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime())
    opened_at: Mapped[datetime] = mapped_column(UtcDateTime())
    reported_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    opened_by: Mapped[str | None] = mapped_column(String(200))


class ReturnForRepairRow(Base):
    """A unit sent in for repair, from arrival to the customer's receipt."""

    __tablename__ = "returns_for_repair"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    return_no: Mapped[str] = mapped_column(String(20), unique=True)
    request_no: Mapped[str] = mapped_column(String(20), unique=True)
    product_model: Mapped[str] = mapped_column(String(100))
    serial_no: Mapped[str] = mapped_column(String(100))
    in_warranty: Mapped[bool | None] = mapped_column(Boolean)
    condition: Mapped[str] = mapped_column(Text)
    accessories: Mapped[list[str]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(30))
    location: Mapped[str | None] = mapped_column(String(200))
    repair_rounds: Mapped[int] = mapped_column(Integer)
    carrier: Mapped[str | None] = mapped_column(String(100))
    tracking_no: Mapped[str | None] = mapped_column(String(100))
    shipping_cost: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    history: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime())
    shipped_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    confirmed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    repair: Mapped[dict[str, Any] | None] = mapped_column(JSON)
