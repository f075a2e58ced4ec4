"""Billing's own tables. Money columns are NUMERIC(14, 2); every document names its currency."""

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
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.db.types import UtcDateTime

Money = Numeric(14, 2)
Quantity = Numeric(12, 3)
Rate = Numeric(6, 4)


class Base(DeclarativeBase):
    metadata = MetaData()


class DocumentCounterRow(Base):
    """One row per document kind and year; incremented in the issuing transaction."""

    __tablename__ = "document_counters"

    kind: Mapped[str] = mapped_column(String(4), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    last: Mapped[int] = mapped_column(Integer, nullable=False)


class PriceRow(Base):
    __tablename__ = "prices"
    __table_args__ = (UniqueConstraint("item", "key", "effective_from"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    item: Mapped[str] = mapped_column(String(20), nullable=False)
    key: Mapped[str] = mapped_column(String(100), nullable=False)
    amount: Mapped[Decimal] = mapped_column(Money, nullable=False)
    currency: Mapped[str] = mapped_column(String(3), nullable=False)
    effective_from: Mapped[date] = mapped_column(Date, nullable=False)
    entered_by: Mapped[str | None] = mapped_column(String(200))
    entered_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)


class CataloguePartRow(Base):
    """Billing's copy of parts' catalogue (latest ``changed_at`` wins)."""

    __tablename__ = "catalogue_parts"

    part_no: Mapped[str] = mapped_column(String(50), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    unit_cost: Mapped[Decimal] = mapped_column(Money, nullable=False)
    list_price: Mapped[Decimal] = mapped_column(Money, nullable=False)
    supplier_id: Mapped[str | None] = mapped_column(String(50))
    changed_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)


class ContractRow(Base):
    __tablename__ = "contracts"

    contract_no: Mapped[str] = mapped_column(String(20), primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(100), nullable=False, index=True)
    customer_name: Mapped[str] = mapped_column(String(200), nullable=False)
    serial_nos: Mapped[list[str]] = mapped_column(JSON, nullable=False)
    covers: Mapped[list[str]] = mapped_column(JSON, nullable=False)
    valid_from: Mapped[date] = mapped_column(Date, nullable=False)
    valid_to: Mapped[date] = mapped_column(Date, nullable=False)
    fee: Mapped[Decimal] = mapped_column(Money, nullable=False)
    currency: Mapped[str] = mapped_column(String(3), nullable=False)
    created_by: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)


class BillingRequestRow(Base):
    """Billing's view of a service request, assembled from other services' events."""

    __tablename__ = "billing_requests"

    request_no: Mapped[str] = mapped_column(String(20), primary_key=True)
    customer_id: Mapped[str | None] = mapped_column(String(100), index=True)
    customer_name: Mapped[str | None] = mapped_column(String(200))
    product_model: Mapped[str | None] = mapped_column(String(100))
    product_line: Mapped[str | None] = mapped_column(String(100))
    serial_no: Mapped[str | None] = mapped_column(String(100))
    service_type: Mapped[str | None] = mapped_column(String(30))
    in_warranty: Mapped[bool | None] = mapped_column(Boolean)
    # Marked by a manager: the company's own work (category D), costed, never billed.
    internal: Mapped[bool] = mapped_column(
        Boolean, nullable=False, default=False, server_default=false()
    )
    internal_by: Mapped[str | None] = mapped_column(String(200))
    dealer_id: Mapped[str | None] = mapped_column(String(50))
    triaged_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    cancelled_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    resolved_remotely_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    return_no: Mapped[str | None] = mapped_column(String(30))
    return_passed: Mapped[bool | None] = mapped_column(Boolean)
    return_shipped_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    return_shipping_cost: Mapped[Decimal | None] = mapped_column(Money)
    completed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    service_point_id: Mapped[str | None] = mapped_column(String(50))
    cause: Mapped[str | None] = mapped_column(String(30))
    labour_minutes: Mapped[int | None] = mapped_column(Integer)
    travel_km: Mapped[Decimal | None] = mapped_column(Quantity)
    parts_used: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    claim_outcome: Mapped[str | None] = mapped_column(String(30))
    claim_source: Mapped[str | None] = mapped_column(String(20))
    claim_lines: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    claim_decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    category: Mapped[str | None] = mapped_column(String(1))
    category_reason: Mapped[str | None] = mapped_column(String(100))
    invoice_no: Mapped[str | None] = mapped_column(String(20))
    settled_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # A later ruling issued a new invoice or credit note after settlement: settled again
    # (``billing.request.settled.v1`` once more) when nothing is open.
    reopened_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    settlements: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")
    # The technician's visit (dispatch.job.on_site / diagnosed): a declined quote still costs it.
    arrived_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    diagnosed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # The workshop repaired a returned unit (intake.return.repaired): its work, as a job's.
    return_repaired_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class QuoteRow(Base):
    __tablename__ = "quotes"

    quote_no: Mapped[str] = mapped_column(String(20), primary_key=True)
    request_no: Mapped[str] = mapped_column(String(20), nullable=False, index=True)
    status: Mapped[str] = mapped_column(String(20), nullable=False, index=True)
    approval: Mapped[str] = mapped_column(String(20), nullable=False)
    net: Mapped[Decimal] = mapped_column(Money, nullable=False)
    tax: Mapped[Decimal] = mapped_column(Money, nullable=False)
    total: Mapped[Decimal] = mapped_column(Money, nullable=False)
    call_out_fee: Mapped[Decimal] = mapped_column(Money, nullable=False)
    currency: Mapped[str] = mapped_column(String(3), nullable=False)
    valid_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_by: Mapped[str] = mapped_column(String(200), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
    approved_by: Mapped[str | None] = mapped_column(String(200))
    approved_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    issued_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    answered_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    note: Mapped[str | None] = mapped_column(Text)


class DocumentLineRow(Base):
    """Lines of quotes and invoices (document numbers are unique across kinds)."""

    __tablename__ = "document_lines"
    __table_args__ = (UniqueConstraint("document_no", "line_no"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    document_no: Mapped[str] = mapped_column(String(20), nullable=False, index=True)
    line_no: Mapped[int] = mapped_column(Integer, nullable=False)
    kind: Mapped[str] = mapped_column(String(20), nullable=False)
    description: Mapped[str] = mapped_column(String(300), nullable=False)
    part_no: Mapped[str | None] = mapped_column(String(50))
    quantity: Mapped[Decimal] = mapped_column(Quantity, nullable=False)
    unit_price: Mapped[Decimal] = mapped_column(Money, nullable=False)
    standard_unit_price: Mapped[Decimal | None] = mapped_column(Money)
    tax_rate: Mapped[Decimal] = mapped_column(Rate, nullable=False)
    net: Mapped[Decimal] = mapped_column(Money, nullable=False)
    tax: Mapped[Decimal] = mapped_column(Money, nullable=False)
    total: Mapped[Decimal] = mapped_column(Money, nullable=False)


class InvoiceRow(Base):
    """Immutable once issued except for ``credited`` and ``paid``, which sum what credit
    notes and payments later did to it."""

    __tablename__ = "invoices"

    invoice_no: Mapped[str] = mapped_column(String(20), primary_key=True)
    # Why it was issued (request completion, a declined quote, a chargeback): one invoice
    # per reason, however often the event behind it arrives.
    source_key: Mapped[str] = mapped_column(String(80), nullable=False, unique=True)
    request_no: Mapped[str | None] = mapped_column(String(20), index=True)
    quote_no: Mapped[str | None] = mapped_column(String(20))
    bill_to: Mapped[str] = mapped_column(String(20), nullable=False)
    bill_to_id: Mapped[str | None] = mapped_column(String(100), index=True)
    bill_to_name: Mapped[str | None] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(1), nullable=False)
    net: Mapped[Decimal] = mapped_column(Money, nullable=False)
    tax: Mapped[Decimal] = mapped_column(Money, nullable=False)
    total: Mapped[Decimal] = mapped_column(Money, nullable=False)
    credited: Mapped[Decimal] = mapped_column(Money, nullable=False)
    paid: Mapped[Decimal] = mapped_column(Money, nullable=False)
    currency: Mapped[str] = mapped_column(String(3), nullable=False)
    issued_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)


class CreditNoteRow(Base):
    __tablename__ = "credit_notes"

    credit_note_no: Mapped[str] = mapped_column(String(20), primary_key=True)
    invoice_no: Mapped[str] = mapped_column(String(20), nullable=False, index=True)
    total: Mapped[Decimal] = mapped_column(Money, nullable=False)
    currency: Mapped[str] = mapped_column(String(3), nullable=False)
    reason: Mapped[str] = mapped_column(Text, nullable=False)
    issued_by: Mapped[str] = mapped_column(String(200), nullable=False)
    issued_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)


class PaymentRow(Base):
    """``unallocated`` is the customer's credit left from this payment (overpayment, or a
    collection on site before the invoice existed)."""

    __tablename__ = "payments"

    payment_no: Mapped[str] = mapped_column(String(20), primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(100), nullable=False, index=True)
    request_no: Mapped[str | None] = mapped_column(String(20))
    method: Mapped[str] = mapped_column(String(20), nullable=False)
    amount: Mapped[Decimal] = mapped_column(Money, nullable=False)
    unallocated: Mapped[Decimal] = mapped_column(Money, nullable=False)
    currency: Mapped[str] = mapped_column(String(3), nullable=False)
    received_by: Mapped[str] = mapped_column(String(200), nullable=False)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)


