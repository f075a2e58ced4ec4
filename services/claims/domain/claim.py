"""A warranty claim: who asks to be paid for what, on which unit, and what was decided.

A claim opens ``submitted`` with the facts of the job or the dealer's report; the rules
price its lines and decide it (or send it to an adjuster); a decision may wait for the old
part; the claimant may dispute a decision once, and a manager's ruling is final.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any


class ClaimSource(StrEnum):
    DEALER_REPORT = "dealer_report"
    JOB = "job"
    # A unit shipped in and repaired in the workshop (intake.return.repaired).
    RETURN = "return"


class ClaimStatus(StrEnum):
    SUBMITTED = "submitted"
    IN_REVIEW = "in_review"
    WAITING_FOR_PART = "waiting_for_part"
    APPROVED = "approved"
    PARTIALLY_APPROVED = "partially_approved"
    REJECTED = "rejected"
    DISPUTED = "disputed"


# The note of a claim the rules failed on, set aside for an adjuster before it was announced.
SET_ASIDE = "the rules could not run"

DECIDED = frozenset({ClaimStatus.APPROVED, ClaimStatus.PARTIALLY_APPROVED, ClaimStatus.REJECTED})


class IllegalTransition(Exception):
    def __init__(self, claim_no: str, status: ClaimStatus, action: str, allowed: list[str]):
        super().__init__(
            f"Claim {claim_no} is {status.value}: it cannot be {action} now. "
            f"Allowed now: {', '.join(allowed) or 'nothing'}."
        )
        self.allowed = allowed


def dispute_deadline(decided_on: date, dispute_days: int) -> date:
    """The last calendar day the claimant may dispute a decision made on ``decided_on``."""
    return decided_on + timedelta(days=dispute_days)


def allowed_actions(
    status: ClaimStatus,
    disputed_once: bool,
    final: bool,
    deadline: date | None = None,
    today: date | None = None,
) -> list[str]:
    if status is ClaimStatus.IN_REVIEW:
        return ["decide", "rerun"]
    if status is ClaimStatus.DISPUTED:
        return ["rule"]
    in_time = deadline is None or today is None or today <= deadline
    if status in DECIDED and not disputed_once and not final and in_time:
        return ["dispute"]
    return []


class LineKind(StrEnum):
    PART = "part"
    LABOUR = "labour"
    TRAVEL = "travel"
    OTHER = "other"


@dataclass(frozen=True)
class ClaimedPart:
    part_no: str
    quantity: int
    old_part_serial: str | None


@dataclass
class ClaimLine:
    line_no: int
    kind: LineKind
    description: str
    quantity: Decimal
    unit_price: Decimal
    amount_claimed: Decimal
    amount_approved: Decimal = Decimal("0.00")
    part_no: str | None = None
    supplier_id: str | None = None
    operation_code: str | None = None
    reason_codes: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "line_no": self.line_no,
            "kind": self.kind.value,
            "description": self.description,
            "quantity": str(self.quantity),
            "unit_price": str(self.unit_price),
            "amount_claimed": str(self.amount_claimed),
            "amount_approved": str(self.amount_approved),
            "part_no": self.part_no,
            "supplier_id": self.supplier_id,
            "operation_code": self.operation_code,
            "reason_codes": list(self.reason_codes),
            "notes": list(self.notes),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ClaimLine:
        return cls(
            line_no=data["line_no"],
            kind=LineKind(data["kind"]),
            description=data["description"],
            quantity=Decimal(data["quantity"]),
            unit_price=Decimal(data["unit_price"]),
            amount_claimed=Decimal(data["amount_claimed"]),
            amount_approved=Decimal(data["amount_approved"]),
            part_no=data.get("part_no"),
            supplier_id=data.get("supplier_id"),
            operation_code=data.get("operation_code"),
            reason_codes=list(data.get("reason_codes", [])),
            notes=list(data.get("notes", [])),
        )


def claims_nothing(part_count: int, labour_hours: Decimal, travel_km: Decimal) -> bool:
    """Whether a claim asks to be paid for nothing at all: such a claim cannot duplicate
    another, nor make a later one a duplicate of it."""
    return part_count == 0 and labour_hours == 0 and travel_km == 0


@dataclass(frozen=True)
class ClaimNumber:
    year: int
    sequence: int

    def __str__(self) -> str:
        return f"WC-{self.year}-{self.sequence:06d}"


@dataclass
class WarrantyClaim:
    claim_no: str
    request_no: str
    source: ClaimSource
    dealer_id: str | None
    serial_no: str
    product_model: str
    purchase_date: date | None
    in_warranty_at_intake: bool | None
    cause: str
    fault_description: str
    fault_code: str | None
    repaired_at: datetime
    labour_hours: Decimal
    travel_km: Decimal
    parts: list[ClaimedPart] = field(default_factory=list)
    status: ClaimStatus = ClaimStatus.SUBMITTED
    opened_at: datetime | None = None
    product_line: str | None = None
    lines: list[ClaimLine] = field(default_factory=list)
    rule_results: list[dict[str, Any]] = field(default_factory=list)
    reason_codes: list[str] = field(default_factory=list)
    review_reasons: list[str] = field(default_factory=list)
    history: list[dict[str, Any]] = field(default_factory=list)
    decided_by: str | None = None
    decided_at: datetime | None = None
    decision_note: str | None = None
    dispute_reason: str | None = None
    disputed_at: datetime | None = None
    final: bool = False
    repeat_repair: bool = False
    dispute_deadline: date | None = None

    @property
    def amount_claimed(self) -> Decimal:
        return sum((line.amount_claimed for line in self.lines), Decimal("0.00"))

    @property
    def amount_approved(self) -> Decimal:
        return sum((line.amount_approved for line in self.lines), Decimal("0.00"))

    @property
    def claims_nothing(self) -> bool:
        """No part, labour or travel asked for (a misuse diagnosed before any repair)."""
        return claims_nothing(len(self.parts), self.labour_hours, self.travel_km)

    @property
    def supplier_ids(self) -> list[str]:
        return sorted({line.supplier_id for line in self.lines if line.supplier_id})

    @property
    def announced(self) -> bool:
        """Whether the rules ever took it up (and so published it as submitted)."""
        return any(
            h["from"] == ClaimStatus.SUBMITTED.value and h["note"] != SET_ASIDE
            for h in self.history
        )

    def move(self, to: ClaimStatus, at: datetime, by: str, note: str | None = None) -> None:
        self.history.append(
            {
                "from": self.status.value,
                "to": to.value,
                "at": at.isoformat(),
                "by": by,
                "note": note,
            }
        )
        self.status = to


def in_review_since(history: list[dict[str, Any]]) -> datetime | None:
    """When the claim last entered the manual review queue (its history records every move)."""
    for move in reversed(history):
        if move["to"] == ClaimStatus.IN_REVIEW.value:
            at = datetime.fromisoformat(move["at"])
            # History written before times were tz-aware is read as UTC, as everything else is.
            return at if at.tzinfo is not None else at.replace(tzinfo=UTC)
    return None
