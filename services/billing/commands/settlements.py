"""Dealers' reimbursement statements and suppliers' chargebacks, from claims' and parts'
events; recoveries claims still expects are shown as pending or disputed."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select

from services.billing import metrics
from services.billing.commands.documents import credit_invoice, issue_invoice
from services.billing.commands.errors import Conflict, Invalid, NotFound
from services.billing.commands.numbers import next_number
from services.billing.commands.supplier_payables import EntryKind, book_entry, deducted
from services.billing.db.models import (
    DealerPaymentRow,
    DealerStatementRow,
    InvoiceRow,
    SupplierAdjustmentRow,
    SupplierChargebackRow,
    SupplierRecoveryRow,
)
from services.billing.domain.categories import Category
from services.billing.domain.money import ZERO, LineKind, PricedLine, to_fen
from shared.db.unit_of_work import UnitOfWork
from shared.events.schemas.billing import DealerStatementIssuedV1, SupplierChargebackIssuedV1

STATEMENT_ISSUED, STATEMENT_PARTLY_PAID, STATEMENT_PAID = "issued", "partly_paid", "paid"
OPEN_STATEMENTS = (STATEMENT_ISSUED, STATEMENT_PARTLY_PAID)
DEALER_PAYMENT_METHODS = ("bank", "offset")


async def issue_dealer_statement(
    uow: UnitOfWork,
    *,
    settlement_no: str,
    dealer_id: str,
    period: str,
    items: list[dict[str, Any]],
    total: Decimal,
    currency: str,
    at: datetime,
) -> DealerStatementRow:
    """One statement per settlement, however often the settlement's event arrives."""
    existing = (
        await uow.session.execute(
            select(DealerStatementRow).where(DealerStatementRow.settlement_no == settlement_no)
        )
    ).scalar_one_or_none()
    if existing is not None:
        return existing
    row = DealerStatementRow(
        statement_no=await next_number(uow, "DS", at),
        settlement_no=settlement_no,
        dealer_id=dealer_id,
        period=period,
        items=items,
        total=total,
        currency=currency,
        issued_at=at,
        status=STATEMENT_ISSUED,
    )
    uow.session.add(row)
    await uow.publish(
        DealerStatementIssuedV1(
            statement_no=row.statement_no,
            settlement_no=settlement_no,
            dealer_id=dealer_id,
            period=period,
            total=total,
            currency=currency,
            issued_at=at,
        )
    )
    metrics.once_committed(uow.session, metrics.DOCUMENTS.labels("dealer_statement").inc)
    return row


async def issue_chargeback(
    uow: UnitOfWork,
    *,
    reference: str,
    source: str,
    supplier_id: str,
    settle_by: str,
    total: Decimal,
    currency: str,
    at: datetime,
    request_no: str | None = None,
) -> SupplierChargebackRow:
    """An invoice to the supplier (``chargeback``) or a deduction from what the company owes
    it (``deduction``); one per recovery or disposal."""
    existing = (
        await uow.session.execute(
            select(SupplierChargebackRow).where(SupplierChargebackRow.reference == reference)
        )
    ).scalar_one_or_none()
    if existing is not None:
        return existing
    row = SupplierChargebackRow(
        chargeback_no=await next_number(uow, "SC", at),
        reference=reference,
        source=source,
        supplier_id=supplier_id,
        request_no=request_no,
        settle_by=settle_by,
        total=total,
        currency=currency,
        issued_at=at,
    )
    if settle_by == "chargeback" and total > 0:
        row.invoice_no = (await _invoice_supplier(uow, row)).invoice_no
    elif settle_by == "deduction" and total > 0:
        await book_entry(
            uow,
            source_key=f"deduction:{reference}",
            supplier_id=supplier_id,
            kind=EntryKind.DISPOSAL if source == "disposal" else EntryKind.DEDUCTION,
            reference=reference,
            description=f"deduction {row.chargeback_no} ({source} {reference})",
            amount=-total,
            currency=currency,
            at=at,
        )
    uow.session.add(row)
    await uow.publish(
        SupplierChargebackIssuedV1(
            chargeback_no=row.chargeback_no,
            supplier_id=supplier_id,
            reference=reference,
            settle_by=settle_by,
            total=total,
            currency=currency,
            issued_at=at,
        )
    )
    metrics.once_committed(uow.session, metrics.DOCUMENTS.labels("supplier_chargeback").inc)
    return row


