"""Monthly settlements: what the company reimburses each dealer for its approved claims, and
what it recovers from each supplier for its final recoveries. A party's month closes once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import or_, select, update

from services.claims.commands.desk import Desk
from services.claims.commands.errors import Invalid
from services.claims.db.models import ClaimRow, RecoveryRow, SettlementRow
from services.claims.db.repository import ClaimRepository
from services.claims.domain.claim import ClaimSource, ClaimStatus
from services.claims.domain.recovery import RecoveryState
from shared.db.unit_of_work import UnitOfWork
from shared.events.schemas.claims import SettledItemV1, SettlementClosedV1

_REIMBURSED = [ClaimStatus.APPROVED.value, ClaimStatus.PARTIALLY_APPROVED.value]


def month_bounds(period: str) -> tuple[datetime, datetime]:
    try:
        year, month = (int(x) for x in period.split("-"))
        start = datetime(year, month, 1, tzinfo=UTC)
        # Inside the try: the month after December 9999 is no date either.
        end = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)
    except ValueError as exc:
        raise Invalid("period", f"{period!r} is not a month (YYYY-MM)") from exc
    return start, end


def previous_month(now: datetime) -> str:
    return f"{now.year - 1}-12" if now.month == 1 else f"{now.year}-{now.month - 1:02d}"


@dataclass(frozen=True)
class Item:
    reference: str
    request_no: str
    amount: Decimal


async def _close(
    uow: UnitOfWork,
    desk: Desk,
    party: str,
    party_id: str,
    period: str,
    items: list[Item],
    now: datetime,
) -> str | None:
    known = await uow.session.execute(
        select(SettlementRow.id).where(
            SettlementRow.party == party,
            SettlementRow.party_id == party_id,
            SettlementRow.period == period,
        )
    )
    if known.first() is not None or not items:
        return None
    number = await ClaimRepository(uow.session).next_document_number("ST", now.year)
    total = sum((i.amount for i in items), Decimal("0.00"))
    uow.session.add(
        SettlementRow(
            settlement_no=number,
            party=party,
            party_id=party_id,
            period=period,
            items=[
                {"reference": i.reference, "request_no": i.request_no, "amount": str(i.amount)}
                for i in items
            ],
            total=total,
            closed_at=now,
        )
    )
    await uow.session.flush()
    await uow.publish(
        SettlementClosedV1(
            settlement_no=number,
            party=party,
            party_id=party_id,
            period=period,
            items=[
                SettledItemV1(reference=i.reference, request_no=i.request_no, amount=i.amount)
                for i in items
            ],
            total=total,
            currency=desk.currency,
            closed_at=now,
        )
    )
    return number


async def close_month(uow: UnitOfWork, desk: Desk, period: str, now: datetime) -> list[str]:
    """Close the month for every dealer and supplier that has something in it; closing
    again adds nothing."""
    start, end = month_bounds(period)
    if start > now:
        raise Invalid("period", f"{period} has not begun")
    closed: list[str] = []
    claims = await uow.session.execute(
        select(ClaimRow)
        .where(
            ClaimRow.status.in_(_REIMBURSED),
            # A dealer is reimbursed for the work it reported, not for our technicians'.
            ClaimRow.source == ClaimSource.DEALER_REPORT.value,
            ClaimRow.dealer_id.is_not(None),
            ClaimRow.decided_at >= start,
            ClaimRow.decided_at < end,
            ClaimRow.settlement_no.is_(None),
        )
        .order_by(ClaimRow.dealer_id, ClaimRow.id)
    )
    by_dealer: dict[str, list[ClaimRow]] = {}
    for row in claims.scalars():
        by_dealer.setdefault(row.dealer_id or "", []).append(row)
    for dealer_id, rows in by_dealer.items():
        items = [Item(r.claim_no, r.request_no, r.amount_approved) for r in rows]
        number = await _close(uow, desk, "dealer", dealer_id, period, items, now)
        if number:
            for row in rows:
                row.settlement_no = number
            closed.append(number)
    recoveries = await uow.session.execute(
        select(RecoveryRow)
        .where(
            or_(
                RecoveryRow.state == RecoveryState.FINALIZED.value,
                RecoveryRow.state == RecoveryState.BILLED.value,
            ),
            RecoveryRow.finalized_at >= start,
            RecoveryRow.finalized_at < end,
            RecoveryRow.settlement_no.is_(None),
        )
        .order_by(RecoveryRow.supplier_id, RecoveryRow.id)
    )
    by_supplier: dict[str, list[RecoveryRow]] = {}
    for recovery in recoveries.scalars():
        by_supplier.setdefault(recovery.supplier_id, []).append(recovery)
    for supplier_id, found in by_supplier.items():
        items = [Item(r.recovery_no, r.request_no, r.total) for r in found]
        number = await _close(uow, desk, "supplier", supplier_id, period, items, now)
        if number:
            for recovery in found:
                recovery.settlement_no = number
            closed.append(number)
    await uow.session.flush()
    return closed


async def mark_statement(uow: UnitOfWork, settlement_no: str, statement_no: str) -> bool:
    """Billing issued the dealer's statement: the settlement and its claims are settled."""
    row = (
        await uow.session.execute(
            select(SettlementRow).where(SettlementRow.settlement_no == settlement_no)
        )
    ).scalar_one_or_none()
    if row is None or row.statement_no == statement_no:
        return False
    row.statement_no = statement_no
    await uow.session.execute(
        update(ClaimRow).where(ClaimRow.settlement_no == settlement_no).values(settled=True)
    )
    return True
