"""Invoices, credit notes, payments and settlement: the receivables side of billing."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import func, select

from services.billing import metrics
from services.billing.commands.errors import Conflict, Invalid, NotFound
from services.billing.commands.numbers import next_number
from services.billing.db.models import (
    AllocationRow,
    BillingRequestRow,
    CostEntryRow,
    CreditNoteRow,
    DocumentLineRow,
    InvoiceRow,
    PaymentRow,
)
from services.billing.domain.money import ZERO, PricedLine, to_fen, totals
from services.billing.domain.receivables import (
    CreditRefused,
    OpenInvoice,
    allocate,
    check_credit,
)
from shared.db.unit_of_work import UnitOfWork
from shared.events.schemas.billing import (
    CreditNoteIssuedV1,
    InvoiceIssuedV1,
    PaymentReceivedV1,
    RequestSettledV1,
)

PAYMENT_METHODS = ("bank", "cash", "card", "on_site")


def outstanding(invoice: InvoiceRow) -> Decimal:
    return invoice.total - invoice.credited - invoice.paid


async def save_lines(uow: UnitOfWork, document_no: str, lines: Sequence[PricedLine]) -> None:
    for number, line in enumerate(lines, start=1):
        uow.session.add(
            DocumentLineRow(
                document_no=document_no,
                line_no=number,
                kind=line.kind.value,
                # Descriptions built from other services' words (a claim line's) may be long.
                description=line.description[:300],
                part_no=line.part_no,
                quantity=line.quantity,
                unit_price=line.unit_price,
                standard_unit_price=line.standard_unit_price,
                tax_rate=line.tax_rate,
                net=line.net,
                tax=line.tax,
                total=line.total,
            )
        )


async def document_lines(uow: UnitOfWork, document_no: str) -> list[DocumentLineRow]:
    query = (
        select(DocumentLineRow)
        .where(DocumentLineRow.document_no == document_no)
        .order_by(DocumentLineRow.line_no)
    )
    return list((await uow.session.execute(query)).scalars())


async def issue_invoice(
    uow: UnitOfWork,
    *,
    source_key: str,
    lines: Sequence[PricedLine],
    category: str,
    bill_to: str,
    bill_to_id: str | None,
    bill_to_name: str | None,
    currency: str,
    request_no: str | None = None,
    quote_no: str | None = None,
    at: datetime | None = None,
) -> InvoiceRow:
    """One invoice per ``source_key``: a replayed event finds the one already issued. The
    customer's unused credit (overpayment, collection on site) pays it at once."""
    existing = (
        await uow.session.execute(select(InvoiceRow).where(InvoiceRow.source_key == source_key))
    ).scalar_one_or_none()
    if existing is not None:
        return existing
    now = at or datetime.now(UTC)
    amounts = totals(lines)
    invoice = InvoiceRow(
        invoice_no=await next_number(uow, "INV", now),
        source_key=source_key,
        request_no=request_no,
        quote_no=quote_no,
        bill_to=bill_to,
        bill_to_id=bill_to_id,
        bill_to_name=bill_to_name,
        category=category,
        net=amounts.net,
        tax=amounts.tax,
        total=amounts.total,
        credited=ZERO,
        paid=ZERO,
        currency=currency,
        issued_at=now,
    )
    uow.session.add(invoice)
    await save_lines(uow, invoice.invoice_no, lines)
    await uow.publish(
        InvoiceIssuedV1(
            invoice_no=invoice.invoice_no,
            request_no=request_no,
            bill_to=bill_to,
            bill_to_id=bill_to_id,
            category=category,
            net=invoice.net,
            tax=invoice.tax,
            total=invoice.total,
            currency=currency,
            issued_at=now,
        )
    )
    gross = float(invoice.total)

    def count() -> None:
        metrics.DOCUMENTS.labels("invoice").inc()
        metrics.INVOICED.labels(currency, category).inc(gross)

    metrics.once_committed(uow.session, count)
    if bill_to_id is not None:
        await _use_credit(uow, invoice, now)
    return invoice


async def _use_credit(uow: UnitOfWork, invoice: InvoiceRow, now: datetime) -> None:
    credits = (
        await uow.session.execute(
            select(PaymentRow)
            .where(
                PaymentRow.customer_id == invoice.bill_to_id,
                PaymentRow.unallocated > 0,
                PaymentRow.currency == invoice.currency,
            )
            .order_by(PaymentRow.received_at, PaymentRow.payment_no)
            .with_for_update()
        )
    ).scalars()
    for payment in credits:
        left = outstanding(invoice)
        if left <= ZERO:
            break
        used = min(left, payment.unallocated)
        payment.unallocated -= used
        invoice.paid += used
        uow.session.add(
            AllocationRow(
                payment_no=payment.payment_no,
                invoice_no=invoice.invoice_no,
                amount=used,
                allocated_at=now,
            )
        )