async def _invoice_supplier(uow: UnitOfWork, chargeback: SupplierChargebackRow) -> InvoiceRow:
    what = "旧件处理费" if chargeback.source == "disposal" else "索赔追偿"
    return await _invoice_to_supplier(
        uow,
        source_key=f"chargeback:{chargeback.reference}",
        supplier_id=chargeback.supplier_id,
        description=f"{what} {chargeback.reference}",
        total=chargeback.total,
        currency=chargeback.currency,
        at=chargeback.issued_at,
    )


async def _invoice_to_supplier(
    uow: UnitOfWork,
    *,
    source_key: str,
    supplier_id: str,
    description: str,
    total: Decimal,
    currency: str,
    at: datetime,
) -> InvoiceRow:
    """A chargeback settled by invoice: an ``INV`` number like any invoice, billed to the
    supplier, one line without VAT (the amount claims agreed with the supplier is final).
    It names no request, so the customer's request is not shown as invoiced by it; its
    category is C, the warranty cost it recovers."""
    return await issue_invoice(
        uow,
        source_key=source_key,
        lines=[PricedLine(LineKind.OTHER, description, Decimal(1), total, Decimal(0))],
        category=Category.WARRANTY.value,
        bill_to="supplier",
        bill_to_id=supplier_id,
        bill_to_name=None,
        currency=currency,
        at=at,
    )


# Withdrawn is the end: a finalization or correction arriving after it charges nothing.
_RANK = {"pending": 0, "disputed": 1, "final": 2, "withdrawn": 3}


async def note_recovery(
    uow: UnitOfWork,
    *,
    recovery_no: str,
    supplier_id: str,
    status: str,
    at: datetime,
    claim_no: str | None = None,
    request_no: str | None = None,
    total: Decimal | None = None,
    currency: str | None = None,
    dispute_deadline: date | None = None,
    dispute_reason: str | None = None,
) -> SupplierRecoveryRow:
    """Status only moves forward (pending → disputed → final → withdrawn), whatever order
    events come in."""
    row = await uow.session.get(SupplierRecoveryRow, recovery_no, with_for_update=True)
    if row is None:
        row = SupplierRecoveryRow(
            recovery_no=recovery_no,
            supplier_id=supplier_id,
            total=total or Decimal(0),
            currency=currency or "CNY",
            status=status,
            updated_at=at,
        )
        uow.session.add(row)
    elif _RANK[status] > _RANK[row.status]:
        row.status = status
    row.claim_no = claim_no or row.claim_no
    row.request_no = request_no or row.request_no
    if total is not None:
        row.total = total
    if currency is not None:
        row.currency = currency
    row.dispute_deadline = dispute_deadline or row.dispute_deadline
    row.dispute_reason = dispute_reason or row.dispute_reason
    row.updated_at = max(row.updated_at, at)
    return row


async def list_statements(
    uow: UnitOfWork, dealer_id: str | None, status: str | None = None
) -> list[DealerStatementRow]:
    async with uow:
        query = select(DealerStatementRow).order_by(DealerStatementRow.statement_no)
        if dealer_id:
            query = query.where(DealerStatementRow.dealer_id == dealer_id)
        if status:
            query = query.where(DealerStatementRow.status == status)
        return list((await uow.session.execute(query)).scalars())


