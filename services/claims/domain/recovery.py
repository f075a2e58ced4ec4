"""Supplier recovery: what a supplier owes when its part's quality defect caused a
warranty repair, and the calendar-day window it has to dispute."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any

from services.claims.domain.claim import ClaimLine, LineKind
from services.claims.domain.rules import ZERO, money


class RecoveryState(StrEnum):
    ISSUED = "issued"
    DISPUTED = "disputed"
    FINALIZED = "finalized"
    WITHDRAWN = "withdrawn"
    BILLED = "billed"


@dataclass(frozen=True)
class RecoveryAmounts:
    supplier_id: str
    part_nos: list[str]
    material: Decimal
    labour: Decimal
    travel: Decimal
    other: Decimal
    assessment: Decimal
    failed_units: int = 1
    assessment_per_unit: Decimal = ZERO

    @property
    def total(self) -> Decimal:
        return self.material + self.labour + self.travel + self.other + self.assessment


def _shares(amount: Decimal, count: int) -> list[Decimal]:
    """Split evenly to the cent; the first share takes the remainder so the sum is exact."""
    share = money(amount / count) if count else ZERO
    return [amount - share * (count - 1)] + [share] * (count - 1) if count else []


def recovery_amounts(
    lines: list[ClaimLine], assessments: dict[str, Decimal]
) -> list[RecoveryAmounts]:
    """One recovery per supplier whose approved part failed: its parts, an even share of the
    approved labour, travel and other lines, and its assessment for every failed unit (the
    quantity of its approved parts on the claim)."""
    by_supplier: dict[str, list[ClaimLine]] = {}
    for line in lines:
        if line.kind is LineKind.PART and line.supplier_id and line.amount_approved > 0:
            by_supplier.setdefault(line.supplier_id, []).append(line)
    suppliers = sorted(by_supplier)
    labour = sum((x.amount_approved for x in lines if x.kind is LineKind.LABOUR), ZERO)
    travel = sum((x.amount_approved for x in lines if x.kind is LineKind.TRAVEL), ZERO)
    other = sum((x.amount_approved for x in lines if x.kind is LineKind.OTHER), ZERO)
    labour_shares = _shares(labour, len(suppliers))
    travel_shares = _shares(travel, len(suppliers))
    other_shares = _shares(other, len(suppliers))
    return [
        RecoveryAmounts(
            supplier_id=supplier,
            part_nos=sorted({x.part_no for x in by_supplier[supplier] if x.part_no}),
            material=sum((x.amount_approved for x in by_supplier[supplier]), ZERO),
            labour=labour_shares[i],
            travel=travel_shares[i],
            other=other_shares[i],
            assessment=assessments[supplier] * failed_units(by_supplier[supplier]),
            failed_units=failed_units(by_supplier[supplier]),
            assessment_per_unit=assessments[supplier],
        )
        for i, supplier in enumerate(suppliers)
    ]


def failed_units(part_lines: list[ClaimLine]) -> int:
    """Units of a supplier's part that failed in the field: one per part replaced."""
    return max(1, int(sum((x.quantity for x in part_lines), ZERO)))


def may_change_amounts(state: RecoveryState) -> bool:
    """Staff may still change what a supplier owes until the recovery is final."""
    return state in (RecoveryState.ISSUED, RecoveryState.DISPUTED)


def dispute_deadline(issued_on: date, dispute_days: int) -> date:
    """The last calendar day the supplier may dispute; it becomes final the day after."""
    return issued_on + timedelta(days=dispute_days)


def may_dispute(state: RecoveryState, deadline: date, today: date) -> bool:
    return state is RecoveryState.ISSUED and today <= deadline


def becomes_final(state: RecoveryState, deadline: date, today: date) -> bool:
    return state is RecoveryState.ISSUED and today > deadline


def dispute_window_ends(deadline: date) -> datetime:
    """The moment the dispute window closes: the end of its last calendar day (UTC), since
    the desk finalises a recovery the day after its deadline."""
    return datetime.combine(deadline + timedelta(days=1), time.min, tzinfo=UTC)


def dispute_near_deadline(
    state: RecoveryState, deadline: date, now: datetime, warning: timedelta
) -> bool:
    """A supplier's dispute still waiting for a ruling whose deadline is within ``warning``
    (or already past: it is then more urgent, not less). A recovery merely open to dispute
    does not count: there is nothing to rule on yet, and every recovery passes its last day."""
    return state is RecoveryState.DISPUTED and dispute_window_ends(deadline) - now <= warning


def _issued_at(chargeback: Mapping[str, Any]) -> datetime:
    at = chargeback.get("issued_at")
    return datetime.fromisoformat(at) if at else datetime.min.replace(tzinfo=UTC)


def with_chargeback(
    known: Sequence[Mapping[str, Any]],
    chargeback_no: str,
    total: Decimal,
    settle_by: str,
    issued_at: datetime,
) -> list[dict[str, Any]] | None:
    """Billing's chargebacks of one recovery with one more, oldest first by ``issued_at``
    (then number), whatever order they arrive in; None when it is known already (a replay)."""
    if any(c["chargeback_no"] == chargeback_no for c in known):
        return None
    added = {
        "chargeback_no": chargeback_no,
        "total": str(total),
        "settle_by": settle_by,
        "issued_at": issued_at.astimezone(UTC).isoformat(),
    }
    return sorted(
        [dict(c) for c in known] + [added], key=lambda c: (_issued_at(c), c["chargeback_no"])
    )
