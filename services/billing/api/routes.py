"""Billing's staff API: prices, contracts, quotes and approvals, invoices and credit notes,
payments, statements, chargebacks, the cost ledger and reports."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response
from sqlalchemy import select

from services.billing.api.errors import answer
from services.billing.api.schemas import (
    AdjustmentRead,
    AllocationRead,
    BalanceRead,
    ChargebackRead,
    ContractCreate,
    ContractRead,
    CostRead,
    CreditNoteCreate,
    CreditNoteRead,
    DealerPaymentCreate,
    DealerPaymentRead,
    InvoiceDetail,
    InvoiceRead,
    LineRead,
    OtherCostCreate,
    PaymentCreate,
    PaymentRead,
    PriceCreate,
    PriceRead,
    QuoteCreate,
    QuoteDecline,
    QuoteRead,
    RecoveryRead,
    RequestRead,
    SalesEntry,
    SalesRead,
    StatementRead,
    SupplierEntryRead,
    SupplierInvoiceCreate,
    SupplierLedgerRead,
    SupplierPayablesRead,
    SupplierPaymentCreate,
)
from services.billing.commands import (
    documents,
    pricing,
    quotes,
    reports,
    settlements,
    supplier_payables,
)
from services.billing.commands.quotes import QuoteLineInput
from services.billing.commands.requests import (
    mark_internal,
    record_other_cost,
    request_summary,
)
from services.billing.db.models import (
    AllocationRow,
    BillingRequestRow,
    CreditNoteRow,
    DealerStatementRow,
    InvoiceRow,
    PaymentRow,
)
from services.billing.domain.pricing import PriceItem
from services.billing.domain.quotes import QuoteStatus
from services.billing.settings import BillingSettings
from shared.auth.dependencies import require_roles
from shared.auth.roles import Role
from shared.auth.tokens import Staff
from shared.http.deps import UnitOfWorkDep
from shared.http.problems import Problem

router = APIRouter(prefix="/api/v1", tags=["billing"])

_STAFF = (Role.BILLING_CLERK, Role.MANAGER, Role.GENERAL_MANAGER)
Clerk = Annotated[Staff, Depends(require_roles(Role.BILLING_CLERK))]
Finance = Annotated[Staff, Depends(require_roles(*_STAFF))]
Approver = Annotated[Staff, Depends(require_roles(Role.MANAGER, Role.GENERAL_MANAGER))]
Reader = Annotated[Staff, Depends(require_roles(*_STAFF, read=True))]
Number = Annotated[str, Path(min_length=1, max_length=30)]
Format = Annotated[str, Query(pattern="^(json|csv)$")]


def _settings(request: Request) -> BillingSettings:
    settings = request.app.state.runtime.settings.service
    assert isinstance(settings, BillingSettings)
    return settings


Settings = Annotated[BillingSettings, Depends(_settings)]


def _csv_or_json(rows: list[dict[str, Any]], columns: list[str], fmt: str, name: str) -> Any:
    if fmt == "csv":
        return Response(
            reports.as_csv(rows, columns),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
        )
    return rows


# Prices and contracts


@router.get("/prices", summary="The price list (every price with its start date)")
async def list_prices(
    uow: UnitOfWorkDep, _: Reader, item: PriceItem | None = None
) -> list[PriceRead]:
    return [PriceRead.model_validate(r) for r in await pricing.list_prices(uow, item)]


@router.post("/prices", status_code=201, summary="A new price from a date on")
async def add_price(
    body: PriceCreate, uow: UnitOfWorkDep, staff: Finance, settings: Settings
) -> PriceRead:
    async def work() -> PriceRead:
        key = pricing.price_key(body.item, body.product_line, body.service_type, body.part_no)
        row = await pricing.add_price(
            uow, body.item, key, body.amount, body.effective_from, settings.currency, staff.subject
        )
        return PriceRead.model_validate(row)

    return await answer(work())


@router.get("/contracts", summary="Maintenance contracts (category B)")
async def list_contracts(
    uow: UnitOfWorkDep, _: Reader, customer_id: str | None = None
) -> list[ContractRead]:
    return [ContractRead.model_validate(r) for r in await pricing.list_contracts(uow, customer_id)]


@router.post("/contracts", status_code=201, summary="Record a maintenance contract")
async def create_contract(
    body: ContractCreate, uow: UnitOfWorkDep, staff: Finance, settings: Settings
) -> ContractRead:
    row = await answer(
        pricing.create_contract(
            uow,
            body.customer_id,
            body.customer_name,
            body.serial_nos,
            body.covers,
            body.valid_from,
            body.valid_to,
            body.fee,
            settings.currency,
            staff.subject,
        )
    )
    return ContractRead.model_validate(row)


@router.post(
    "/contracts/{contract_no}/invoice", status_code=201, summary="Invoice a contract's fee (once)"
)
async def invoice_contract(
    contract_no: Number, uow: UnitOfWorkDep, _: Finance, settings: Settings
) -> InvoiceRead:
    invoice = await answer(pricing.invoice_contract_fee(uow, settings, contract_no))
    return _invoice_read(invoice)


# Quotes


async def _quote_read(uow: UnitOfWorkDep, quote_no: str) -> QuoteRead:
    async with uow:
        quote = await quotes.get_quote(uow, quote_no)
        lines = await documents.document_lines(uow, quote_no)
    read = QuoteRead.model_validate(quote)
    read.lines = [LineRead.model_validate(x) for x in lines]
    return read


@router.post("/quotes", status_code=201, summary="Quote paid work (discounts wait for approval)")
async def create_quote(
    body: QuoteCreate, uow: UnitOfWorkDep, staff: Clerk, settings: Settings
) -> QuoteRead:
    inputs = [
        QuoteLineInput(x.kind, x.quantity, x.description, x.part_no, x.unit_price)
        for x in body.lines
    ]
    quote = await answer(
        quotes.create_quote(uow, settings, body.request_no, inputs, staff.subject, body.note)
    )
    return await answer(_quote_read(uow, quote.quote_no))


@router.get("/quotes", summary="Quotes, e.g. those awaiting approval")
async def list_quotes(
    uow: UnitOfWorkDep,
    _: Reader,
    status: QuoteStatus | None = None,
    request_no: str | None = None,
) -> list[QuoteRead]:
    return [QuoteRead.model_validate(q) for q in await quotes.list_quotes(uow, status, request_no)]


@router.get("/quotes/{quote_no}", summary="A quote with its lines")
async def get_quote(quote_no: Number, uow: UnitOfWorkDep, _: Reader) -> QuoteRead:
    return await answer(_quote_read(uow, quote_no))


@router.post("/quotes/{quote_no}/approve", summary="Approve a discount (manager / general manager)")
async def approve_quote(quote_no: Number, uow: UnitOfWorkDep, staff: Approver) -> QuoteRead:
    await answer(quotes.decide_approval(uow, quote_no, True, staff.subject, list(staff.roles)))
    return await answer(_quote_read(uow, quote_no))


@router.post("/quotes/{quote_no}/refuse", summary="Refuse a discount")
async def refuse_quote(quote_no: Number, uow: UnitOfWorkDep, staff: Approver) -> QuoteRead:
    await answer(quotes.decide_approval(uow, quote_no, False, staff.subject, list(staff.roles)))
    return await answer(_quote_read(uow, quote_no))


@router.post("/quotes/{quote_no}/accept", summary="The customer accepted")
async def accept_quote(
    quote_no: Number, uow: UnitOfWorkDep, _: Clerk, settings: Settings
) -> QuoteRead:
    await answer(quotes.answer_quote(uow, settings, quote_no, True))
    return await answer(_quote_read(uow, quote_no))


@router.post("/quotes/{quote_no}/decline", summary="The customer declined (call-out fee only)")
async def decline_quote(
    quote_no: Number, body: QuoteDecline, uow: UnitOfWorkDep, _: Clerk, settings: Settings
) -> QuoteRead:
    await answer(quotes.answer_quote(uow, settings, quote_no, False, body.reason))
    return await answer(_quote_read(uow, quote_no))


# Invoices, credit notes, payments


def _invoice_read(row: InvoiceRow) -> InvoiceRead:
    return InvoiceRead.model_validate(
        {**{c: getattr(row, c) for c in InvoiceRead.model_fields if c != "outstanding"},
         "outstanding": documents.outstanding(row)}
    )  # fmt: skip


@router.get("/invoices", summary="Invoices, filtered")
async def list_invoices(
    uow: UnitOfWorkDep,
    _: Reader,
    bill_to_id: str | None = None,
    request_no: str | None = None,
    category: str | None = Query(None, pattern="^[AB]$"),
    open_only: bool = False,
    month: str | None = Query(None, pattern=r"^\d{4}-(0[1-9]|1[0-2])$"),
    after: str | None = Query(None, max_length=20, description="the last invoice number seen"),
    limit: int = Query(100, ge=1, le=1000),
) -> list[InvoiceRead]:
    async with uow:
        query = select(InvoiceRow).order_by(InvoiceRow.invoice_no)
        if after is not None:
            query = query.where(InvoiceRow.invoice_no > after)
        if bill_to_id is not None:
            query = query.where(InvoiceRow.bill_to_id == bill_to_id)
        if request_no is not None:
            query = query.where(InvoiceRow.request_no == request_no)
        if category is not None:
            query = query.where(InvoiceRow.category == category)
        if open_only:
            query = query.where(InvoiceRow.total - InvoiceRow.credited - InvoiceRow.paid > 0)
        if month is not None:
            start = datetime(int(month[:4]), int(month[5:]), 1, tzinfo=UTC)
            end = datetime(start.year + start.month // 12, start.month % 12 + 1, 1, tzinfo=UTC)
            query = query.where(InvoiceRow.issued_at >= start, InvoiceRow.issued_at < end)
        rows = list((await uow.session.execute(query.limit(limit))).scalars())
    return [_invoice_read(r) for r in rows]


@router.get("/invoices/{invoice_no}", summary="An invoice with lines, credit notes, payments")
async def get_invoice(invoice_no: Number, uow: UnitOfWorkDep, _: Reader) -> InvoiceDetail:
    async def work() -> InvoiceDetail:
        async with uow:
            invoice = await documents.get_invoice(uow, invoice_no)
            lines = await documents.document_lines(uow, invoice_no)
            notes = (
                await uow.session.execute(
                    select(CreditNoteRow).where(CreditNoteRow.invoice_no == invoice_no)
                )
            ).scalars()
            allocations = (
                await uow.session.execute(
                    select(AllocationRow).where(AllocationRow.invoice_no == invoice_no)
                )
            ).scalars()
            return InvoiceDetail(
                **_invoice_read(invoice).model_dump(),
                lines=[LineRead.model_validate(x) for x in lines],
                credit_notes=[CreditNoteRead.model_validate(x) for x in notes],
                allocations=[AllocationRead.model_validate(x) for x in allocations],
            )

    return await answer(work())


@router.post(
    "/invoices/{invoice_no}/credit-notes", status_code=201, summary="Correct an issued invoice"
)
async def credit_invoice(
    invoice_no: Number, body: CreditNoteCreate, uow: UnitOfWorkDep, staff: Finance
) -> CreditNoteRead:
    note = await answer(
        documents.issue_credit_note(uow, invoice_no, body.amount, body.reason, staff.subject)
    )
    return CreditNoteRead.model_validate(note)


@router.post("/payments", status_code=201, summary="Record a payment or an on-site collection")
async def receive_payment(
    body: PaymentCreate, uow: UnitOfWorkDep, staff: Finance, settings: Settings
) -> PaymentRead:
    payment, allocations = await answer(
        documents.receive_payment(
            uow,
            customer_id=body.customer_id,
            amount=body.amount,
            method=body.method,
            currency=settings.currency,
            actor=staff.subject,
            invoice_no=body.invoice_no,
            request_no=body.request_no,
        )
    )
    read = PaymentRead.model_validate(payment)
    read.allocations = [AllocationRead.model_validate(a) for a in allocations]
    return read


@router.get("/payments", summary="Payments and receipts")
async def list_payments(
    uow: UnitOfWorkDep, _: Reader, customer_id: str | None = None
) -> list[PaymentRead]:
    async with uow:
        query = select(PaymentRow).order_by(PaymentRow.received_at, PaymentRow.payment_no)
        if customer_id is not None:
            query = query.where(PaymentRow.customer_id == customer_id)
        return [PaymentRead.model_validate(p) for p in (await uow.session.execute(query)).scalars()]


@router.get("/customers/{customer_id}/balance", summary="What a customer owes, and its credit")
async def customer_balance(customer_id: Number, uow: UnitOfWorkDep, _: Reader) -> BalanceRead:
    owed, credit = await documents.customer_balance(uow, customer_id)
    return BalanceRead(customer_id=customer_id, owed=owed, credit=credit, outstanding=owed - credit)


# Requests and the cost ledger


@router.get("/requests", summary="Requests billing knows, e.g. those waiting for a claim")
async def list_requests(
    uow: UnitOfWorkDep,
    _: Reader,
    category: str | None = Query(None, pattern="^([ABCD]|none)$", description="none: undecided"),
    settled: bool | None = None,
    limit: int = Query(100, ge=1, le=1000),
) -> list[RequestRead]:
    async with uow:
        query = select(BillingRequestRow).order_by(BillingRequestRow.request_no).limit(limit)
        if category == "none":
            query = query.where(BillingRequestRow.category.is_(None))
        elif category is not None:
            query = query.where(BillingRequestRow.category == category)
        if settled is not None:
            column = BillingRequestRow.settled_at
            query = query.where(column.is_not(None) if settled else column.is_(None))
        rows = (await uow.session.execute(query)).scalars()
        return [RequestRead.model_validate(r) for r in rows]


@router.get("/requests/{request_no}", summary="Billing's view of a request: category, costs")
async def get_request(request_no: Number, uow: UnitOfWorkDep, _: Reader) -> RequestRead:
    summary = await answer(request_summary(uow, request_no))
    read = RequestRead.model_validate(summary["request"])
    read.invoices = summary["invoices"]
    read.costs = [CostRead.model_validate(c) for c in summary["costs"]]
    read.total_cost = sum((c.amount for c in read.costs), read.total_cost)
    return read


@router.post(
    "/requests/{request_no}/internal", summary="Declare the company's own work (category D)"
)
async def declare_internal(
    request_no: Number, uow: UnitOfWorkDep, staff: Approver, settings: Settings
) -> RequestRead:
    await answer(mark_internal(uow, settings, request_no, staff.subject))
    return await get_request(request_no, uow, staff)


@router.post(
    "/requests/{request_no}/costs", status_code=201, summary="Book another cost of a request"
)
async def add_other_cost(
    request_no: Number,
    body: OtherCostCreate,
    uow: UnitOfWorkDep,
    staff: Finance,
    settings: Settings,
) -> CostRead:
    row = await answer(
        record_other_cost(uow, settings, request_no, body.description, body.amount, staff.subject)
    )
    return CostRead.model_validate(row)


# Dealers and suppliers


def _statement_read(row: DealerStatementRow) -> StatementRead:
    read = StatementRead.model_validate(row)
    read.outstanding = row.total - row.paid
    return read


@router.get("/dealer-statements", summary="Dealers' reimbursement statements (payables)")
async def list_statements(
    uow: UnitOfWorkDep,
    _: Reader,
    dealer_id: str | None = None,
    status: str | None = Query(None, pattern="^(issued|partly_paid|paid)$"),
) -> list[StatementRead]:
    rows = await settlements.list_statements(uow, dealer_id, status)
    return [_statement_read(r) for r in rows]


@router.post(
    "/dealer-statements/{statement_no}/payment",
    status_code=201,
    summary="Pay a dealer's statement, in full or in part (issued → partly_paid → paid)",
)
async def pay_statement(
    statement_no: Number, body: DealerPaymentCreate, uow: UnitOfWorkDep, staff: Clerk
) -> DealerPaymentRead:
    row = await answer(
        settlements.pay_dealer_statement(
            uow, statement_no, body.method, body.bank_reference, staff.subject, body.amount
        )
    )
    return DealerPaymentRead.model_validate(row)


@router.get("/dealer-statements/{statement_no}/payment", summary="A statement's latest payment")
async def get_statement_payment(
    statement_no: Number, uow: UnitOfWorkDep, _: Reader
) -> DealerPaymentRead:
    rows = await settlements.dealer_payments(uow, statement_no)
    if not rows:
        raise Problem(404, "Not Found", f"No payment of dealer statement {statement_no}.")
    return DealerPaymentRead.model_validate(rows[-1])


@router.get("/dealer-statements/{statement_no}/payments", summary="A statement's payments")
async def list_statement_payments(
    statement_no: Number, uow: UnitOfWorkDep, _: Reader
) -> list[DealerPaymentRead]:
    rows = await settlements.dealer_payments(uow, statement_no)
    return [DealerPaymentRead.model_validate(r) for r in rows]


@router.get("/supplier-chargebacks", summary="Chargebacks and deductions to suppliers")
async def list_chargebacks(
    uow: UnitOfWorkDep, _: Reader, supplier_id: str | None = None
) -> list[ChargebackRead]:
    rows = await settlements.list_chargebacks(uow, supplier_id)
    return [ChargebackRead.model_validate(r) for r in rows]


@router.get("/supplier-recoveries", summary="Recoveries expected: pending, disputed, final")
async def list_recoveries(
    uow: UnitOfWorkDep,
    _: Reader,
    status: str | None = Query(None, pattern="^(pending|disputed|final)$"),
) -> list[RecoveryRead]:
    rows = await settlements.list_recoveries(uow, status)
    return [RecoveryRead.model_validate(r) for r in rows]


@router.get(
    "/supplier-adjustments", summary="Recoveries withdrawn or corrected after being charged"
)
async def list_adjustments(
    uow: UnitOfWorkDep, _: Reader, supplier_id: str | None = None
) -> list[AdjustmentRead]:
    rows = await settlements.list_adjustments(uow, supplier_id)
    return [AdjustmentRead.model_validate(r) for r in rows]


_PAYABLES_COLUMNS = [
    "supplier_id",
    "currency",
    "invoiced",
    "paid",
    "deducted",
    "balance",
    "last_entry_on",
]
_ENTRY_COLUMNS = [
    "entry_no",
    "kind",
    "reference",
    "description",
    "amount",
    "currency",
    "document_date",
    "entered_by",
    "occurred_at",
]


@router.get(
    "/supplier-payables",
    summary="What the company owes each supplier (CSV: /reports/supplier-payables)",
)
async def list_supplier_payables(uow: UnitOfWorkDep, _: Reader) -> list[SupplierPayablesRead]:
    rows = await supplier_payables.balances(uow)
    return [SupplierPayablesRead.model_validate(r) for r in rows]


@router.get(
    "/supplier-payables/{supplier_id}",
    summary="A supplier's payables ledger: balance and every entry (CSV: the entries)",
)
async def get_supplier_payables(
    supplier_id: Number, uow: UnitOfWorkDep, _: Reader, format: Format = "json"
) -> Any:
    entries = await answer(supplier_payables.supplier_entries(uow, supplier_id))
    if format == "csv":
        rows = [{c: getattr(e, c) for c in _ENTRY_COLUMNS} for e in entries]
        return _csv_or_json(rows, _ENTRY_COLUMNS, format, f"supplier-payables-{supplier_id}")
    balances = [b for b in await supplier_payables.balances(uow) if b["supplier_id"] == supplier_id]
    return SupplierLedgerRead(
        supplier_id=supplier_id,
        balances=[SupplierPayablesRead.model_validate(b) for b in balances],
        entries=[SupplierEntryRead.model_validate(e) for e in entries],
    )


@router.post(
    "/supplier-payables/{supplier_id}/invoices",
    status_code=201,
    summary="Enter a supplier's invoice for parts (the company owes it more)",
)
async def record_supplier_invoice(
    supplier_id: Number,
    body: SupplierInvoiceCreate,
    uow: UnitOfWorkDep,
    staff: Finance,
    settings: Settings,
) -> SupplierEntryRead:
    row = await answer(
        supplier_payables.record_supplier_invoice(
            uow,
            supplier_id=supplier_id,
            invoice_no=body.invoice_no,
            amount=body.amount,
            invoice_date=body.invoice_date,
            description=body.description,
            currency=settings.currency,
            actor=staff.subject,
        )
    )
    return SupplierEntryRead.model_validate(row)


@router.post(
    "/supplier-payables/{supplier_id}/payments",
    status_code=201,
    summary="Record a payment to a supplier (never more than is owed)",
)
async def pay_supplier(
    supplier_id: Number,
    body: SupplierPaymentCreate,
    uow: UnitOfWorkDep,
    staff: Finance,
    settings: Settings,
) -> SupplierEntryRead:
    row = await answer(
        supplier_payables.pay_supplier(
            uow,
            supplier_id=supplier_id,
            amount=body.amount,
            method=body.method,
            bank_reference=body.bank_reference,
            currency=settings.currency,
            actor=staff.subject,
        )
    )
    return SupplierEntryRead.model_validate(row)


# Reports


@router.put("/sales/{month}", summary="Enter a month's sales (for the cost share)")
async def enter_sales(
    month: Annotated[str, Path(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")],
    body: SalesEntry,
    uow: UnitOfWorkDep,
    staff: Finance,
    settings: Settings,
) -> SalesRead:
    row = await reports.enter_sales(uow, month, body.amount, settings.currency, staff.subject)
    return SalesRead.model_validate(row)


@router.get("/reports/revenue-and-cost", summary="Revenue and cost by a dimension (CSV too)")
async def revenue_and_cost(
    uow: UnitOfWorkDep, _: Reader, by: reports.Dimension, format: Format = "json"
) -> Any:
    rows = await reports.revenue_and_cost(uow, by)
    return _csv_or_json(rows, ["key", "revenue", "cost"], format, f"revenue-and-cost-by-{by}")


@router.get("/reports/cost-share", summary="After-sales cost as a share of sales vs the target")
async def cost_share(
    uow: UnitOfWorkDep, _: Reader, settings: Settings, format: Format = "json"
) -> Any:
    rows = await reports.cost_share(uow, settings.cost_share_target_percent)
    columns = ["month", "sales", "cost", "share_percent", "target_percent", "within_target"]
    return _csv_or_json(rows, columns, format, "cost-share")


@router.get("/reports/payables", summary="Open payables to dealers (statements not paid)")
async def payables(uow: UnitOfWorkDep, _: Reader, format: Format = "json") -> Any:
    rows = await settlements.open_payables(uow)
    columns = ["dealer_id", "currency", "statements", "owed", "oldest_period"]
    return _csv_or_json(rows, columns, format, "payables")


@router.get("/reports/supplier-payables", summary="What the company owes suppliers (CSV too)")
async def supplier_payables_report(uow: UnitOfWorkDep, _: Reader, format: Format = "json") -> Any:
    rows = await supplier_payables.balances(uow)
    return _csv_or_json(rows, _PAYABLES_COLUMNS, format, "supplier-payables")


@router.get("/reports/receivables", summary="Open receivables per customer (and supplier)")
async def receivables(uow: UnitOfWorkDep, _: Reader, format: Format = "json") -> Any:
    rows = await reports.open_receivables(uow)
    columns = [
        "customer_id",
        "customer_name",
        "owed",
        "credit",
        "outstanding",
        "oldest_open_invoice",
        "bill_to",
    ]
    return _csv_or_json(rows, columns, format, "receivables")