class AllocationRow(Base):
    __tablename__ = "payment_allocations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    payment_no: Mapped[str] = mapped_column(String(20), nullable=False, index=True)
    invoice_no: Mapped[str] = mapped_column(String(20), nullable=False, index=True)
    amount: Mapped[Decimal] = mapped_column(Money, nullable=False)
    allocated_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)


class DealerStatementRow(Base):
    __tablename__ = "dealer_statements"

    statement_no: Mapped[str] = mapped_column(String(20), primary_key=True)
    settlement_no: Mapped[str] = mapped_column(String(30), nullable=False, unique=True)
    dealer_id: Mapped[str] = mapped_column(String(50), nullable=False, index=True)
    period: Mapped[str] = mapped_column(String(7), nullable=False)
    items: Mapped[list[dict[str, Any]]] = mapped_column(JSON, nullable=False)
    total: Mapped[Decimal] = mapped_column(Money, nullable=False)
    currency: Mapped[str] = mapped_column(String(3), nullable=False)
    issued_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
    # A payable: issued (the company owes the dealer) until paid.
    status: Mapped[str] = mapped_column(
        String(20), nullable=False, default="issued", server_default="issued", index=True
    )
    paid_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # What the payments against it add up to (partly_paid until it reaches ``total``).
    paid: Mapped[Decimal] = mapped_column(Money, nullable=False, default=0, server_default="0")


