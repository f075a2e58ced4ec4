"""Who pays for a request's work: A paid, B contract, C free warranty, D internal.

An approved claim is the strongest fact (claims verified the cause); then misuse (covered by
nothing); then the rest of a partly approved or rejected claim, paid under the maintenance
contract where there is one; in-warranty work without a decision waits for the claim; then
the contract; otherwise the customer pays."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

from services.billing.domain.money import ZERO, LineKind


class Category(StrEnum):
    PAID = "A"
    CONTRACT = "B"
    WARRANTY = "C"
    INTERNAL = "D"


class ClaimOutcome(StrEnum):
    APPROVED = "approved"
    PARTIALLY_APPROVED = "partially_approved"
    REJECTED = "rejected"


@dataclass(frozen=True)
class ClaimLine:
    kind: str  # claims' words: part, labour, travel or other
    description: str
    part_no: str | None
    quantity: Decimal
    amount_claimed: Decimal
    amount_approved: Decimal

    @property
    def not_approved(self) -> Decimal:
        return max(self.amount_claimed - self.amount_approved, ZERO)

    @property
    def line_kind(self) -> LineKind:
        return _CLAIM_KINDS.get(self.kind, LineKind.OTHER)


_CLAIM_KINDS = {"part": LineKind.PARTS, "labour": LineKind.LABOUR, "travel": LineKind.TRAVEL}


@dataclass(frozen=True)
class ClaimDecision:
    outcome: ClaimOutcome
    source: str  # job or dealer_report
    lines: Sequence[ClaimLine] = ()


@dataclass(frozen=True)
class WorkFacts:
    in_warranty: bool | None
    cause: str | None = None  # quality_defect, misuse, wear, unknown (None: not known yet)
    under_contract: bool = False
    internal: bool = False
    claim: ClaimDecision | None = None


@dataclass(frozen=True)
class Classification:
    """``category`` None means: wait, a warranty claim will decide. ``customer_lines`` are
    the parts of a partly approved claim the customer pays (category A); for the other
    categories the customer's lines come from the price list."""

    category: Category | None
    reason: str
    customer_lines: Sequence[ClaimLine] = field(default_factory=tuple)
    warranty_amount: Decimal = ZERO

    @property
    def customer_invoice(self) -> bool:
        return self.category in (Category.PAID, Category.CONTRACT)


def classify(facts: WorkFacts) -> Classification:
    if facts.internal:
        return Classification(Category.INTERNAL, "internal work")
    claim = facts.claim
    # What the customer pays for is paid under the contract where there is one.
    paid = Category.CONTRACT if facts.under_contract else Category.PAID
    if claim is not None and claim.outcome is ClaimOutcome.APPROVED:
        approved = sum((line.amount_approved for line in claim.lines), ZERO)
        return Classification(Category.WARRANTY, "claim approved", (), approved)
    if facts.cause == "misuse":
        # Misuse is never covered, by the warranty or by a maintenance contract.
        return Classification(Category.PAID, "misuse or human damage")
    if claim is not None and claim.outcome is ClaimOutcome.PARTIALLY_APPROVED:
        approved = sum((line.amount_approved for line in claim.lines), ZERO)
        rest = tuple(line for line in claim.lines if line.not_approved > ZERO)
        return Classification(paid, "claim partly approved", rest, approved)
    if claim is not None:
        return Classification(paid, "claim rejected")
    if facts.in_warranty:
        return Classification(None, "in warranty: waiting for the claim decision")
    if facts.under_contract:
        return Classification(Category.CONTRACT, "maintenance contract")
    return Classification(Category.PAID, "out of warranty")
