"""Quotes for paid work: priced from the list, discounts approved, answered by the customer."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, select

from services.billing import metrics
from services.billing.commands.documents import (
    issue_invoice,
    reopen_settled,
    save_lines,
    settle_if_owed_nothing,
)
from services.billing.commands.errors import Conflict, Invalid, NotFound, NotPermitted
from services.billing.commands.numbers import next_number
from services.billing.commands.pricing import standard_prices
from services.billing.commands.requests import (
    bill_accepted_quote,
    book_declined_visit,
    customer_key,
    find_request,
)
from services.billing.db.models import BillingRequestRow, QuoteRow
from services.billing.domain.categories import Category
from services.billing.domain.money import LARGEST, ZERO, LineKind, PricedLine, line, totals
from services.billing.domain.quotes import (
    Approval,
    QuoteMoveRefused,
    QuoteStatus,
    approval_needed,
    may_approve,
    move,
)
from services.billing.settings import BillingSettings
from shared.db.unit_of_work import UnitOfWork
from shared.events.schemas.billing import QuoteAcceptedV1, QuoteDeclinedV1, QuoteIssuedV1


@dataclass(frozen=True)
class QuoteLineInput:
    kind: LineKind
    quantity: Decimal
    description: str | None = None
    part_no: str | None = None
    unit_price: Decimal | None = None  # None: the standard price


def _moved(quote: QuoteRow, wanted: QuoteStatus) -> None:
    try:
        quote.status = move(QuoteStatus(quote.status), wanted).value
    except QuoteMoveRefused as exc:
        raise Conflict(str(exc), [str(s) for s in exc.allowed]) from exc


async def _issue(uow: UnitOfWork, quote: QuoteRow, now: datetime) -> None:
    quote.issued_at = now
    await uow.publish(
        QuoteIssuedV1(
            quote_no=quote.quote_no,
            request_no=quote.request_no,
            total=quote.total,
            currency=quote.currency,
            valid_until=quote.valid_until,
            issued_at=now,
        )
    )


async def create_quote(
    uow: UnitOfWork,
    settings: BillingSettings,
    request_no: str,
    inputs: Sequence[QuoteLineInput],
    actor: str,
    note: str | None = None,
) -> QuoteRow:
    """Issued at once at standard prices; any discount waits for a manager, more than the
    general-manager threshold below the standard for the general manager."""
    if not inputs:
        raise Invalid("lines", "A quote needs at least one line.")
    async with uow:
        # Locked, so that two clerks cannot open two quotes for one request at once.
        request = await find_request(uow, request_no, lock=True)
        if request.cancelled_at is not None:
            raise Conflict(f"Request {request_no} was cancelled.")
        if request.invoice_no is not None or request.settled_at is not None:
            raise Conflict(f"Request {request_no} is already billed or settled.")
        open_quote = await uow.session.execute(
            select(QuoteRow.quote_no).where(
                QuoteRow.request_no == request_no,
                QuoteRow.status.in_(
                    [QuoteStatus.AWAITING_APPROVAL.value, QuoteStatus.ISSUED.value]
                ),
            )
        )
        if (found := open_quote.first()) is not None:
            raise Conflict(f"Quote {found[0]} for {request_no} is still open.")
        now = datetime.now(UTC)
        prices = await standard_prices(uow, now.date())
        vat = settings.vat_rates()
        lines: list[PricedLine] = []
        for index, item in enumerate(inputs):
            standard = prices.unit_price(
                item.kind, request.product_line, request.service_type, item.part_no
            )
            price = item.unit_price if item.unit_price is not None else standard
            if price is None:
                raise Invalid(
                    f"lines.{index}.unit_price",
                    f"No standard {item.kind} price is in effect; give a unit price.",
                )
            description = item.description or item.part_no or item.kind.value
            lines.append(
                line(item.kind, description, item.quantity, price, vat, standard, item.part_no)
            )
            if totals(lines).total > LARGEST:
                raise Invalid(
                    f"lines.{index}.quantity", f"The quote would exceed {LARGEST} in all."
                )
        approval = approval_needed(lines, settings.general_manager_discount_percent)
        amounts = totals(lines)
        call_out = prices.unit_price(LineKind.CALL_OUT, None, None, None) or ZERO
        quote = QuoteRow(
            quote_no=await next_number(uow, "QT", now),
            request_no=request_no,
            status=(
                QuoteStatus.ISSUED if approval is Approval.NONE else QuoteStatus.AWAITING_APPROVAL
            ).value,
            approval=approval.value,
            net=amounts.net,
            tax=amounts.tax,
            total=amounts.total,
            call_out_fee=call_out,
            currency=settings.currency,
            valid_until=now + timedelta(days=settings.quote_valid_days),
            created_by=actor,
            created_at=now,
            note=note,
        )
        uow.session.add(quote)
        await save_lines(uow, quote.quote_no, lines)
        if approval is Approval.NONE:
            await _issue(uow, quote, now)
        await uow.commit()
    metrics.DOCUMENTS.labels("quote").inc()
    return quote


async def get_quote(uow: UnitOfWork, quote_no: str, lock: bool = False) -> QuoteRow:
    quote = await uow.session.get(QuoteRow, quote_no, with_for_update=lock)
    if quote is None:
        raise NotFound(f"quote {quote_no}")
    return quote


async def decide_approval(
    uow: UnitOfWork, quote_no: str, approve: bool, actor: str, roles: Sequence[str]
) -> QuoteRow:
    async with uow:
        quote = await get_quote(uow, quote_no, lock=True)
        required = Approval(quote.approval)
        if quote.status == QuoteStatus.AWAITING_APPROVAL.value and not may_approve(required, roles):
            raise NotPermitted(f"This discount needs the {required.value.replace('_', ' ')}.")
        _moved(quote, QuoteStatus.ISSUED if approve else QuoteStatus.REFUSED)
        now = datetime.now(UTC)
        quote.approved_by, quote.approved_at = actor, now
        if approve:
            if quote.valid_until is not None:
                # Valid for its full period from when the customer gets it, not from drafting.
                quote.valid_until = now + (quote.valid_until - quote.created_at)
            await _issue(uow, quote, now)
        await uow.commit()
    metrics.APPROVAL_TURNAROUND.labels(required.value).observe(
        (now - quote.created_at).total_seconds()
    )
    return quote


async def answer_quote(
    uow: UnitOfWork,
    settings: BillingSettings,
    quote_no: str,
    accepted: bool,
    reason: str | None = None,
) -> QuoteRow:
    """Acceptance lets dispatch go on; declining closes the job with only the call-out fee."""
    async with uow:
        # Lock order everywhere: request, then its documents (a cancellation voiding this
        # quote takes them in the same order, so the two cannot deadlock).
        quote = await get_quote(uow, quote_no)
        await uow.session.get(BillingRequestRow, quote.request_no, with_for_update=True)
        await uow.session.refresh(quote, with_for_update=True)
        now = datetime.now(UTC)
        if accepted and quote.valid_until is not None and now > quote.valid_until:
            raise Conflict(
                f"Quote {quote_no} expired on {quote.valid_until:%Y-%m-%d}; make a new one.",
                [QuoteStatus.DECLINED.value, QuoteStatus.VOID.value],
            )
        _moved(quote, QuoteStatus.ACCEPTED if accepted else QuoteStatus.DECLINED)
        quote.answered_at = now
        if accepted:
            await uow.publish(
                QuoteAcceptedV1(
                    quote_no=quote_no,
                    request_no=quote.request_no,
                    total=quote.total,
                    currency=quote.currency,
                    accepted_at=now,
                )
            )
            request = await uow.session.get(BillingRequestRow, quote.request_no)
            if request is not None:
                await bill_accepted_quote(uow, settings, request, quote)
        else:
            quote.note = reason or quote.note
            await uow.publish(
                QuoteDeclinedV1(
                    quote_no=quote_no,
                    request_no=quote.request_no,
                    call_out_fee=quote.call_out_fee,
                    currency=quote.currency,
                    reason=reason,
                    declined_at=now,
                )
            )
            await _bill_call_out(uow, settings, quote, now)
        await uow.commit()
    return quote


EXPIRED_REASON = "expired"


async def expire_quotes(
    uow: UnitOfWork, settings: BillingSettings, now: datetime | None = None, batch: int = 100
) -> list[str]:
    """Issued quotes past their validity that the customer never answered: each expires in
    its own transaction and counts as declined (``billing.quote.declined.v1`` with reason
    ``expired``: dispatch closes the job, the call-out fee is invoiced). Safe with several
    instances: each quote is re-read under its request's lock and expires once."""
    at = now or datetime.now(UTC)
    async with uow:
        due = list(
            (
                await uow.session.execute(
                    select(QuoteRow.quote_no)
                    .where(QuoteRow.status == QuoteStatus.ISSUED.value, QuoteRow.valid_until < at)
                    .order_by(QuoteRow.valid_until, QuoteRow.quote_no)
                    .limit(batch)
                )
            ).scalars()
        )
    expired = []
    for quote_no in due:
        async with uow:
            quote = await get_quote(uow, quote_no)
            await uow.session.get(BillingRequestRow, quote.request_no, with_for_update=True)
            await uow.session.refresh(quote, with_for_update=True)
            if quote.status != QuoteStatus.ISSUED.value:
                continue  # answered or expired by another instance meanwhile
            _moved(quote, QuoteStatus.EXPIRED)
            quote.answered_at = at
            await uow.publish(
                QuoteDeclinedV1(
                    quote_no=quote_no,
                    request_no=quote.request_no,
                    call_out_fee=quote.call_out_fee,
                    currency=quote.currency,
                    reason=EXPIRED_REASON,
                    declined_at=at,
                )
            )
            await _bill_call_out(uow, settings, quote, at)
            await uow.commit()
        expired.append(quote_no)
    return expired