class DealerPaymentRow(Base):
    """What the company paid a dealer against a reimbursement statement (one of several)."""

    __tablename__ = "dealer_payments"

    payment_no: Mapped[str] = mapped_column(String(20), primary_key=True)
    statement_no: Mapped[str] = mapped_column(String(20), nullable=False, index=True)
    dealer_id: Mapped[str] = mapped_column(String(50), nullable=False, index=True)
    amount: Mapped[Decimal] = mapped_column(Money, nullable=False)
    currency: Mapped[str] = mapped_column(String(3), nullable=False)
    method: Mapped[str] = mapped_column(String(20), nullable=False)
    bank_reference: Mapped[str | None] = mapped_column(String(100))
    paid_by: Mapped[str] = mapped_column(String(200), nullable=False)
    paid_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)


class SupplierChargebackRow(Base):
    __tablename__ = "supplier_chargebacks"

    chargeback_no: Mapped[str] = mapped_column(String(20), primary_key=True)
    reference: Mapped[str] = mapped_column(String(30), nullable=False, unique=True)
    source: Mapped[str] = mapped_column(String(20), nullable=False)  # recovery or disposal
    supplier_id: Mapped[str] = mapped_column(String(50), nullable=False, index=True)
    request_no: Mapped[str | None] = mapped_column(String(20))
    settle_by: Mapped[str] = mapped_column(String(20), nullable=False)
    invoice_no: Mapped[str | None] = mapped_column(String(20))
    total: Mapped[Decimal] = mapped_column(Money, nullable=False)
    currency: Mapped[str] = mapped_column(String(3), nullable=False)
    issued_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)


class SupplierRecoveryRow(Base):
    """Recoveries claims expects from suppliers: pending, disputed, or final (charged)."""

    __tablename__ = "supplier_recoveries"

    recovery_no: Mapped[str] = mapped_column(String(30), primary_key=True)
    supplier_id: Mapped[str] = mapped_column(String(50), nullable=False, index=True)
    claim_no: Mapped[str | None] = mapped_column(String(30))
    request_no: Mapped[str | None] = mapped_column(String(20))
    total: Mapped[Decimal] = mapped_column(Money, nullable=False)
    currency: Mapped[str] = mapped_column(String(3), nullable=False)
    status: Mapped[str] = mapped_column(String(20), nullable=False)
    dispute_deadline: Mapped[date | None] = mapped_column(Date)
    dispute_reason: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)


