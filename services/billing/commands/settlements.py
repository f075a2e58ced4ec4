"""Dealers' reimbursement statements and suppliers' chargebacks, from claims' and parts'
events; recoveries claims still expects are shown as pending or disputed."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select

from services.billing import metrics
from services.billing.commands.documents import issue_invoice
from services.billing.commands.errors import Conflict, NotFound
from services.billing.commands.numbers import next_number
from services.billing.db.models import (
    DealerPaymentRow,
    DealerStatementRow,
    InvoiceRow,
    SupplierChargebackRow,
    SupplierRecoveryRow,
)
from services.billing.domain.categories import Category
from services.billing.domain.money import LineKind, PricedLine, to_fen
from shared.db.unit_of_work import UnitOfWork
from shared.events.schemas.billing import DealerStatementIssuedV1, SupplierChargebackIssuedV1

STATEMENT_ISSUED, STATEMENT_PAID = "issued", "paid"
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
    """A chargeback settled by invoice: an ``INV`` number like any invoice, billed to the
    supplier, one line without VAT (the amount claims agreed with the supplier is final).
    It names no request, so the customer's request is not shown as invoiced by it; its
    category is C, the warranty cost it recovers."""
    what = "旧件处理费" if chargeback.source == "disposal" else "索赔追偿"
    return await issue_invoice(
        uow,
        source_key=f"chargeback:{chargeback.reference}",
        lines=[
            PricedLine(
                LineKind.OTHER,
                f"{what} {chargeback.reference}",
                Decimal(1),
                chargeback.total,
                Decimal(0),
            )
        ],
        category=Category.WARRANTY.value,
        bill_to="supplier",
        bill_to_id=chargeback.supplier_id,
        bill_to_name=None,
        currency=chargeback.currency,
        at=chargeback.issued_at,
    )


_RANK = {"pending": 0, "disputed": 1, "final": 2}


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
) -> None:
    """Status only moves forward (pending → disputed → final), whatever order events come in."""
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
    uow: UnitOfWork, statement_no: str, method: str, bank_reference: str | None, actor: str
) -> DealerPaymentRow:
    """A statement is paid once, in full: the payment is recorded and the statement is no
    longer an open payable."""
    async with uow:
        statement = await uow.session.get(DealerStatementRow, statement_no, with_for_update=True)
        if statement is None:
            raise NotFound(f"dealer statement {statement_no}")
        if statement.status != STATEMENT_ISSUED:
            raise Conflict(
                f"Dealer statement {statement_no} is already {statement.status} (allowed: none).",
                [],
            )
        now = datetime.now(UTC)
        payment = DealerPaymentRow(
            payment_no=await next_number(uow, "DP", now),
            statement_no=statement_no,
            dealer_id=statement.dealer_id,
            amount=statement.total,
            currency=statement.currency,
            method=method,
            bank_reference=bank_reference,
            paid_by=actor,
            paid_at=now,
        )
        uow.session.add(payment)
        statement.status, statement.paid_at = STATEMENT_PAID, now
        await uow.commit()
    metrics.DOCUMENTS.labels("dealer_payment").inc()
    return payment


async def dealer_payment(uow: UnitOfWork, statement_no: str) -> DealerPaymentRow | None:
    async with uow:
        query = select(DealerPaymentRow).where(DealerPaymentRow.statement_no == statement_no)
        return (await uow.session.execute(query)).scalar_one_or_none()


async def open_payables(uow: UnitOfWork) -> list[dict[str, Any]]:
    """What the company still owes each dealer on statements not yet paid."""
    async with uow:
        rows = await uow.session.execute(
            select(
                DealerStatementRow.dealer_id,
                DealerStatementRow.currency,
                func.count(),
                func.sum(DealerStatementRow.total),
                func.min(DealerStatementRow.period),
            )
            .where(DealerStatementRow.status == STATEMENT_ISSUED)
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
