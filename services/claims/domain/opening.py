"""When a report from another service opens a warranty claim.

A claim is opened for work the company may owe under warranty: a quality defect or a cause
not yet known, unless the unit is known to be out of warranty; and, under warranty, for
damage the customer caused (misuse, human damage), so that the rules reject it ``CDR`` and
everyone sees who pays. Wear, or anything on a unit out of warranty, is paid service from the
start: billing's business, no claim.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum

from services.claims.domain.policy import WarrantyPolicy

# The customer's doing: no warranty covers it (the rules say CDR).
CUSTOMER_CAUSES = frozenset({"misuse", "human_damage"})
# The company (or a supplier) may owe the repair; an unknown cause is decided by the rules.
WARRANTY_CAUSES = frozenset({"quality_defect", "unknown"})


class Report(StrEnum):
    """What the claim is opened from."""

    DIAGNOSIS = "diagnosis"  # dispatch.job.diagnosed: on site, before any repair
    REPAIR = "repair"  # a completed job, a dealer's report, a workshop return


def under_warranty(
    in_warranty: bool | None,
    purchase_date: date | None,
    policy: WarrantyPolicy | None,
    on: date,
) -> bool | None:
    """Intake's word when it has one; else whether the policy in force at purchase still
    covered ``on``; None when neither is known."""
    if in_warranty is not None:
        return in_warranty
    if purchase_date is None or policy is None:
        return None
    return on <= policy.expires_on(purchase_date)


def opens_claim(report: Report, cause: str, covered: bool | None) -> bool:
    """Whether a report with this cause, on a unit whose warranty is ``covered`` (None:
    unknown), opens the request's claim."""
    if covered is False:
        return False
    if cause in CUSTOMER_CAUSES:
        # Rejecting misuse is only news while the customer expects warranty.
        return covered is True
    # A diagnosis of anything else opens nothing: the completed job reports what was repaired.
    return report is Report.REPAIR and cause in WARRANTY_CAUSES