async def get_invoice(uow: UnitOfWork, invoice_no: str, lock: bool = False) -> InvoiceRow:
    invoice = await uow.session.get(InvoiceRow, invoice_no, with_for_update=lock)
    if invoice is None:
        raise NotFound(f"invoice {invoice_no}")
    return invoice


async def total_cost(uow: UnitOfWork, request_no: str) -> Decimal:
    query = select(func.coalesce(func.sum(CostEntryRow.amount), 0)).where(
        CostEntryRow.request_no == request_no
    )
    # SQLite sums NUMERIC as a float: back to an exact amount in fen.
    return to_fen(Decimal(str((await uow.session.execute(query)).scalar_one())))


async def settle_if_owed_nothing(
    uow: UnitOfWork, request: BillingRequestRow, currency: str, at: datetime | None = None
) -> bool:
    """``billing.request.settled.v1`` when no invoice of the request is open: once, and
    once more each time a later ruling re-billed it after settlement (``reopen_settled``).
    A re-settlement is the same event again for the same request, with a later
    ``settled_at`` and the totals as they now stand (consumers tell it by the request
    having been settled before; ``settlements`` counts them in billing's API)."""
    if request.category is None:
        return False
    if request.settled_at is not None and request.reopened_at is None:
        return False
    invoices = list(
        (
            await uow.session.execute(
                select(InvoiceRow).where(InvoiceRow.request_no == request.request_no)
            )
        ).scalars()
    )
    if any(outstanding(invoice) > ZERO for invoice in invoices):
        return False
    now = at or datetime.now(UTC)
    if request.settled_at is not None and now <= request.settled_at:
        now = datetime.now(UTC)  # a re-settlement comes after the settlement it replaces
    request.settled_at, request.reopened_at = now, None
    request.settlements = (request.settlements or 0) + 1
    billed = sum((invoice.total - invoice.credited for invoice in invoices), ZERO)
    await uow.publish(
        RequestSettledV1(
            request_no=request.request_no,
            category=request.category,
            total_billed=billed,
            total_cost=await total_cost(uow, request.request_no),
            currency=invoices[0].currency if invoices else currency,
            settled_at=now,
        )
    )
    return True


def reopen_settled(request: BillingRequestRow, at: datetime | None = None) -> None:
    """A settled request is billed again (a ruling's credit note or new invoice): it is
    settled again once nothing of it is open."""
    if request.settled_at is not None and request.reopened_at is None:
        request.reopened_at = at or datetime.now(UTC)


async def _settle_request_of(uow: UnitOfWork, invoice: InvoiceRow) -> None:
    if invoice.request_no is None or outstanding(invoice) > ZERO:
        return
    request = await uow.session.get(BillingRequestRow, invoice.request_no, with_for_update=True)
    if request is not None:
        await settle_if_owed_nothing(uow, request, invoice.currency)


async def credit_invoice(
    uow: UnitOfWork, invoice: InvoiceRow, amount: Decimal, reason: str, actor: str
) -> CreditNoteRow:
    """Inside the caller's transaction, with the invoice locked. If the invoice was already
    paid beyond what it now asks, the excess becomes the customer's credit."""
    try:
        check_credit(invoice.total, invoice.credited, amount)
    except CreditRefused as exc:
        raise Conflict(str(exc)) from exc
    now = datetime.now(UTC)
    note = CreditNoteRow(
        credit_note_no=await next_number(uow, "CN", now),
        invoice_no=invoice.invoice_no,
        total=amount,
        currency=invoice.currency,
        reason=reason,
        issued_by=actor,
        issued_at=now,
    )
    uow.session.add(note)
    invoice.credited += amount
    excess = invoice.paid - (invoice.total - invoice.credited)
    if excess > ZERO and invoice.bill_to_id is not None:
        invoice.paid -= excess
        uow.session.add(
            PaymentRow(
                payment_no=note.credit_note_no,
                customer_id=invoice.bill_to_id,
                request_no=invoice.request_no,
                method="credit_note",
                amount=excess,
                unallocated=excess,
                currency=invoice.currency,
                received_by=actor,
                received_at=now,
            )
        )
    await uow.publish(
        CreditNoteIssuedV1(
            credit_note_no=note.credit_note_no,
            invoice_no=invoice.invoice_no,
            request_no=invoice.request_no,
            total=amount,
            currency=invoice.currency,
            reason=reason,
            issued_at=now,
        )
    )
    metrics.once_committed(uow.session, metrics.DOCUMENTS.labels("credit_note").inc)
    return note


