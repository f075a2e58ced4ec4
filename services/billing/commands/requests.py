"""Billing's view of a request, fed by other services' events, and what follows from it:
the cost ledger, the category, the invoice on completion, settlement."""

from __future__ import annotations

import uuid
from dataclasses import asdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select

from services.billing import metrics
from services.billing.commands.documents import (
    credit_invoice,
    issue_invoice,
    reopen_settled,
    save_lines,
    settle_if_owed_nothing,
)
from services.billing.commands.errors import Conflict, NotFound
from services.billing.commands.numbers import next_number
from services.billing.commands.pricing import contract_covering, standard_prices
from services.billing.db.models import (
    BillingRequestRow,
    CostEntryRow,
    DocumentLineRow,
    InvoiceRow,
    QuoteRow,
)
from services.billing.domain.categories import (
    Category,
    ClaimDecision,
    ClaimLine,
    ClaimOutcome,
    Classification,
    WorkFacts,
    classify,
)
from services.billing.domain.money import FEN, ZERO, LineKind, PricedLine, line, to_fen, totals
from services.billing.domain.pricing import PriceItem
from services.billing.domain.quotes import Approval, QuoteStatus
from services.billing.domain.receivables import Correction, correct_billing
from services.billing.settings import BillingSettings
from shared.db.unit_of_work import UnitOfWork
from shared.events.schemas.billing import QuoteIssuedV1

# Who made a quote billing issued itself after a claim decision.
CLAIM_QUOTE_BY = "billing:claim-decision"


async def request_view(uow: UnitOfWork, request_no: str) -> BillingRequestRow:
    """The request's row, locked, created empty if billing hears of it first from a later
    event (events arrive in any order)."""
    row = await uow.session.get(BillingRequestRow, request_no, with_for_update=True)
    if row is None:
        row = BillingRequestRow(request_no=request_no)
        uow.session.add(row)
        await uow.session.flush()
    return row


async def find_request(uow: UnitOfWork, request_no: str, lock: bool = False) -> BillingRequestRow:
    row = await uow.session.get(BillingRequestRow, request_no, with_for_update=lock)
    if row is None:
        raise NotFound(f"request {request_no} known to billing")
    return row


def customer_key(row: BillingRequestRow) -> str | None:
    if row.customer_id:
        return row.customer_id
    return f"name:{row.customer_name}" if row.customer_name else None


def work_day(row: BillingRequestRow) -> date:
    """The day the work was done (a job's completion, a workshop's repair), else today:
    the prices and contracts of that day apply."""
    return (row.completed_at or row.return_repaired_at or datetime.now(UTC)).date()


async def book_cost(
    uow: UnitOfWork,
    settings: BillingSettings,
    *,
    source_key: str,
    request_no: str,
    kind: LineKind,
    description: str,
    quantity: Decimal,
    unit_cost: Decimal,
    occurred_at: datetime,
    supplier_id: str | None = None,
) -> None:
    """A cost ledger entry, once per ``source_key`` however often its event arrives."""
    found = await uow.session.execute(
        select(CostEntryRow.id).where(CostEntryRow.source_key == source_key)
    )
    if found.first() is not None:
        return
    uow.session.add(
        CostEntryRow(
            source_key=source_key,
            request_no=request_no,
            kind=kind.value,
            description=description[:300],
            quantity=quantity,
            unit_cost=unit_cost,
            amount=to_fen(quantity * unit_cost),
            supplier_id=supplier_id,
            currency=settings.currency,
            occurred_at=occurred_at,
        )
    )