async def _bill_call_out(
    uow: UnitOfWork, settings: BillingSettings, quote: QuoteRow, now: datetime
) -> None:
    request = await uow.session.get(BillingRequestRow, quote.request_no, with_for_update=True)
    if request is None:
        return
    if request.invoice_no is not None:
        return  # the work invoiced before a claim ruling stands; no call-out fee on top
    request.category, request.category_reason = Category.PAID.value, f"quote {quote.status}"
    await book_declined_visit(uow, settings, request)
    # Settled free before a ruling made it paid work: settled again, as category A.
    reopen_settled(request, now)
    if quote.call_out_fee > ZERO:
        vat = settings.vat_rates()
        fee = line(LineKind.CALL_OUT, "上门检测费", Decimal(1), quote.call_out_fee, vat)
        invoice = await issue_invoice(
            uow,
            source_key=f"declined:{quote.quote_no}",
            lines=[fee],
            category=Category.PAID.value,
            bill_to="customer",
            bill_to_id=customer_key(request),
            bill_to_name=request.customer_name,
            currency=quote.currency,
            request_no=quote.request_no,
            quote_no=quote.quote_no,
            at=now,
        )
        request.invoice_no = invoice.invoice_no
    await settle_if_owed_nothing(uow, request, quote.currency, now)


