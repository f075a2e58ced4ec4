"""Events billing publishes. Money is CNY by default, Decimal, with the currency named."""

from __future__ import annotations

from decimal import Decimal

from pydantic import AwareDatetime, Field

from shared.events.registry import EventSchema, event_schema


@event_schema("billing.quote.issued", 1)
class QuoteIssuedV1(EventSchema):
    """A quote for paid work went to the customer; the work waits for the answer."""

    quote_no: str
    request_no: str
    total: Decimal
    currency: str
    valid_until: AwareDatetime | None
    issued_at: AwareDatetime


@event_schema("billing.quote.accepted", 1)
class QuoteAcceptedV1(EventSchema):
    """The customer accepted the quote: dispatch may go on."""

    quote_no: str
    request_no: str
    total: Decimal
    currency: str
    accepted_at: AwareDatetime


@event_schema("billing.quote.declined", 1)
class QuoteDeclinedV1(EventSchema):
    """The customer declined: the job closes, with only the call-out fee if any."""

    quote_no: str
    request_no: str
    call_out_fee: Decimal
    currency: str
    reason: str | None
    declined_at: AwareDatetime


@event_schema("billing.invoice.issued", 1)
class InvoiceIssuedV1(EventSchema):
    """An invoice was issued (immutable from now on)."""

    invoice_no: str
    request_no: str | None
    bill_to: str = Field(description="customer, dealer or supplier")
    bill_to_id: str | None
    category: str = Field(description="A paid, B contract")
    net: Decimal
    tax: Decimal
    total: Decimal
    currency: str
    issued_at: AwareDatetime


@event_schema("billing.credit_note.issued", 1)
class CreditNoteIssuedV1(EventSchema):
    """A credit note corrected an issued invoice."""

    credit_note_no: str
    invoice_no: str
    request_no: str | None
    total: Decimal
    currency: str
    reason: str
    issued_at: AwareDatetime


@event_schema("billing.payment.received", 1)
class PaymentReceivedV1(EventSchema):
    """A payment was received (bank, cash, on site) and allocated."""

    payment_no: str
    request_no: str | None
    invoice_no: str | None
    amount: Decimal
    currency: str
    method: str
    outstanding: Decimal = Field(description="What is still owed on the invoice afterwards")
    received_at: AwareDatetime


@event_schema("billing.request.settled", 1)
class RequestSettledV1(EventSchema):
    """Nothing more is owed for the request: paid in full, or free (C), internal (D) or
    nothing to bill."""

    request_no: str
    category: str = Field(description="A, B, C or D")
    total_billed: Decimal
    total_cost: Decimal
    currency: str
    settled_at: AwareDatetime


@event_schema("billing.dealer_statement.issued", 1)
class DealerStatementIssuedV1(EventSchema):
    """A dealer's reimbursement statement for a claims settlement."""

    statement_no: str
    settlement_no: str
    dealer_id: str
    period: str
    total: Decimal
    currency: str
    issued_at: AwareDatetime


@event_schema("billing.supplier_chargeback.issued", 1)
class SupplierChargebackIssuedV1(EventSchema):
    """A supplier was charged (invoice) or its payables reduced (deduction)."""

    chargeback_no: str
    supplier_id: str
    reference: str = Field(description="Recovery number or disposal number")
    settle_by: str = Field(description="chargeback or deduction")
    total: Decimal
    currency: str
    issued_at: AwareDatetime
