"""Request and response bodies of billing's staff API. Money is a decimal string."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from services.billing.domain.money import LineKind
from services.billing.domain.pricing import PriceItem

Amount = Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=2)]
Positive = Annotated[Decimal, Field(gt=0, max_digits=14, decimal_places=2)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class PriceCreate(_In):
    item: PriceItem
    product_line: str | None = Field(None, max_length=100, description="labour only")
    service_type: str | None = Field(None, max_length=30, description="labour only")
    part_no: str | None = Field(None, max_length=50, description="part only")
    amount: Amount
    effective_from: date


class PriceRead(_Out):
    item: str
    key: str
    amount: Decimal
    currency: str
    effective_from: date
    entered_by: str | None


class ContractCreate(_In):
    customer_id: str = Field(min_length=1, max_length=100)
    customer_name: str = Field(min_length=1, max_length=200)
    serial_nos: list[str] = Field(default_factory=list, description="empty: every unit")
    covers: list[LineKind] = Field(min_length=1)
    valid_from: date
    valid_to: date
    fee: Amount


class ContractRead(_Out):
    contract_no: str
    customer_id: str
    customer_name: str
    serial_nos: list[str]
    covers: list[str]
    valid_from: date
    valid_to: date
    fee: Decimal
    currency: str


class QuoteLineCreate(_In):
    kind: LineKind
    quantity: Annotated[Decimal, Field(gt=0, max_digits=12, decimal_places=3)]
    description: str | None = Field(None, max_length=300)
    part_no: str | None = Field(None, max_length=50)
    unit_price: Amount | None = Field(None, description="omitted: the standard price")


class QuoteCreate(_In):
    request_no: str = Field(min_length=1, max_length=20)
    lines: list[QuoteLineCreate] = Field(min_length=1, max_length=100)
    note: str | None = Field(None, max_length=2000)


class LineRead(_Out):
    line_no: int
    kind: str
    description: str
    part_no: str | None
    quantity: Decimal
    unit_price: Decimal
    standard_unit_price: Decimal | None
    tax_rate: Decimal
    net: Decimal
    tax: Decimal
    total: Decimal


class QuoteRead(_Out):
    quote_no: str
    request_no: str
    status: str
    approval: str
    net: Decimal
    tax: Decimal
    total: Decimal
    call_out_fee: Decimal
    currency: str
    valid_until: datetime | None
    created_by: str
    created_at: datetime
    approved_by: str | None
    issued_at: datetime | None
    answered_at: datetime | None
    lines: list[LineRead] = []


class QuoteDecline(_In):
    reason: str | None = Field(None, max_length=2000)


class InvoiceRead(_Out):
    invoice_no: str
    request_no: str | None
    quote_no: str | None
    bill_to: str
    bill_to_id: str | None
    bill_to_name: str | None
    category: str
    net: Decimal
    tax: Decimal
    total: Decimal
    credited: Decimal
    paid: Decimal
    outstanding: Decimal
    currency: str
    issued_at: datetime


class CreditNoteCreate(_In):
    amount: Positive
    reason: str = Field(min_length=1, max_length=2000)


class CreditNoteRead(_Out):
    credit_note_no: str
    invoice_no: str
    total: Decimal
    currency: str
    reason: str
    issued_by: str
    issued_at: datetime


class AllocationRead(_Out):
    payment_no: str
    invoice_no: str
    amount: Decimal


class InvoiceDetail(InvoiceRead):
    lines: list[LineRead]
    credit_notes: list[CreditNoteRead]
    allocations: list[AllocationRead]


class PaymentCreate(_In):
    customer_id: str = Field(min_length=1, max_length=100)
    amount: Positive
    method: str = Field(pattern="^(bank|cash|card|on_site)$")
    invoice_no: str | None = Field(None, max_length=20)
    request_no: str | None = Field(None, max_length=20)


class PaymentRead(_Out):
    payment_no: str
    customer_id: str
    request_no: str | None
    method: str
    amount: Decimal
    unallocated: Decimal
    currency: str
    received_at: datetime
    allocations: list[AllocationRead] = []


class BalanceRead(BaseModel):
    customer_id: str
    owed: Decimal
    credit: Decimal
    outstanding: Decimal = Field(description="owed less credit; negative: the company owes")


class CostRead(_Out):
    kind: str
    description: str
    quantity: Decimal
    unit_cost: Decimal
    amount: Decimal
    supplier_id: str | None
    occurred_at: datetime


class RequestRead(_Out):
    request_no: str
    customer_id: str | None
    customer_name: str | None
    product_model: str | None
    product_line: str | None
    service_type: str | None
    in_warranty: bool | None
    internal: bool
    dealer_id: str | None
    service_point_id: str | None
    cause: str | None
    claim_outcome: str | None
    category: str | None
    category_reason: str | None
    completed_at: datetime | None
    settled_at: datetime | None
    settlements: int = Field(0, description="How often settled: more than 1 after re-billing")
    invoices: list[str] = []
    costs: list[CostRead] = []
    total_cost: Decimal = Decimal(0)


class StatementRead(_Out):
    statement_no: str
    settlement_no: str
    dealer_id: str
    period: str
    items: list[dict[str, Any]]
    total: Decimal
    currency: str
    issued_at: datetime
    status: str
    paid_at: datetime | None
    paid: Decimal
    outstanding: Decimal = Decimal(0)


class DealerPaymentCreate(_In):
    method: str = Field("bank", pattern="^(bank|offset)$")
    bank_reference: str | None = Field(None, min_length=1, max_length=100)
    amount: Positive | None = Field(None, description="omitted: all that is left to pay")


class DealerPaymentRead(_Out):
    payment_no: str
    statement_no: str
    dealer_id: str
    amount: Decimal
    currency: str
    method: str
    bank_reference: str | None
    paid_by: str
    paid_at: datetime


class ChargebackRead(_Out):
    chargeback_no: str
    reference: str
    source: str
    supplier_id: str
    request_no: str | None
    settle_by: str
    total: Decimal
    currency: str
    issued_at: datetime


class RecoveryRead(_Out):
    recovery_no: str
    supplier_id: str
    claim_no: str | None
    request_no: str | None
    total: Decimal
    currency: str
    status: str
    dispute_deadline: date | None
    dispute_reason: str | None


class SalesEntry(_In):
    amount: Amount


class SalesRead(_Out):
    month: str
    amount: Decimal
    currency: str


class OtherCostCreate(_In):
    description: str = Field(min_length=1, max_length=250)
    amount: Positive


class AdjustmentRead(_Out):
    adjustment_no: str
    recovery_no: str
    supplier_id: str
    kind: str
    settle_by: str
    amount: Decimal
    currency: str
    invoice_no: str | None
    credit_note_nos: list[str]
    reason: str
    issued_at: datetime


class SupplierInvoiceCreate(_In):
    invoice_no: str = Field(min_length=1, max_length=50, description="the supplier's number")
    amount: Positive
    invoice_date: date
    description: str | None = Field(None, min_length=1, max_length=250)


class SupplierPaymentCreate(_In):
    amount: Positive
    method: str = Field("bank", pattern="^(bank|offset)$")
    bank_reference: str | None = Field(None, min_length=1, max_length=50)


class SupplierEntryRead(_Out):
    entry_no: str
    supplier_id: str
    kind: str
    reference: str
    description: str
    amount: Decimal = Field(description="+: the company owes more; -: it owes less")
    currency: str
    document_date: date | None
    entered_by: str
    occurred_at: datetime


class SupplierPayablesRead(BaseModel):
    supplier_id: str
    currency: str
    invoiced: Decimal
    paid: Decimal
    deducted: Decimal
    balance: Decimal = Field(description="what the company owes; negative: the supplier owes")
    last_entry_on: str | None


class SupplierLedgerRead(BaseModel):
    supplier_id: str
    balances: list[SupplierPayablesRead]
    entries: list[SupplierEntryRead]
