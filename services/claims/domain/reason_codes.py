"""The reason codes a claim decision carries (stored, shown, and sent in the events)."""

from __future__ import annotations

from enum import StrEnum


class ReasonCode(StrEnum):
    EXPIRED_WARRANTY = "EW"
    CUSTOMER_DAMAGE = "CDR"
    NO_DEFECT_FOUND = "NDF"
    EXCESSIVE_LABOUR_HOURS = "ELH"
    PART_NOT_RETURNED = "PNR"
    SUBMITTED_TOO_LATE = "SUB"
    DUPLICATE = "DUP"
    EXCLUDED_ITEM = "EXC"
    PARTIAL_APPROVAL = "PWA"


# A claim-level rejection: every line is refused when one of these holds.
CLAIM_REJECTIONS = frozenset(
    {
        ReasonCode.EXPIRED_WARRANTY,
        ReasonCode.CUSTOMER_DAMAGE,
        ReasonCode.NO_DEFECT_FOUND,
        ReasonCode.PART_NOT_RETURNED,
        ReasonCode.SUBMITTED_TOO_LATE,
        ReasonCode.DUPLICATE,
    }
)