async def book_declined_visit(
    uow: UnitOfWork, settings: BillingSettings, row: BillingRequestRow
) -> None:
    """The technician went and diagnosed, the customer declined the quote, the job was
    cancelled: no completion will report the visit, so its cost is booked from what billing
    heard (arrival, diagnosis, the service point) and the settings. Once per request."""
    if row.completed_at is not None or row.return_no is not None:
        return  # the completion (or the workshop's repair) reports the real work
    visited = row.diagnosed_at or row.arrived_at
    if visited is None:
        return  # declined before anyone set off: nothing was spent
    # A visit costs at least the standard diagnosis time: a diagnosis typed in the minute the
    # technician arrived was still made on site.
    minutes = Decimal(settings.diagnosis_minutes)
    arrived, diagnosed = row.arrived_at, row.diagnosed_at
    if arrived is not None and diagnosed is not None and diagnosed > arrived:
        minutes = max(minutes, Decimal((diagnosed - arrived).total_seconds()) / 60)
    hours = (minutes / 60).quantize(Decimal("0.001"))
    diagnosis = f"visit:{row.request_no}:diagnosis"
    booked = await uow.session.scalar(
        select(func.coalesce(func.sum(CostEntryRow.quantity), 0)).where(
            CostEntryRow.source_key.startswith(diagnosis, autoescape=True)
        )
    )
    # SQLite sums NUMERIC as a float: back to the ledger's precision.
    booked = Decimal(str(booked)).quantize(Decimal("0.001"))
    if booked == 0 and hours > 0:
        await book_cost(
            uow,
            settings,
            source_key=diagnosis,
            request_no=row.request_no,
            kind=LineKind.LABOUR,
            description="diagnosis (quote declined)",
            quantity=hours,
            unit_cost=settings.internal_labour_rate,
            occurred_at=visited,
        )
    elif hours > booked:
        # The ledger is append-only: a diagnosis heard after the visit was costed at the
        # standard time adds what the measured time exceeds it by, as its own entry (keyed
        # by the hours it brings the visit to, so a replay books nothing). A visit's cost
        # never shrinks: the time first measured was spent.
        await book_cost(
            uow,
            settings,
            source_key=f"{diagnosis}:to:{hours}",
            request_no=row.request_no,
            kind=LineKind.LABOUR,
            description=f"diagnosis correction (quote declined): {booked} h → {hours} h",
            quantity=hours - booked,
            unit_cost=settings.internal_labour_rate,
            occurred_at=visited,
        )
    km = settings.service_point_travel_km.get(row.service_point_id or "")
    if km:
        await book_cost(
            uow,
            settings,
            source_key=f"visit:{row.request_no}:travel",
            request_no=row.request_no,
            kind=LineKind.TRAVEL,
            description=f"travel (km, standard for {row.service_point_id})",
            quantity=km,
            unit_cost=settings.internal_travel_per_km,
            occurred_at=visited,
        )


async def book_visit_if_declined(
    uow: UnitOfWork, settings: BillingSettings, row: BillingRequestRow
) -> None:
    """Dispatch's report of the visit may arrive after the customer declined."""
    declined = await uow.session.execute(
        select(QuoteRow.quote_no)
        .where(
            QuoteRow.request_no == row.request_no,
            QuoteRow.status.in_([QuoteStatus.DECLINED.value, QuoteStatus.EXPIRED.value]),
        )
        .limit(1)
    )
    if declined.first() is not None and await _accepted_quote(uow, row.request_no) is None:
        await book_declined_visit(uow, settings, row)


def claim_of(row: BillingRequestRow) -> ClaimDecision | None:
    if row.claim_outcome is None:
        return None
    lines = tuple(
        ClaimLine(
            kind=item["kind"],
            description=item["description"],
            part_no=item.get("part_no"),
            quantity=Decimal(item["quantity"]),
            amount_claimed=Decimal(item["amount_claimed"]),
            amount_approved=Decimal(item["amount_approved"]),
        )
        for item in row.claim_lines or []
    )
    return ClaimDecision(ClaimOutcome(row.claim_outcome), row.claim_source or "job", lines)


def claim_lines_json(lines: list[ClaimLine]) -> list[dict[str, Any]]:
    return [
        {k: str(v) if isinstance(v, Decimal) else v for k, v in asdict(x).items()} for x in lines
    ]


