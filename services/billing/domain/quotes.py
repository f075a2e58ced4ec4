"""Quotes for paid work: who must approve a price, and what may happen to a quote."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from enum import StrEnum

from services.billing.domain.money import PricedLine


class Approval(StrEnum):
    NONE = "none"
    MANAGER = "manager"
    GENERAL_MANAGER = "general_manager"


def discount_percent(line: PricedLine) -> Decimal:
    standard = line.standard_unit_price
    if standard is None or standard <= 0 or line.unit_price >= standard:
        return Decimal(0)
    return (standard - line.unit_price) / standard * 100


def approval_needed(lines: Iterable[PricedLine], general_manager_above: Decimal) -> Approval:
    """Any discount or waiver needs a manager; more than ``general_manager_above`` per cent
    below the standard price needs the general manager."""
    deepest = max((discount_percent(line) for line in lines), default=Decimal(0))
    if deepest > general_manager_above:
        return Approval.GENERAL_MANAGER
    if deepest > 0:
        return Approval.MANAGER
    return Approval.NONE


def may_approve(required: Approval, roles: Iterable[str]) -> bool:
    held = set(roles)
    if "admin" in held or "general_manager" in held:
        return True
    return required is Approval.MANAGER and "manager" in held


class QuoteStatus(StrEnum):
    AWAITING_APPROVAL = "awaiting_approval"
    ISSUED = "issued"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    REFUSED = "refused"  # the approver said no; the clerk makes a new quote
    VOID = "void"
    EXPIRED = "expired"  # issued, not answered within its validity: counts as declined


MOVES: dict[QuoteStatus, frozenset[QuoteStatus]] = {
    QuoteStatus.AWAITING_APPROVAL: frozenset(
        {QuoteStatus.ISSUED, QuoteStatus.REFUSED, QuoteStatus.VOID}
    ),
    QuoteStatus.ISSUED: frozenset(
        {QuoteStatus.ACCEPTED, QuoteStatus.DECLINED, QuoteStatus.VOID, QuoteStatus.EXPIRED}
    ),
    QuoteStatus.ACCEPTED: frozenset(),
    QuoteStatus.DECLINED: frozenset(),
    QuoteStatus.REFUSED: frozenset(),
    QuoteStatus.VOID: frozenset(),
    QuoteStatus.EXPIRED: frozenset(),
}


class QuoteMoveRefused(Exception):
    def __init__(self, current: QuoteStatus, wanted: QuoteStatus) -> None:
        self.current, self.wanted = current, wanted
        self.allowed = sorted(MOVES[current])
        allowed = ", ".join(self.allowed) or "none"
        super().__init__(f"A quote that is {current} cannot become {wanted} (allowed: {allowed}).")


def move(current: QuoteStatus, wanted: QuoteStatus) -> QuoteStatus:
    if wanted not in MOVES[current]:
        raise QuoteMoveRefused(current, wanted)
    return wanted
