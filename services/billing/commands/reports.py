"""Reports: revenue and cost by a dimension, after-sales cost as a share of sales, open
receivables. Rows are plain dicts so the API can answer JSON or CSV alike."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import Select, case, func, select
from sqlalchemy.exc import IntegrityError

from services.billing.db.models import (
    BillingRequestRow,
    CostEntryRow,
    InvoiceRow,
    MonthlySalesRow,
    PaymentRow,
    SupplierChargebackRow,
)
from services.billing.domain.money import ZERO, to_fen
from shared.db.unit_of_work import UnitOfWork

NONE = "-"


class Dimension(StrEnum):
    MONTH = "month"
    CATEGORY = "category"
    PRODUCT_MODEL = "product_model"
    SERVICE_CENTRE = "service_centre"
    DEALER = "dealer"
    SUPPLIER = "supplier"


def _month(uow: UnitOfWork, column: Any) -> Any:
    """``YYYY-MM`` of a UTC timestamp, in the database's own words."""
    if uow.session.get_bind().dialect.name == "postgresql":
        return func.to_char(func.timezone("UTC", column), "YYYY-MM")
    return func.strftime("%Y-%m", column)  # SQLite keeps UTC times as text


def _fen(value: Any) -> Decimal:
    # SQLite sums NUMERIC as a float: back to an exact amount in fen.
    return to_fen(Decimal(str(value))) if value is not None else ZERO


_REQUEST_COLUMNS = {
    Dimension.CATEGORY: BillingRequestRow.category,
    Dimension.PRODUCT_MODEL: BillingRequestRow.product_model,
    Dimension.SERVICE_CENTRE: BillingRequestRow.service_point_id,
    Dimension.DEALER: BillingRequestRow.dealer_id,
}


async def _grouped(uow: UnitOfWork, query: Select[Any]) -> dict[str, Decimal]:
    return {str(key): _fen(amount) for key, amount in await uow.session.execute(query)}


async def revenue_and_cost(uow: UnitOfWork, by: Dimension) -> list[dict[str, Any]]:
    """Revenue is what was invoiced (tax included) less credit notes, plus, by supplier,
    what suppliers were charged back; cost is the cost ledger. Summed by the database."""
    async with uow:
        invoiced = func.sum(InvoiceRow.total - InvoiceRow.credited)
        booked = func.sum(CostEntryRow.amount)
        revenue_query: Select[Any]
        if by is Dimension.SUPPLIER:
            revenue_query = select(
                SupplierChargebackRow.supplier_id.label("key"),
                func.sum(SupplierChargebackRow.total),
            )
            cost_query = select(func.coalesce(CostEntryRow.supplier_id, NONE).label("key"), booked)
        elif by is Dimension.MONTH:
            revenue_query = select(_month(uow, InvoiceRow.issued_at).label("key"), invoiced)
            cost_query = select(_month(uow, CostEntryRow.occurred_at).label("key"), booked)
        else:
            column = _REQUEST_COLUMNS[by]
            key = func.coalesce(column, NONE).label("key")
            revenue_query = select(
                InvoiceRow.category.label("key") if by is Dimension.CATEGORY else key, invoiced
            ).outerjoin(BillingRequestRow, BillingRequestRow.request_no == InvoiceRow.request_no)
            cost_query = select(key, booked).outerjoin(
                BillingRequestRow, BillingRequestRow.request_no == CostEntryRow.request_no
            )
        revenue = await _grouped(uow, revenue_query.group_by("key"))
        cost = await _grouped(uow, cost_query.group_by("key"))
    return [
        {"key": key, "revenue": revenue.get(key, ZERO), "cost": cost.get(key, ZERO)}
        for key in sorted(set(revenue) | set(cost))
    ]


async def enter_sales(
    uow: UnitOfWork, month: str, amount: Decimal, currency: str, actor: str
) -> MonthlySalesRow:
    """The month's sales figure; entered again, the latest replaces it."""
    try:
        return await _enter_sales_once(uow, month, amount, currency, actor)
    except IntegrityError:
        # Someone entered the month's first figure at the same moment; the row is there
        # now, so a second try replaces it as a later entry would.
        return await _enter_sales_once(uow, month, amount, currency, actor)