async def classification(uow: UnitOfWork, row: BillingRequestRow) -> Classification:
    on = work_day(row)
    contract = await contract_covering(uow, row.customer_id, row.serial_no, on)
    facts = WorkFacts(
        in_warranty=row.in_warranty,
        cause=row.cause,
        under_contract=contract is not None,
        internal=row.internal,
        claim=claim_of(row),
    )
    return classify(facts)


async def _work_done(uow: UnitOfWork, row: BillingRequestRow) -> bool:
    if row.return_no is None:
        return row.completed_at is not None
    # A unit shipped in for repair is billed once it has gone back to the customer. A
    # workshop repair has no dispatch job: intake reports its work (return.repaired);
    # without that report the accepted quote says what the customer pays, and warranty
    # work waits for its claim anyway.
    if row.return_shipped_at is None:
        return False
    if row.completed_at is not None or row.return_repaired_at is not None or row.in_warranty:
        return True
    return await _accepted_quote(uow, row.request_no) is not None


async def bill_when_ready(
    uow: UnitOfWork, settings: BillingSettings, row: BillingRequestRow
) -> None:
    """Called after every fact billing learns about a request; does each thing once: fixes
    the category, issues the invoice of A and B work, settles what owes nothing."""
    if row.settled_at is not None or row.invoice_no is not None or row.cancelled_at:
        return
    if row.claim_source == "dealer_report" and row.claim_outcome is not None:
        # The dealer did the work and bills its own customer; billing reimburses the dealer
        # (statements) and records the category.
        result = await classification(uow, row)
        row.category, row.category_reason = result.category, result.reason
        await settle_if_owed_nothing(uow, row, settings.currency)
        return
    if not await _work_done(uow, row):
        return
    result = await classification(uow, row)
    row.category, row.category_reason = (
        (result.category.value if result.category else None),
        result.reason,
    )
    if result.category is None:
        return  # a claim decision will come
    if not result.customer_invoice:
        await _void_claim_quotes(uow, row.request_no)  # a ruling made the work free again
        await settle_if_owed_nothing(uow, row, settings.currency)
        return
    lines = await _customer_lines(uow, settings, row, result)
    quote = await _accepted_quote(uow, row.request_no)
    if not lines or sum(x.total for x in lines) <= 0:
        await _void_claim_quotes(uow, row.request_no)
        await settle_if_owed_nothing(uow, row, settings.currency)
        return
    if row.in_warranty and quote is None and row.claim_source != "return":
        # The customer expected free warranty work: it pays only what it agrees to. A unit
        # shipped in is repaired on the return procedure's terms (the customer pays for
        # misuse, DOMAIN §5), so a return found misused is invoiced without a quote.
        await quote_for_claim_decision(uow, settings, row, lines)
        return
    invoice = await issue_invoice(
        uow,
        source_key=f"request:{row.request_no}",
        lines=lines,
        category=result.category.value,
        bill_to="customer",
        bill_to_id=customer_key(row),
        bill_to_name=row.customer_name,
        currency=settings.currency,
        request_no=row.request_no,
        quote_no=(
            quote.quote_no
            if quote is not None
            and (quote.created_by == CLAIM_QUOTE_BY or not result.customer_lines)
            else None
        ),
    )
    row.invoice_no = invoice.invoice_no
    await settle_if_owed_nothing(uow, row, settings.currency)


