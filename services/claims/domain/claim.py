"""A warranty claim: who asks to be paid for what, on which unit.

The first slice of the claims issue: claims open from dealers' reported work and wait as
``submitted``; the rules, decisions and supplier recovery follow.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum


class ClaimSource(StrEnum):
    DEALER_REPORT = "dealer_report"
    JOB = "job"


class ClaimStatus(StrEnum):
    SUBMITTED = "submitted"


@dataclass(frozen=True)
class ClaimedPart:
    part_no: str
    quantity: int
    old_part_serial: str | None


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