class SupplierLedgerEntryRow(Base):
    """The supplier payables ledger: ``amount`` is what the entry adds to what the company
    owes the supplier (its invoices for parts +, payments to it -, deductions of final
    recoveries and disposal charges -, reversed deductions +). The balance is the sum."""

    __tablename__ = "supplier_ledger_entries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    entry_no: Mapped[str] = mapped_column(String(20), nullable=False, unique=True)
    # What caused it (a supplier's invoice number, an event), so nothing is booked twice.
    source_key: Mapped[str] = mapped_column(String(120), nullable=False, unique=True)
    supplier_id: Mapped[str] = mapped_column(String(50), nullable=False, index=True)
    kind: Mapped[str] = mapped_column(String(20), nullable=False)
    reference: Mapped[str] = mapped_column(String(60), nullable=False, index=True)
    description: Mapped[str] = mapped_column(String(300), nullable=False)
    amount: Mapped[Decimal] = mapped_column(Money, nullable=False)
    currency: Mapped[str] = mapped_column(String(3), nullable=False)
    document_date: Mapped[date | None] = mapped_column(Date)
    entered_by: Mapped[str] = mapped_column(String(200), nullable=False)
    occurred_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)


class SupplierAccountRow(Base):
    """One row per supplier and currency, locked by every entry booked in its payables
    ledger: a payment's balance check and any entry it is checked against queue on it, so
    two clerks (or a clerk and a deduction from an event) cannot overpay the supplier."""

    __tablename__ = "supplier_accounts"

    supplier_id: Mapped[str] = mapped_column(String(50), primary_key=True)
    currency: Mapped[str] = mapped_column(String(3), primary_key=True)


class SupplierAdjustmentRow(Base):
    """A final recovery withdrawn or corrected after billing charged it: ``amount`` is what
    the supplier is charged more (+: an additional chargeback invoice or deduction) or given
    back (-: credit notes against its chargeback invoices or a reversed deduction)."""

    __tablename__ = "supplier_adjustments"

    adjustment_no: Mapped[str] = mapped_column(String(20), primary_key=True)
    source_key: Mapped[str] = mapped_column(String(120), nullable=False, unique=True)
    recovery_no: Mapped[str] = mapped_column(String(30), nullable=False, index=True)
    supplier_id: Mapped[str] = mapped_column(String(50), nullable=False)
    kind: Mapped[str] = mapped_column(String(20), nullable=False)  # withdrawal, correction
    settle_by: Mapped[str] = mapped_column(String(20), nullable=False)
    amount: Mapped[Decimal] = mapped_column(Money, nullable=False)
    currency: Mapped[str] = mapped_column(String(3), nullable=False)
    invoice_no: Mapped[str | None] = mapped_column(String(20))
    credit_note_nos: Mapped[list[str]] = mapped_column(JSON, nullable=False)
    reason: Mapped[str] = mapped_column(Text, nullable=False)
    issued_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)


class CostEntryRow(Base):
    __tablename__ = "cost_entries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # What caused it, so a replayed event never books it twice.
    source_key: Mapped[str] = mapped_column(String(120), nullable=False, unique=True)
    request_no: Mapped[str] = mapped_column(String(20), nullable=False, index=True)
    kind: Mapped[str] = mapped_column(String(20), nullable=False)
    description: Mapped[str] = mapped_column(String(300), nullable=False)
    quantity: Mapped[Decimal] = mapped_column(Quantity, nullable=False)
    unit_cost: Mapped[Decimal] = mapped_column(Money, nullable=False)
    amount: Mapped[Decimal] = mapped_column(Money, nullable=False)
    supplier_id: Mapped[str | None] = mapped_column(String(50))
    currency: Mapped[str] = mapped_column(String(3), nullable=False)
    occurred_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)


class MonthlySalesRow(Base):
    __tablename__ = "monthly_sales"

    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    amount: Mapped[Decimal] = mapped_column(Money, nullable=False)
    currency: Mapped[str] = mapped_column(String(3), nullable=False)
    entered_by: Mapped[str] = mapped_column(String(200), nullable=False)
    entered_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