async def correct_after_claim(
    uow: UnitOfWork, settings: BillingSettings, row: BillingRequestRow
) -> None:
    """A claim decided after the work was already invoiced or settled (the warranty was not
    known, or a ruling changed the first decision). An issued invoice is never edited: a
    lower amount is a credit note; a higher one is a quote for the now-paid work, which
    the customer accepts (a new invoice replaces the old one) or declines (the old invoice,
    or only the call-out fee, stands)."""
    if row.invoice_no is None and row.settled_at is None:
        return
    if row.cancelled_at is not None or row.claim_source == "dealer_report":
        return
    invoice = None
    if row.invoice_no is not None:
        invoice = await uow.session.get(InvoiceRow, row.invoice_no, with_for_update=True)
        if invoice is None or invoice.source_key.startswith("declined:"):
            return  # the customer declined the work and pays only the call-out fee
    result = await classification(uow, row)
    if result.category is None:
        return
    if result.customer_invoice:
        lines = await _customer_lines(uow, settings, row, result, agreed=False)
    else:
        lines = []
    now_owed = totals(lines).total
    billed = invoice.total - invoice.credited if invoice is not None else ZERO
    row.category, row.category_reason = result.category.value, result.reason
    await _void_claim_quotes(uow, row.request_no)
    correction, difference = correct_billing(billed, now_owed)
    if correction is Correction.CREDIT and invoice is not None:
        reopen_settled(row)
        await credit_invoice(
            uow, invoice, difference, f"claim decision: {result.reason}", "billing"
        )
        await settle_if_owed_nothing(uow, row, settings.currency)
    elif correction is Correction.QUOTE:
        await quote_for_claim_decision(uow, settings, row, lines)


async def quote_for_claim_decision(
    uow: UnitOfWork, settings: BillingSettings, row: BillingRequestRow, lines: list[PricedLine]
) -> QuoteRow | None:
    """Billing's own quote for work a claim decision made the customer's: at the prices
    billed (no discount, so no approval), once while one is open. A later ruling that
    changes the amount voids billing's open quote and issues another; a clerk's open quote
    stands."""
    amounts = totals(lines)
    waiting = await uow.session.execute(
        select(QuoteRow).where(
            QuoteRow.request_no == row.request_no,
            QuoteRow.status.in_([QuoteStatus.ISSUED.value, QuoteStatus.AWAITING_APPROVAL.value]),
        )
    )
    for open_quote in waiting.scalars():
        if open_quote.created_by != CLAIM_QUOTE_BY or open_quote.total == amounts.total:
            return None
        open_quote.status = QuoteStatus.VOID.value
    now = datetime.now(UTC)
    prices = await standard_prices(uow, now.date())
    quote = QuoteRow(
        quote_no=await next_number(uow, "QT", now),
        request_no=row.request_no,
        status=QuoteStatus.ISSUED.value,
        approval=Approval.NONE.value,
        net=amounts.net,
        tax=amounts.tax,
        total=amounts.total,
        call_out_fee=prices.unit_price(LineKind.CALL_OUT, None, None, None) or ZERO,
        currency=settings.currency,
        valid_until=now + timedelta(days=settings.quote_valid_days),
        created_by=CLAIM_QUOTE_BY,
        created_at=now,
        issued_at=now,
        note=f"claim decision: {row.category_reason}",
    )
    uow.session.add(quote)
    await save_lines(uow, quote.quote_no, lines)
    await uow.publish(
        QuoteIssuedV1(
            quote_no=quote.quote_no,
            request_no=row.request_no,
            total=quote.total,
            currency=quote.currency,
            valid_until=quote.valid_until,
            issued_at=now,
        )
    )
    metrics.once_committed(uow.session, metrics.DOCUMENTS.labels("quote").inc)
    return quote


async def _void_claim_quotes(uow: UnitOfWork, request_no: str) -> None:
    """A later ruling replaces the quote made for the earlier decision."""
    rows = await uow.session.execute(
        select(QuoteRow).where(
            QuoteRow.request_no == request_no,
            QuoteRow.created_by == CLAIM_QUOTE_BY,
            QuoteRow.status == QuoteStatus.ISSUED.value,
        )
    )
    for quote in rows.scalars():
        quote.status = QuoteStatus.VOID.value