async def _enter_sales_once(
    uow: UnitOfWork, month: str, amount: Decimal, currency: str, actor: str
) -> MonthlySalesRow:
    async with uow:
        row = await uow.session.get(MonthlySalesRow, month, with_for_update=True)
        now = datetime.now(UTC)
        if row is None:
            row = MonthlySalesRow(
                month=month, amount=amount, currency=currency, entered_by=actor, entered_at=now
            )
            uow.session.add(row)
        else:
            row.amount, row.entered_by, row.entered_at = amount, actor, now
        await uow.commit()
    return row


async def cost_share(uow: UnitOfWork, target_percent: Decimal) -> list[dict[str, Any]]:
    """After-sales cost as a share of the month's sales, against the target."""
    async with uow:
        sales = {
            r.month: r.amount
            for r in (await uow.session.execute(select(MonthlySalesRow))).scalars()
        }
        month = _month(uow, CostEntryRow.occurred_at).label("key")
        costs = await _grouped(uow, select(month, func.sum(CostEntryRow.amount)).group_by("key"))
    rows = []
    for month in sorted(set(sales) | set(costs)):
        sold = sales.get(month)
        spent = costs.get(month, ZERO)
        share = to_fen(spent / sold * 100) if sold else None
        rows.append(
            {
                "month": month,
                "sales": sold,
                "cost": spent,
                "share_percent": share,
                "target_percent": target_percent,
                "within_target": None if share is None else share <= target_percent,
            }
        )
    return rows


def _open_amount() -> Any:
    """What is still owed on an invoice, never below zero."""
    left = InvoiceRow.total - InvoiceRow.credited - InvoiceRow.paid
    return case((left > 0, left), else_=0)


async def open_receivables(uow: UnitOfWork) -> list[dict[str, Any]]:
    async with uow:
        left = InvoiceRow.total - InvoiceRow.credited - InvoiceRow.paid
        customer = func.coalesce(InvoiceRow.bill_to_id, NONE).label("key")
        invoiced = await uow.session.execute(
            select(
                customer,
                func.sum(_open_amount()),
                func.min(case((left > 0, InvoiceRow.issued_at))),
                func.max(func.coalesce(InvoiceRow.bill_to_name, "")),
                func.max(InvoiceRow.bill_to),
            ).group_by("key")
        )
        owed: dict[str, Decimal] = {}
        oldest: dict[str, datetime | None] = {}
        names: dict[str, str] = {}
        parties: dict[str, str] = {}
        for key, amount, first_open, name, party in invoiced:
            owed[key], oldest[key], names[key], parties[key] = _fen(amount), first_open, name, party
        credit = await _grouped(
            uow,
            select(PaymentRow.customer_id.label("key"), func.sum(PaymentRow.unallocated))
            .where(PaymentRow.unallocated > 0)
            .group_by("key"),
        )
    keys = {k for k, amount in owed.items() if amount > ZERO} | set(credit)
    return [
        {
            "customer_id": key,
            "customer_name": names.get(key, ""),
            "owed": owed.get(key, ZERO),
            "credit": credit.get(key, ZERO),
            "outstanding": owed.get(key, ZERO) - credit.get(key, ZERO),
            "oldest_open_invoice": _day(oldest.get(key)),
            # Suppliers owe their chargeback invoices too.
            "bill_to": parties.get(key, "customer"),
        }
        for key in sorted(keys)
    ]


def _day(value: datetime | str | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):  # SQLite returns MIN() over a CASE as its stored text
        return value[:10]
    return value.date().isoformat()


async def outstanding_total(uow: UnitOfWork) -> dict[str, Decimal]:
    """What is owed per currency, less unused credit (for the gauge)."""
    async with uow:
        owed = await _grouped(
            uow,
            select(InvoiceRow.currency.label("key"), func.sum(_open_amount())).group_by("key"),
        )
        credit = await _grouped(
            uow,
            select(PaymentRow.currency.label("key"), func.sum(PaymentRow.unallocated))
            .where(PaymentRow.unallocated > 0)
            .group_by("key"),
        )
    return {c: owed.get(c, ZERO) - credit.get(c, ZERO) for c in sorted(set(owed) | set(credit))}


def as_csv(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({c: "" if row.get(c) is None else row[c] for c in columns})
    return buffer.getvalue()