async def _lock_requests(uow: UnitOfWork, request_nos: Sequence[str | None]) -> None:
    for request_no in sorted({r for r in request_nos if r is not None}):
        await uow.session.get(BillingRequestRow, request_no, with_for_update=True)


async def issue_credit_note(
    uow: UnitOfWork, invoice_no: str, amount: Decimal, reason: str, actor: str
) -> CreditNoteRow:
    """Only against an issued invoice and never above what is left of it."""
    async with uow:
        invoice = await get_invoice(uow, invoice_no)
        await _lock_requests(uow, [invoice.request_no])
        await uow.session.refresh(invoice, with_for_update=True)
        note = await credit_invoice(uow, invoice, amount, reason, actor)
        await _settle_request_of(uow, invoice)
        await uow.commit()
    return note


async def receive_payment(
    uow: UnitOfWork,
    *,
    customer_id: str,
    amount: Decimal,
    method: str,
    currency: str,
    actor: str,
    invoice_no: str | None = None,
    request_no: str | None = None,
) -> tuple[PaymentRow, list[AllocationRow]]:
    """Paid to the named invoice, else to the customer's oldest open invoices; whatever is
    left over (an overpayment, or cash collected on site before the invoice exists) is kept
    as credit for the next invoice."""
    if amount <= ZERO:
        raise Invalid("amount", "A payment must be for more than 0.")
    if method not in PAYMENT_METHODS:
        raise Invalid("method", f"One of: {', '.join(PAYMENT_METHODS)}.")
    async with uow:
        conditions = [InvoiceRow.bill_to_id == customer_id, InvoiceRow.currency == currency]
        if invoice_no is not None:
            named = await get_invoice(uow, invoice_no)
            if named.bill_to_id != customer_id:
                raise Conflict(f"Invoice {invoice_no} is not billed to {customer_id}.")
            conditions.append(InvoiceRow.invoice_no == invoice_no)
        # Lock order everywhere: requests, then their invoices (event handlers hold a
        # request's row before they touch its invoice).
        request_nos = await uow.session.execute(select(InvoiceRow.request_no).where(*conditions))
        await _lock_requests(uow, [r[0] for r in request_nos])
        query = (
            select(InvoiceRow)
            .where(*conditions)
            .order_by(InvoiceRow.issued_at, InvoiceRow.invoice_no)
            .with_for_update()
            # The named invoice was read before the lock: read it again under the lock.
            .execution_options(populate_existing=True)
        )
        invoices = {i.invoice_no: i for i in (await uow.session.execute(query)).scalars()}
        open_ones = [OpenInvoice(no, outstanding(i)) for no, i in invoices.items()]
        allocations, left = allocate(amount, open_ones)
        now = datetime.now(UTC)
        kind = "receipt" if method == "on_site" and not allocations else "payment"
        payment = PaymentRow(
            payment_no=await next_number(uow, "RC" if kind == "receipt" else "PAY", now),
            customer_id=customer_id,
            request_no=request_no,
            method=method,
            amount=amount,
            unallocated=left,
            currency=currency,
            received_by=actor,
            received_at=now,
        )
        uow.session.add(payment)
        rows = []
        for allocation in allocations:
            invoice = invoices[allocation.invoice_no]
            invoice.paid += allocation.amount
            row = AllocationRow(
                payment_no=payment.payment_no,
                invoice_no=allocation.invoice_no,
                amount=allocation.amount,
                allocated_at=now,
            )
            uow.session.add(row)
            rows.append(row)
        first = invoices[allocations[0].invoice_no] if allocations else None
        await uow.publish(
            PaymentReceivedV1(
                payment_no=payment.payment_no,
                request_no=request_no or (first.request_no if first else None),
                invoice_no=first.invoice_no if first else None,
                amount=amount,
                currency=currency,
                method=method,
                outstanding=outstanding(first) if first else ZERO,
                received_at=now,
            )
        )
        for allocation in allocations:
            await _settle_request_of(uow, invoices[allocation.invoice_no])
        await uow.commit()
    metrics.DOCUMENTS.labels(kind).inc()
    metrics.COLLECTED.labels(currency, method).inc(float(amount))
    return payment, rows


async def customer_balance(uow: UnitOfWork, customer_id: str) -> tuple[Decimal, Decimal]:
    """(what is owed on open invoices, unused credit)."""
    async with uow:
        invoices = (
            await uow.session.execute(
                select(InvoiceRow).where(InvoiceRow.bill_to_id == customer_id)
            )
        ).scalars()
        owed = sum((max(outstanding(i), ZERO) for i in invoices), ZERO)
        credit = (
            await uow.session.execute(
                select(func.coalesce(func.sum(PaymentRow.unallocated), 0)).where(
                    PaymentRow.customer_id == customer_id
                )
            )
        ).scalar_one()
    return owed, to_fen(Decimal(str(credit)))