async def bill_accepted_quote(
    uow: UnitOfWork, settings: BillingSettings, row: BillingRequestRow, quote: QuoteRow
) -> None:
    """After the customer accepts: normally the work is invoiced on completion (now, if it
    is done). A quote made after the request was invoiced or settled replaces what was
    billed: the old invoice is credited for what is left of it (its payments become
    credit) and a new invoice is issued at the quote."""
    if row.invoice_no is None and row.settled_at is None:
        await bill_when_ready(uow, settings, row)
        return
    if quote.created_by != CLAIM_QUOTE_BY:
        return
    reopen_settled(row)
    if row.invoice_no is not None:
        old = await uow.session.get(InvoiceRow, row.invoice_no, with_for_update=True)
        if old is not None and old.total - old.credited > ZERO:
            await credit_invoice(
                uow, old, old.total - old.credited, f"replaced by quote {quote.quote_no}", "billing"
            )
    invoice = await issue_invoice(
        uow,
        source_key=f"quote:{quote.quote_no}",
        lines=await _accepted_quote_lines(uow, settings, row.request_no) or [],
        category=row.category or Category.PAID.value,
        bill_to="customer",
        bill_to_id=customer_key(row),
        bill_to_name=row.customer_name,
        currency=quote.currency,
        request_no=row.request_no,
        quote_no=quote.quote_no,
    )
    row.invoice_no = invoice.invoice_no
    # The customer's credit (the old invoice's payments) may have paid it already.
    await settle_if_owed_nothing(uow, row, quote.currency)


async def _customer_lines(
    uow: UnitOfWork,
    settings: BillingSettings,
    row: BillingRequestRow,
    result: Classification,
    agreed: bool = True,
) -> list[PricedLine]:
    """What the customer is invoiced: under a contract, less what the contract covers.
    ``agreed`` False: what the claim decision alone says, whatever quote was accepted."""
    lines = await _invoice_lines(uow, settings, row, result, agreed)
    if result.category is Category.CONTRACT:
        contract = await contract_covering(uow, row.customer_id, row.serial_no, work_day(row))
        covered = set(contract.covers) if contract is not None else set()
        lines = [x for x in lines if x.kind.value not in covered]
    return lines


async def _accepted_quote(uow: UnitOfWork, request_no: str) -> QuoteRow | None:
    """The latest accepted one (after a ruling the customer may accept a second)."""
    query = (
        select(QuoteRow)
        .where(QuoteRow.request_no == request_no, QuoteRow.status == QuoteStatus.ACCEPTED.value)
        .order_by(QuoteRow.created_at.desc(), QuoteRow.quote_no.desc())
        .limit(1)
    )
    return (await uow.session.execute(query)).scalar_one_or_none()


async def _accepted_quote_lines(
    uow: UnitOfWork, settings: BillingSettings, request_no: str
) -> list[PricedLine] | None:
    quote = await _accepted_quote(uow, request_no)
    if quote is None:
        return None
    rows = (
        await uow.session.execute(
            select(DocumentLineRow)
            .where(DocumentLineRow.document_no == quote.quote_no)
            .order_by(DocumentLineRow.line_no)
        )
    ).scalars()
    return [
        PricedLine(
            LineKind(r.kind),
            r.description,
            r.quantity,
            r.unit_price,
            r.tax_rate,
            r.standard_unit_price,
            r.part_no,
        )
        for r in rows
    ]


async def _invoice_lines(
    uow: UnitOfWork,
    settings: BillingSettings,
    row: BillingRequestRow,
    result: Classification,
    agreed: bool = True,
) -> list[PricedLine]:
    """Billing's own quote after a claim decision, as accepted; a partly approved claim
    bills what was not approved; otherwise the accepted quote (the price the customer
    agreed to); otherwise the work done at the prices in effect on the day of completion."""
    vat = settings.vat_rates()
    quote = await _accepted_quote(uow, row.request_no) if agreed else None
    if quote is not None and quote.created_by == CLAIM_QUOTE_BY:
        return await _accepted_quote_lines(uow, settings, row.request_no) or []
    if result.customer_lines:
        return [
            line(x.line_kind, f"{x.description}（保修未批准部分）", Decimal(1), x.not_approved, vat)
            for x in result.customer_lines
        ]
    lines = await _accepted_quote_lines(uow, settings, row.request_no) if agreed else None
    if lines is None:
        lines = await _work_lines(uow, settings, row)
    # Return-for-repair: the company pays the shipping of a quality problem, the customer
    # that of misuse (and of any other paid repair).
    if row.return_shipping_cost and row.cause != "quality_defect":
        lines.append(line(LineKind.OTHER, "返修运费", Decimal(1), row.return_shipping_cost, vat))
    return lines