async def pay_dealer_statement(
    uow: UnitOfWork,
    statement_no: str,
    method: str,
    bank_reference: str | None,
    actor: str,
    amount: Decimal | None = None,
) -> DealerPaymentRow:
    """A statement is paid in one payment or several (``amount`` omitted: what is left);
    it is paid when the payments reach its total. Paying more than is left is refused:
    the company keeps no credit with a dealer (the next statement is paid on its own)."""
    async with uow:
        statement = await uow.session.get(DealerStatementRow, statement_no, with_for_update=True)
        if statement is None:
            raise NotFound(f"dealer statement {statement_no}")
        if statement.status not in OPEN_STATEMENTS:
            raise Conflict(
                f"Dealer statement {statement_no} is already {statement.status} (allowed: none).",
                [],
            )
        left = statement.total - statement.paid
        paying = left if amount is None else amount
        if paying <= ZERO:
            raise Invalid("amount", "A payment must be for more than 0.")
        if paying > left:
            raise Conflict(
                f"Only {left} {statement.currency} is left to pay on dealer statement "
                f"{statement_no}; a payment of {paying} would overpay it."
            )
        now = datetime.now(UTC)
        payment = DealerPaymentRow(
            payment_no=await next_number(uow, "DP", now),
            statement_no=statement_no,
            dealer_id=statement.dealer_id,
            amount=paying,
            currency=statement.currency,
            method=method,
            bank_reference=bank_reference,
            paid_by=actor,
            paid_at=now,
        )
        uow.session.add(payment)
        statement.paid += paying
        if statement.paid >= statement.total:
            statement.status, statement.paid_at = STATEMENT_PAID, now
        else:
            statement.status = STATEMENT_PARTLY_PAID
        await uow.commit()
    metrics.DOCUMENTS.labels("dealer_payment").inc()
    return payment


async def dealer_payments(uow: UnitOfWork, statement_no: str) -> list[DealerPaymentRow]:
    async with uow:
        query = (
            select(DealerPaymentRow)
            .where(DealerPaymentRow.statement_no == statement_no)
            .order_by(DealerPaymentRow.paid_at, DealerPaymentRow.payment_no)
        )
        return list((await uow.session.execute(query)).scalars())


async def open_payables(uow: UnitOfWork) -> list[dict[str, Any]]:
    """What the company still owes each dealer on statements not yet paid in full."""
    async with uow:
        rows = await uow.session.execute(
            select(
                DealerStatementRow.dealer_id,
                DealerStatementRow.currency,
                func.count(),
                func.sum(DealerStatementRow.total - DealerStatementRow.paid),
                func.min(DealerStatementRow.period),
            )
            .where(DealerStatementRow.status.in_(OPEN_STATEMENTS))
            .group_by(DealerStatementRow.dealer_id, DealerStatementRow.currency)
            .order_by(DealerStatementRow.dealer_id, DealerStatementRow.currency)
        )
        return [
            {
                "dealer_id": dealer,
                "currency": currency,
                "statements": int(count),
                "owed": to_fen(Decimal(str(total))),
                "oldest_period": oldest,
            }
            for dealer, currency, count, total, oldest in rows
        ]


async def _adjustment(uow: UnitOfWork, source_key: str) -> SupplierAdjustmentRow | None:
    query = select(SupplierAdjustmentRow).where(SupplierAdjustmentRow.source_key == source_key)
    return (await uow.session.execute(query)).scalar_one_or_none()


async def _chargeback_of(uow: UnitOfWork, recovery_no: str) -> SupplierChargebackRow | None:
    query = select(SupplierChargebackRow).where(SupplierChargebackRow.reference == recovery_no)
    return (await uow.session.execute(query)).scalar_one_or_none()


async def _recovery_invoices(
    uow: UnitOfWork, chargeback: SupplierChargebackRow
) -> list[InvoiceRow]:
    """The chargeback's invoice and those of later additional charges, newest first, locked."""
    numbers = [chargeback.invoice_no] if chargeback.invoice_no else []
    added = await uow.session.execute(
        select(SupplierAdjustmentRow.invoice_no).where(
            SupplierAdjustmentRow.recovery_no == chargeback.reference,
            SupplierAdjustmentRow.invoice_no.is_not(None),
        )
    )
    numbers += [n for (n,) in added]
    if not numbers:
        return []
    query = (
        select(InvoiceRow)
        .where(InvoiceRow.invoice_no.in_(numbers))
        .order_by(InvoiceRow.issued_at.desc(), InvoiceRow.invoice_no.desc())
        .with_for_update()
    )
    return list((await uow.session.execute(query)).scalars())


