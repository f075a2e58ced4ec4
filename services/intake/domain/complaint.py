"""Complaints: their register (cause, handling steps, result) and the rules of handling them.

A complaint is opened on a complaint request with its cause. Deciding the cause is also
deciding whether it is a quality complaint: one about the product itself goes on to quality
(claims) at once, and must be decided within 2 h of receipt. A verification step (someone
checked the facts with the customer, the dealer or the technician) meets the first
verification target; the result closes the complaint and needs a verification first.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum


class ComplaintCause(StrEnum):
    PRODUCT_QUALITY = "product_quality"
    REPAIR_QUALITY = "repair_quality"
    SERVICE_ATTITUDE = "service_attitude"
    RESPONSE_TIME = "response_time"
    CHARGES = "charges"
    DELIVERY = "delivery"
    OTHER = "other"


QUALITY_CAUSES = frozenset({ComplaintCause.PRODUCT_QUALITY})


class ComplaintStatus(StrEnum):
    OPEN = "open"
    VERIFIED = "verified"
    RESOLVED = "resolved"


class StepKind(StrEnum):
    CONTACT = "contact"
    VERIFICATION = "verification"
    ACTION = "action"
    NOTE = "note"


@dataclass(frozen=True)
class HandlingStep:
    at: datetime
    kind: StepKind
    note: str
    by: str


# What may be done in each status; a refusal names what would have been allowed.
COMPLAINT_MOVES: dict[str, frozenset[ComplaintStatus]] = {
    "classify": frozenset({ComplaintStatus.OPEN, ComplaintStatus.VERIFIED}),
    "add_step": frozenset({ComplaintStatus.OPEN, ComplaintStatus.VERIFIED}),
    "resolve": frozenset({ComplaintStatus.VERIFIED}),
}


class ComplaintRefused(Exception):
    def __init__(self, action: str, status: ComplaintStatus, detail: str | None = None) -> None:
        allowed = sorted(a for a, sources in COMPLAINT_MOVES.items() if status in sources)
        super().__init__(
            detail or f"cannot {action.replace('_', ' ')} a complaint that is {status}"
        )
        self.action = action
        self.status = status
        self.allowed = allowed


def _check(action: str, status: ComplaintStatus) -> None:
    if status not in COMPLAINT_MOVES[action]:
        raise ComplaintRefused(action, status)


@dataclass(frozen=True)
class Complaint:
    complaint_no: str
    request_no: str
    product_model: str
    description: str
    cause: ComplaintCause
    received_at: datetime
    opened_at: datetime
    status: ComplaintStatus = ComplaintStatus.OPEN
    steps: tuple[HandlingStep, ...] = ()
    result: str | None = None
    resolved_at: datetime | None = None
    # When it was passed on to quality (claims); None while it is not a quality complaint.
    reported_at: datetime | None = None

    @property
    def is_quality(self) -> bool:
        return self.cause in QUALITY_CAUSES

    @property
    def due_for_quality_report(self) -> bool:
        """A quality complaint not yet passed on: pass it on now."""
        return self.is_quality and self.reported_at is None

    def reported(self, at: datetime) -> Complaint:
        return replace(self, reported_at=at)

    def classify(self, cause: ComplaintCause) -> Complaint:
        """Change the cause; a quality complaint already passed on stays passed on."""
        _check("classify", self.status)
        return replace(self, cause=cause)

    def add_step(self, step: HandlingStep) -> Complaint:
        _check("add_step", self.status)
        status = ComplaintStatus.VERIFIED if step.kind is StepKind.VERIFICATION else self.status
        return replace(self, steps=(*self.steps, step), status=status)

    def resolve(self, result: str, at: datetime) -> Complaint:
        if self.status is ComplaintStatus.OPEN:
            raise ComplaintRefused(
                "resolve", self.status, "a complaint is resolved only after it was verified"
            )
        _check("resolve", self.status)
        return replace(self, status=ComplaintStatus.RESOLVED, result=result, resolved_at=at)


@dataclass(frozen=True)
class ComplaintAnalysis:
    """How many complaints, by cause, by product model and by month they came in."""

    total: int
    by_cause: dict[str, int] = field(default_factory=dict)
    by_model: dict[str, int] = field(default_factory=dict)
    by_month: dict[str, int] = field(default_factory=dict)
    quality: int = 0

    @classmethod
    def of(cls, complaints: Iterable[tuple[str, str, datetime]]) -> ComplaintAnalysis:
        """From (cause, model, received_at) triples; months are ``YYYY-MM`` in UTC."""
        causes: Counter[str] = Counter()
        models: Counter[str] = Counter()
        months: Counter[str] = Counter()
        for cause, model, received_at in complaints:
            causes[cause] += 1
            models[model] += 1
            months[received_at.strftime("%Y-%m")] += 1
        return cls(
            total=sum(causes.values()),
            by_cause=dict(sorted(causes.items(), key=lambda kv: (-kv[1], kv[0]))),
            by_model=dict(sorted(models.items(), key=lambda kv: (-kv[1], kv[0]))),
            by_month=dict(sorted(months.items())),
            quality=sum(n for c, n in causes.items() if c in QUALITY_CAUSES),
        )

    def csv_rows(self) -> list[tuple[str, str, int]]:
        rows = [("total", "", self.total), ("quality", "", self.quality)]
        for dimension, counts in (("cause", self.by_cause), ("model", self.by_model),
                                  ("month", self.by_month)):  # fmt: skip
            rows += [(dimension, key, n) for key, n in counts.items()]
        return rows