async def _work_lines(
    uow: UnitOfWork, settings: BillingSettings, row: BillingRequestRow
) -> list[PricedLine]:
    vat = settings.vat_rates()
    prices = await standard_prices(uow, work_day(row))
    lines: list[PricedLine] = []
    hours = (Decimal(row.labour_minutes or 0) / 60).quantize(FEN)
    rate = prices.unit_price(LineKind.LABOUR, row.product_line, row.service_type, None)
    if hours > 0 and rate is not None:
        lines.append(line(LineKind.LABOUR, "工时", hours, rate, vat, rate))
    for used in row.parts_used or []:
        part_no = str(used["part_no"])
        price = prices.unit_price(LineKind.PARTS, None, None, part_no)
        if price is not None:
            quantity = Decimal(used["quantity"])
            lines.append(line(LineKind.PARTS, part_no, quantity, price, vat, price, part_no))
    km = row.travel_km or Decimal(0)
    per_km = prices.unit_price(LineKind.TRAVEL, None, None, None)
    if km > 0 and per_km is not None:
        lines.append(line(LineKind.TRAVEL, "路程（公里）", km, per_km, vat, per_km))
    flat = prices.flat(PriceItem.TRAVEL_FLAT)
    if km > 0 and flat is not None:
        lines.append(line(LineKind.TRAVEL, "上门费", Decimal(1), flat, vat, flat))
    return lines


async def request_summary(uow: UnitOfWork, request_no: str) -> dict[str, Any]:
    async with uow:
        row = await find_request(uow, request_no)
        invoices = (
            await uow.session.execute(select(InvoiceRow).where(InvoiceRow.request_no == request_no))
        ).scalars()
        costs = (
            await uow.session.execute(
                select(CostEntryRow)
                .where(CostEntryRow.request_no == request_no)
                .order_by(CostEntryRow.id)
            )
        ).scalars()
        return {
            "request": row,
            "invoices": [i.invoice_no for i in invoices],
            "costs": list(costs),
        }


async def record_other_cost(
    uow: UnitOfWork,
    settings: BillingSettings,
    request_no: str,
    description: str,
    amount: Decimal,
    actor: str,
) -> CostEntryRow:
    """A cost no event reports (e.g. a hired crane, tolls), booked by a clerk."""
    async with uow:
        await find_request(uow, request_no)
        now = datetime.now(UTC)
        key = f"manual:{request_no}:{uuid.uuid4().hex}"
        await book_cost(
            uow,
            settings,
            source_key=key,
            request_no=request_no,
            kind=LineKind.OTHER,
            description=f"{description} ({actor})"[:300],
            quantity=Decimal(1),
            unit_cost=amount,
            occurred_at=now,
        )
        await uow.session.flush()
        row = (
            await uow.session.execute(select(CostEntryRow).where(CostEntryRow.source_key == key))
        ).scalar_one()
        await uow.commit()
    return row


async def mark_internal(
    uow: UnitOfWork, settings: BillingSettings, request_no: str, actor: str
) -> BillingRequestRow:
    """A manager declares a request the company's own work (category D): costed, never
    billed. Too late once a customer invoice exists (correct that with a credit note)."""
    async with uow:
        row = await find_request(uow, request_no, lock=True)
        if row.invoice_no is not None:
            raise Conflict(f"Request {request_no} is already invoiced ({row.invoice_no}).")
        if row.settled_at is not None:
            raise Conflict(f"Request {request_no} is already settled as {row.category}.")
        row.internal, row.internal_by = True, actor
        await bill_when_ready(uow, settings, row)
        await uow.commit()
    return row