async def _give_back(
    uow: UnitOfWork,
    chargeback: SupplierChargebackRow,
    amount: Decimal | None,
    reason: str,
    number: str,
    at: datetime,
) -> tuple[Decimal, list[str]]:
    """Gives the supplier back ``amount`` (None: all that is still charged) of a recovery:
    credit notes against its chargeback invoices (a paid one leaves the supplier credit),
    then a reversal of what was deducted from its payables. Returns (given back, notes)."""
    wanted = amount
    given, notes = ZERO, []
    for invoice in await _recovery_invoices(uow, chargeback):
        left = invoice.total - invoice.credited
        part = left if wanted is None else min(left, wanted - given)
        if part <= ZERO:
            continue
        note = await credit_invoice(uow, invoice, part, reason, "billing")
        notes.append(note.credit_note_no)
        given += part
    still = await deducted(uow, chargeback.supplier_id, chargeback.reference)
    part = still if wanted is None else min(still, wanted - given)
    if part > ZERO:
        await book_entry(
            uow,
            source_key=f"reversal:{number}",
            supplier_id=chargeback.supplier_id,
            kind=EntryKind.REVERSAL,
            reference=chargeback.reference,
            description=f"{reason} ({number})",
            amount=part,
            currency=chargeback.currency,
            at=at,
        )
        given += part
    return given, notes


async def withdraw_recovery(
    uow: UnitOfWork,
    *,
    recovery_no: str,
    supplier_id: str,
    claim_no: str,
    request_no: str,
    reason: str,
    at: datetime,
) -> SupplierAdjustmentRow | None:
    """The supplier is not at fault after all: the recovery charges nothing from now on (a
    finalization arriving later is ignored) and whatever billing charged for it is given
    back, once."""
    await note_recovery(
        uow,
        recovery_no=recovery_no,
        supplier_id=supplier_id,
        status="withdrawn",
        at=at,
        claim_no=claim_no,
        request_no=request_no,
        dispute_reason=reason,
    )
    key = f"withdrawn:{recovery_no}"
    if (existing := await _adjustment(uow, key)) is not None:
        return existing
    chargeback = await _chargeback_of(uow, recovery_no)
    if chargeback is None:
        return None  # never charged
    number = await next_number(uow, "SA", at)
    given, notes = await _give_back(
        uow, chargeback, None, f"recovery {recovery_no} withdrawn: {reason}", number, at
    )
    if given <= ZERO:
        return None
    row = SupplierAdjustmentRow(
        adjustment_no=number,
        source_key=key,
        recovery_no=recovery_no,
        supplier_id=supplier_id,
        kind="withdrawal",
        settle_by=chargeback.settle_by,
        amount=-given,
        currency=chargeback.currency,
        credit_note_nos=notes,
        reason=reason,
        issued_at=at,
    )
    uow.session.add(row)
    metrics.once_committed(uow.session, metrics.DOCUMENTS.labels("supplier_adjustment").inc)
    return row


