"""The supplier payables ledger: what the company owes each supplier. Staff enter the
supplier's invoices for parts and the payments made to it; deductions of final recoveries
and of old-part disposal charges (settled by ``deduction``) are booked against it from
claims' and parts' events, and reversed when a recovery is withdrawn or corrected down."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite

from services.billing import metrics
from services.billing.commands.errors import Conflict, Invalid, NotFound
from services.billing.commands.numbers import next_number
from services.billing.db.models import SupplierAccountRow, SupplierLedgerEntryRow
from services.billing.domain.money import ZERO, to_fen
from shared.db.unit_of_work import UnitOfWork

SYSTEM = "billing"
SUPPLIER_PAYMENT_METHODS = ("bank", "offset")


class EntryKind(StrEnum):
    INVOICE = "invoice"  # the supplier's invoice for parts: the company owes more
    PAYMENT = "payment"  # the company paid the supplier
    DEDUCTION = "deduction"  # a final recovery deducted from what is owed
    DISPOSAL = "disposal"  # an old-part disposal charge deducted
    REVERSAL = "reversal"  # a deduction given back (recovery withdrawn or corrected down)


async def book_entry(
    uow: UnitOfWork,
    *,
    source_key: str,
    supplier_id: str,
    kind: EntryKind,
    reference: str,
    description: str,
    amount: Decimal,
    currency: str,
    at: datetime,
    entered_by: str = SYSTEM,
    document_date: date | None = None,
) -> SupplierLedgerEntryRow:
    """Once per ``source_key``: a replayed event finds the entry it booked."""
    existing = (
        await uow.session.execute(
            select(SupplierLedgerEntryRow).where(SupplierLedgerEntryRow.source_key == source_key)
        )
    ).scalar_one_or_none()
    if existing is not None:
        return existing
    # Before the entry's number: the account row, then the counter, in every transaction.
    await lock_account(uow, supplier_id, currency)
    row = SupplierLedgerEntryRow(
        entry_no=await next_number(uow, "SP", at),
        source_key=source_key,
        supplier_id=supplier_id,
        kind=kind.value,
        reference=reference[:60],
        description=description[:300],
        amount=to_fen(amount),
        currency=currency,
        document_date=document_date,
        entered_by=entered_by,
        occurred_at=at,
    )
    uow.session.add(row)
    await uow.session.flush()
    return row


async def deducted(uow: UnitOfWork, supplier_id: str, reference: str) -> Decimal:
    """What is still deducted for a recovery (deductions less reversals), as a positive sum."""
    total = await uow.session.scalar(
        select(func.coalesce(func.sum(SupplierLedgerEntryRow.amount), 0)).where(
            SupplierLedgerEntryRow.supplier_id == supplier_id,
            SupplierLedgerEntryRow.reference == reference,
            SupplierLedgerEntryRow.kind.in_(
                [EntryKind.DEDUCTION.value, EntryKind.DISPOSAL.value, EntryKind.REVERSAL.value]
            ),
        )
    )
    return -to_fen(Decimal(str(total)))


async def balance(uow: UnitOfWork, supplier_id: str, currency: str) -> Decimal:
    total = await uow.session.scalar(
        select(func.coalesce(func.sum(SupplierLedgerEntryRow.amount), 0)).where(
            SupplierLedgerEntryRow.supplier_id == supplier_id,
            SupplierLedgerEntryRow.currency == currency,
        )
    )
    # SQLite sums NUMERIC as a float: back to an exact amount in fen.
    return to_fen(Decimal(str(total)))


async def lock_account(uow: UnitOfWork, supplier_id: str, currency: str) -> None:
    """Every entry of a supplier's ledger, and every payment's balance check before it,
    holds the supplier's account row until its transaction ends (created on first use):
    a payment sees every entry committed before it and none is booked while it checks.
    SQLite serialises writers anyway."""
    dialect = uow.session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    await uow.session.execute(
        insert(SupplierAccountRow)
        .values(supplier_id=supplier_id, currency=currency)
        .on_conflict_do_nothing()
    )
    await uow.session.execute(
        select(SupplierAccountRow.supplier_id)
        .where(
            SupplierAccountRow.supplier_id == supplier_id,
            SupplierAccountRow.currency == currency,
        )
        .with_for_update()
    )


async def record_supplier_invoice(
    uow: UnitOfWork,
    *,
    supplier_id: str,
    invoice_no: str,
    amount: Decimal,
    invoice_date: date,
    description: str | None,
    currency: str,
    actor: str,
) -> SupplierLedgerEntryRow:
    """The supplier's invoice for parts, entered once: its number is the supplier's."""
    if amount <= ZERO:
        raise Invalid("amount", "A supplier invoice must be for more than 0.")
    async with uow:
        # Two clerks entering the same invoice at once: the second waits here, then finds
        # the first one's entry (409) instead of breaking the unique key (500).
        await lock_account(uow, supplier_id, currency)
        key = f"supplier-invoice:{supplier_id}:{invoice_no}"
        found = await uow.session.execute(
            select(SupplierLedgerEntryRow.entry_no).where(SupplierLedgerEntryRow.source_key == key)
        )
        if (entry := found.first()) is not None:
            raise Conflict(
                f"Invoice {invoice_no} of supplier {supplier_id} is already entered ({entry[0]})."
            )
        row = await book_entry(
            uow,
            source_key=key,
            supplier_id=supplier_id,
            kind=EntryKind.INVOICE,
            reference=invoice_no,
            description=description or f"supplier invoice {invoice_no}",
            amount=amount,
            currency=currency,
            at=datetime.now(UTC),
            entered_by=actor,
            document_date=invoice_date,
        )
        await uow.commit()
    metrics.DOCUMENTS.labels("supplier_invoice").inc()
    return row


async def pay_supplier(
    uow: UnitOfWork,
    *,
    supplier_id: str,
    amount: Decimal,
    method: str,
    bank_reference: str | None,
    currency: str,
    actor: str,
) -> SupplierLedgerEntryRow:
    """A payment never exceeds what the company owes the supplier: an overpayment is
    refused (409, with the balance), there is nothing to keep it against."""
    if amount <= ZERO:
        raise Invalid("amount", "A payment must be for more than 0.")
    if method not in SUPPLIER_PAYMENT_METHODS:
        raise Invalid("method", f"One of: {', '.join(SUPPLIER_PAYMENT_METHODS)}.")
    async with uow:
        await lock_account(uow, supplier_id, currency)
        owed = await balance(uow, supplier_id, currency)
        if amount > owed:
            raise Conflict(
                f"The company owes supplier {supplier_id} {max(owed, ZERO)} {currency}; "
                f"a payment of {amount} would overpay it."
            )
        now = datetime.now(UTC)
        number = await next_number(uow, "SPP", now)
        row = await book_entry(
            uow,
            source_key=f"supplier-payment:{number}",
            supplier_id=supplier_id,
            kind=EntryKind.PAYMENT,
            reference=bank_reference or number,
            description=f"payment {number} ({method})",
            amount=-amount,
            currency=currency,
            at=now,
            entered_by=actor,
        )
        await uow.commit()
    metrics.DOCUMENTS.labels("supplier_payment").inc()
    return row


async def balances(uow: UnitOfWork) -> list[dict[str, Any]]:
    """Per supplier and currency: what its invoices, payments and deductions add up to.
    ``balance`` > 0: the company owes the supplier; < 0: deductions exceed what is owed."""
    async with uow:
        rows = await uow.session.execute(
            select(
                SupplierLedgerEntryRow.supplier_id,
                SupplierLedgerEntryRow.currency,
                SupplierLedgerEntryRow.kind,
                func.sum(SupplierLedgerEntryRow.amount),
                func.max(SupplierLedgerEntryRow.occurred_at),
            )
            .group_by(
                SupplierLedgerEntryRow.supplier_id,
                SupplierLedgerEntryRow.currency,
                SupplierLedgerEntryRow.kind,
            )
            .order_by(SupplierLedgerEntryRow.supplier_id, SupplierLedgerEntryRow.currency)
        )
        summary: dict[tuple[str, str], dict[str, Any]] = {}
        for supplier, currency, kind, amount, last in rows:
            item = summary.setdefault(
                (supplier, currency),
                {
                    "supplier_id": supplier,
                    "currency": currency,
                    "invoiced": ZERO,
                    "paid": ZERO,
                    "deducted": ZERO,
                    "balance": ZERO,
                    "last_entry_on": None,
                },
            )
            value = to_fen(Decimal(str(amount)))
            if kind == EntryKind.INVOICE.value:
                item["invoiced"] += value
            elif kind == EntryKind.PAYMENT.value:
                item["paid"] -= value
            else:  # deductions (negative) net of their reversals
                item["deducted"] -= value
            item["balance"] += value
            last_at = _day(last)
            if item["last_entry_on"] is None or (last_at and last_at > item["last_entry_on"]):
                item["last_entry_on"] = last_at
    return list(summary.values())


def _day(value: datetime | str | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):  # SQLite returns MAX() of a timestamp as its stored text
        return value[:10]
    return value.date().isoformat()


async def supplier_entries(uow: UnitOfWork, supplier_id: str) -> list[SupplierLedgerEntryRow]:
    async with uow:
        rows = list(
            (
                await uow.session.execute(
                    select(SupplierLedgerEntryRow)
                    .where(SupplierLedgerEntryRow.supplier_id == supplier_id)
                    .order_by(SupplierLedgerEntryRow.occurred_at, SupplierLedgerEntryRow.id)
                )
            ).scalars()
        )
    if not rows:
        raise NotFound(f"entries of supplier {supplier_id}")
    return rows


async def payables_total(uow: UnitOfWork) -> dict[str, Decimal]:
    """What the company owes suppliers per currency (positive balances only), for the gauge."""
    owed: dict[str, Decimal] = {}
    for item in await balances(uow):
        # Every currency seen, so that a gauge falls back to 0 when all is paid.
        owed[item["currency"]] = owed.get(item["currency"], ZERO) + max(item["balance"], ZERO)
    return owed
