"""Which reports open a warranty claim, and how the rules decide a claim for misuse found on
site (nothing repaired yet) or on a workshop return."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from services.claims.domain.claim import ClaimedPart, ClaimSource, LineKind
from services.claims.domain.opening import Report, opens_claim, under_warranty
from services.claims.domain.policy import WarrantyPolicy
from services.claims.domain.rules import Outcome, Verdict, adjudicate
from tests.unit.test_claims_rules import REPAIRED, SETTINGS, claim, evidence, rule

POLICY = WarrantyPolicy("WX-200", date(2020, 1, 1), None, 12)


@pytest.mark.parametrize(
    ("report", "cause", "covered", "opens"),
    [
        # On site, before any repair: only the customer's damage under warranty is news.
        (Report.DIAGNOSIS, "misuse", True, True),
        (Report.DIAGNOSIS, "human_damage", True, True),
        (Report.DIAGNOSIS, "misuse", None, False),
        (Report.DIAGNOSIS, "misuse", False, False),
        (Report.DIAGNOSIS, "quality_defect", True, False),
        (Report.DIAGNOSIS, "unknown", None, False),
        (Report.DIAGNOSIS, "wear", True, False),
        # A repair: warranty work unless known out of warranty; misuse only under warranty.
        (Report.REPAIR, "quality_defect", True, True),
        (Report.REPAIR, "quality_defect", None, True),
        (Report.REPAIR, "unknown", None, True),
        (Report.REPAIR, "quality_defect", False, False),
        (Report.REPAIR, "misuse", True, True),
        (Report.REPAIR, "misuse", None, False),
        (Report.REPAIR, "misuse", False, False),
        (Report.REPAIR, "wear", True, False),
    ],
)
def test_which_reports_open_a_claim(
    report: Report, cause: str, covered: bool | None, opens: bool
) -> None:
    assert opens_claim(report, cause, covered) is opens


def test_warranty_is_intakes_word_else_the_policy_in_force_at_purchase() -> None:
    bought = date(2026, 3, 1)
    last_day = date(2027, 2, 28)
    assert under_warranty(False, bought, POLICY, bought) is False
    assert under_warranty(True, bought, POLICY, last_day + timedelta(days=30)) is True
    assert under_warranty(None, bought, POLICY, last_day) is True
    assert under_warranty(None, bought, POLICY, last_day + timedelta(days=1)) is False
    assert under_warranty(None, None, POLICY, bought) is None
    assert under_warranty(None, bought, None, bought) is None


def test_misuse_diagnosed_before_any_repair_is_rejected_cdr_with_nothing_claimed() -> None:
    diagnosed = claim(
        source=ClaimSource.JOB,
        cause="misuse",
        parts=[],
        labour_hours=Decimal("0.00"),
        travel_km=Decimal("0.0"),
    )
    assert diagnosed.lines == []
    result = adjudicate(diagnosed, evidence(), SETTINGS)
    assert result.outcome is Outcome.REJECTED
    # The defect was found (the customer's doing): CDR alone, not "no defect found" too.
    assert result.reason_codes == ["CDR"]
    assert rule(result, "cause").verdict is Verdict.FAILED  # type: ignore[attr-defined]
    assert rule(result, "defect_found").verdict is Verdict.NOT_APPLICABLE  # type: ignore[attr-defined]
    assert result.review_reasons == [] and result.parts_awaited == []
    assert result.amount_approved == Decimal("0.00")


def test_nothing_repaired_for_a_quality_defect_is_still_no_defect_found() -> None:
    nothing = claim(parts=[], labour_hours=Decimal("0.00"), travel_km=Decimal("0.0"))
    result = adjudicate(nothing, evidence(), SETTINGS)
    assert result.reason_codes == ["NDF"]


def test_a_workshop_return_is_priced_without_travel_and_judged_by_the_usual_rules() -> None:
    returned = claim(
        source=ClaimSource.RETURN,
        dealer_id=None,
        travel_km=Decimal("0.0"),
        parts=[ClaimedPart("P-2002", 1, "OP-3")],
        repaired_at=REPAIRED,
    )
    assert [line.kind for line in returned.lines] == [LineKind.PART, LineKind.LABOUR]
    approved = adjudicate(returned, evidence(), SETTINGS)
    assert approved.outcome is Outcome.APPROVED
    assert approved.amount_approved == Decimal("192.50")  # 12.50 + 1.5 h × 120
    misused = claim(
        source=ClaimSource.RETURN,
        cause="misuse",
        travel_km=Decimal("0.0"),
        parts=[ClaimedPart("P-2002", 1, "OP-3")],
    )
    rejected = adjudicate(misused, evidence(), SETTINGS)
    assert rejected.outcome is Outcome.REJECTED and rejected.reason_codes == ["CDR"]
    assert rejected.amount_approved == Decimal("0.00")