async def correct_recovery(
    uow: UnitOfWork,
    *,
    recovery_no: str,
    supplier_id: str,
    claim_no: str,
    request_no: str,
    total: Decimal,
    difference: Decimal,
    settle_by: str,
    currency: str,
    reason: str,
    at: datetime,
) -> SupplierAdjustmentRow | None:
    """A final recovery's total changed: the difference is charged (an additional
    chargeback invoice or deduction, as claims says to settle it) or given back (credit
    notes against its chargeback invoices, then reversed deductions). One adjustment per
    correction (recovery and time), however often the event arrives."""
    recovery = await note_recovery(
        uow,
        recovery_no=recovery_no,
        supplier_id=supplier_id,
        status="final",
        at=at,
        claim_no=claim_no,
        request_no=request_no,
    )
    if recovery.status == "withdrawn":
        return None
    key = f"corrected:{recovery_no}:{at.isoformat()}"
    if (existing := await _adjustment(uow, key)) is not None:
        return existing
    chargeback = await _chargeback_of(uow, recovery_no)
    if chargeback is None:
        # The correction overtook the finalization: the corrected total is what is final.
        recovery.total = total
        await issue_chargeback(
            uow,
            reference=recovery_no,
            source="recovery",
            supplier_id=supplier_id,
            settle_by=settle_by,
            total=total,
            currency=currency,
            at=at,
            request_no=request_no,
        )
        return None
    recovery.total = total
    if difference == ZERO:
        return None
    row = SupplierAdjustmentRow(
        adjustment_no=await next_number(uow, "SC" if difference > ZERO else "SA", at),
        source_key=key,
        recovery_no=recovery_no,
        supplier_id=supplier_id,
        kind="correction",
        settle_by=settle_by,
        amount=difference,
        currency=currency,
        credit_note_nos=[],
        reason=reason,
        issued_at=at,
    )
    if difference > ZERO:
        if settle_by == "chargeback":
            invoice = await _invoice_to_supplier(
                uow,
                source_key=f"adjustment:{row.adjustment_no}",
                supplier_id=supplier_id,
                description=f"索赔追偿调整 {recovery_no}",
                total=difference,
                currency=currency,
                at=at,
            )
            row.invoice_no = invoice.invoice_no
        else:
            await book_entry(
                uow,
                source_key=f"deduction:{row.adjustment_no}",
                supplier_id=supplier_id,
                kind=EntryKind.DEDUCTION,
                reference=recovery_no,
                description=f"additional deduction {row.adjustment_no} ({reason})",
                amount=-difference,
                currency=currency,
                at=at,
            )
        # Claims learns the recovery is charged (again) as for the first chargeback.
        await uow.publish(
            SupplierChargebackIssuedV1(
                chargeback_no=row.adjustment_no,
                supplier_id=supplier_id,
                reference=recovery_no,
                settle_by=settle_by,
                total=difference,
                currency=currency,
                issued_at=at,
            )
        )
        metrics.once_committed(uow.session, metrics.DOCUMENTS.labels("supplier_chargeback").inc)
    else:
        given, notes = await _give_back(
            uow,
            chargeback,
            -difference,
            f"recovery {recovery_no} corrected: {reason}",
            row.adjustment_no,
            at,
        )
        row.amount, row.credit_note_nos = -given, notes
        metrics.once_committed(uow.session, metrics.DOCUMENTS.labels("supplier_adjustment").inc)
    uow.session.add(row)
    return row


async def list_adjustments(uow: UnitOfWork, supplier_id: str | None) -> list[SupplierAdjustmentRow]:
    async with uow:
        query = select(SupplierAdjustmentRow).order_by(
            SupplierAdjustmentRow.issued_at, SupplierAdjustmentRow.adjustment_no
        )
        if supplier_id:
            query = query.where(SupplierAdjustmentRow.supplier_id == supplier_id)
        return list((await uow.session.execute(query)).scalars())


async def list_chargebacks(uow: UnitOfWork, supplier_id: str | None) -> list[SupplierChargebackRow]:
    async with uow:
        query = select(SupplierChargebackRow).order_by(SupplierChargebackRow.chargeback_no)
        if supplier_id:
            query = query.where(SupplierChargebackRow.supplier_id == supplier_id)
        return list((await uow.session.execute(query)).scalars())


async def list_recoveries(uow: UnitOfWork, status: str | None) -> list[SupplierRecoveryRow]:
    async with uow:
        query = select(SupplierRecoveryRow).order_by(SupplierRecoveryRow.recovery_no)
        if status:
            query = query.where(SupplierRecoveryRow.status == status)
        return list((await uow.session.execute(query)).scalars())