async def void_open_quotes(uow: UnitOfWork, request_no: str) -> int:
    """A cancelled request's quotes that the customer has not accepted stop being valid."""
    rows = (
        await uow.session.execute(
            select(QuoteRow)
            .where(
                QuoteRow.request_no == request_no,
                QuoteRow.status.in_(
                    [QuoteStatus.AWAITING_APPROVAL.value, QuoteStatus.ISSUED.value]
                ),
            )
            .with_for_update()
        )
    ).scalars()
    voided = 0
    for quote in rows:
        quote.status = QuoteStatus.VOID.value
        voided += 1
    return voided


async def list_quotes(
    uow: UnitOfWork, status: QuoteStatus | None = None, request_no: str | None = None
) -> list[QuoteRow]:
    async with uow:
        query = select(QuoteRow).order_by(QuoteRow.created_at, QuoteRow.quote_no)
        if status is not None:
            query = query.where(QuoteRow.status == status.value)
        if request_no is not None:
            query = query.where(QuoteRow.request_no == request_no)
        return list((await uow.session.execute(query)).scalars())


async def quotes_awaiting(uow: UnitOfWork) -> dict[str, int]:
    async with uow:
        rows = await uow.session.execute(
            select(QuoteRow.approval, func.count())
            .where(QuoteRow.status == QuoteStatus.AWAITING_APPROVAL.value)
            .group_by(QuoteRow.approval)
        )
        return {str(approval): int(count) for approval, count in rows}
