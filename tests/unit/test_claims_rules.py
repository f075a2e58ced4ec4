"""Claims adjudication rules: each rule, each reason code, partial approval in Decimal."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from services.claims.domain.claim import ClaimedPart, ClaimSource, LineKind, WarrantyClaim
from services.claims.domain.policy import (
    CataloguePart,
    LabourOperation,
    LabourRate,
    WarrantyPolicy,
    operation_for,
    policy_in_force,
)
from services.claims.domain.rules import (
    CoreState,
    Evidence,
    Outcome,
    RuleSettings,
    Verdict,
    adjudicate,
    price_lines,
)

REPAIRED = datetime(2026, 11, 21, 8, 0, tzinfo=UTC)
POLICY = WarrantyPolicy("WX-200", date(2020, 1, 1), None, 12, travel_cap_km=Decimal("50"))
MOTOR = CataloguePart("P-1001", "motor", Decimal("350.00"), Decimal("200"), "S-01", True, REPAIRED)
SEAL = CataloguePart("P-2002", "seal", Decimal("12.50"), Decimal("5"), None, False, REPAIRED)
OPERATION = LabourOperation("PMP-142", "pumps", "motor replacement", Decimal("1.50"), "E42")
RATE = LabourRate("pumps", Decimal("120.00"), Decimal("1.50"))
SETTINGS = RuleSettings(
    submission_days=30, duplicate_window_days=30, review_threshold=Decimal("5000")
)


def claim(**changes: object) -> WarrantyClaim:
    values: dict[str, object] = {
        "claim_no": "WC-2026-000001",
        "request_no": "SR-2026-000001",
        "source": ClaimSource.DEALER_REPORT,
        "dealer_id": "D-1",
        "serial_no": "WX200-1",
        "product_model": "WX-200",
        "product_line": "pumps",
        "purchase_date": date(2026, 3, 1),
        "in_warranty_at_intake": True,
        "cause": "quality_defect",
        "fault_description": "开机无反应",
        "fault_code": "E42",
        "repaired_at": REPAIRED,
        "labour_hours": Decimal("1.50"),
        "travel_km": Decimal("20"),
        "parts": [ClaimedPart("P-2002", 2, None)],
        "opened_at": REPAIRED + timedelta(days=1),
    }
    values.update(changes)
    made = WarrantyClaim(**values)  # type: ignore[arg-type]
    made.lines = price_lines(made, {"P-1001": MOTOR, "P-2002": SEAL}, RATE, OPERATION)
    return made


def evidence(**changes: object) -> Evidence:
    values: dict[str, object] = {
        "policy": POLICY,
        "operation": OPERATION,
        "catalogue": {"P-1001": MOTOR, "P-2002": SEAL},
    }
    values.update(changes)
    return Evidence(**values)  # type: ignore[arg-type]


def rule(result: object, name: str) -> object:
    return next(r for r in result.results if r.rule.startswith(name))  # type: ignore[attr-defined]


def test_lines_are_priced_from_list_prices_and_rates() -> None:
    lines = claim().lines
    assert [(x.kind, x.amount_claimed) for x in lines] == [
        (LineKind.PART, Decimal("25.00")),
        (LineKind.LABOUR, Decimal("180.00")),
        (LineKind.TRAVEL, Decimal("30.00")),
    ]
    assert lines[1].operation_code == "PMP-142"


def test_a_clean_claim_is_approved_in_full() -> None:
    result = adjudicate(claim(), evidence(), SETTINGS)
    assert result.outcome is Outcome.APPROVED
    assert result.amount_approved == Decimal("235.00")
    assert result.reason_codes == []
    assert result.review_reasons == [] and result.parts_awaited == []
    assert {r.verdict for r in result.results} == {Verdict.PASSED}


def test_expired_warranty_rejects_with_ew() -> None:
    result = adjudicate(claim(purchase_date=date(2025, 11, 20)), evidence(), SETTINGS)
    assert result.outcome is Outcome.REJECTED
    assert "EW" in result.reason_codes
    assert result.amount_approved == 0
    # The last day of cover is still covered.
    assert adjudicate(claim(purchase_date=date(2025, 11, 22)), evidence(), SETTINGS).outcome is (
        Outcome.APPROVED
    )


def test_the_policy_in_force_at_purchase_applies() -> None:
    old = WarrantyPolicy("WX-200", date(2020, 1, 1), date(2025, 12, 31), 24)
    new = WarrantyPolicy("WX-200", date(2026, 1, 1), None, 12)
    assert policy_in_force([old, new], date(2025, 6, 1)) is old
    assert policy_in_force([old, new], date(2026, 3, 1)) is new
    assert policy_in_force([new], date(2019, 1, 1)) is None
    # Bought under the 24-month policy: still covered after 17 months.
    bought = claim(purchase_date=date(2025, 6, 1))
    assert adjudicate(bought, evidence(policy=old), SETTINGS).outcome is Outcome.APPROVED
    assert POLICY.expires_on(date(2024, 2, 29)) == date(2025, 2, 27)


@pytest.mark.parametrize("cause", ["misuse", "human_damage", "force_majeure"])
def test_misuse_and_damage_reject_with_cdr(cause: str) -> None:
    result = adjudicate(claim(cause=cause), evidence(), SETTINGS)
    assert result.outcome is Outcome.REJECTED and result.reason_codes == ["CDR"]


def test_a_cause_the_policy_excludes_rejects_with_cdr() -> None:
    policy = WarrantyPolicy("WX-200", date(2020, 1, 1), None, 12, excluded_causes=("flood",))
    result = adjudicate(claim(cause="flood"), evidence(policy=policy), SETTINGS)
    assert result.reason_codes == ["CDR"]


def test_an_unknown_cause_goes_to_an_adjuster() -> None:
    result = adjudicate(claim(cause="unknown"), evidence(), SETTINGS)
    assert rule(result, "cause").verdict is Verdict.UNDECIDED  # type: ignore[attr-defined]
    assert result.review_reasons


def test_no_defect_found_rejects_with_ndf() -> None:
    assert adjudicate(claim(cause="no_defect"), evidence(), SETTINGS).reason_codes == ["NDF"]
    nothing = claim(parts=[], labour_hours=Decimal("0"))
    assert "NDF" in adjudicate(nothing, evidence(), SETTINGS).reason_codes


def test_labour_above_standard_hours_is_cut_not_refused() -> None:
    result = adjudicate(claim(labour_hours=Decimal("2.75")), evidence(), SETTINGS)
    labour = next(x for x in result.lines if x.kind is LineKind.LABOUR)
    assert labour.amount_claimed == Decimal("330.00")
    assert labour.amount_approved == Decimal("180.00")  # 1.50 h × 120.00
    assert labour.reason_codes == ["ELH"]
    assert result.outcome is Outcome.PARTIALLY_APPROVED
    assert result.reason_codes == ["ELH", "PWA"]
    assert result.amount_approved == Decimal("235.00")


def test_excluded_parts_and_uncovered_items_are_refused_line_by_line() -> None:
    policy = WarrantyPolicy(
        "WX-200", date(2020, 1, 1), None, 12, covers_travel=False, excluded_parts=("P-2002",)
    )
    result = adjudicate(claim(), evidence(policy=policy), SETTINGS)
    assert [x.amount_approved for x in result.lines] == [
        Decimal("0.00"),
        Decimal("180.00"),
        Decimal("0.00"),
    ]
    assert result.lines[0].reason_codes == ["EXC"] and result.lines[2].reason_codes == ["EXC"]
    assert result.reason_codes == ["EXC", "PWA"]


def test_travel_above_the_cap_is_cut_to_the_cap() -> None:
    result = adjudicate(claim(travel_km=Decimal("80.5")), evidence(), SETTINGS)
    travel = result.lines[-1]
    assert travel.amount_claimed == Decimal("120.75")
    assert travel.amount_approved == Decimal("75.00")
    assert travel.reason_codes == ["EXC"]


def test_a_part_priced_above_list_is_cut_to_list() -> None:
    made = claim()
    made.lines[0].unit_price = Decimal("14.00")
    made.lines[0].amount_claimed = Decimal("28.00")
    result = adjudicate(made, evidence(), SETTINGS)
    assert result.lines[0].amount_approved == Decimal("25.00")
    assert result.outcome is Outcome.PARTIALLY_APPROVED


def test_partial_approval_adds_up_in_decimal_cents() -> None:
    made = claim(labour_hours=Decimal("1.55"), travel_km=Decimal("33.3"))
    result = adjudicate(made, evidence(), SETTINGS)
    assert sum(x.amount_claimed for x in result.lines) == Decimal("260.95")
    assert result.amount_approved == Decimal("254.95")  # 25.00 + 180.00 + 49.95
    assert all(x.amount_approved.as_tuple().exponent == -2 for x in result.lines)


def test_same_unit_and_fault_within_the_window_is_a_duplicate() -> None:
    earlier = [("WC-2026-000000", REPAIRED - timedelta(days=29))]
    assert adjudicate(claim(), evidence(earlier_claims=earlier), SETTINGS).reason_codes == ["DUP"]
    older = [("WC-2026-000000", REPAIRED - timedelta(days=31))]
    assert adjudicate(claim(), evidence(earlier_claims=older), SETTINGS).outcome is (
        Outcome.APPROVED
    )


def test_a_claim_that_claimed_nothing_is_no_duplicate_of_anything() -> None:
    # Misuse diagnosed before any repair: no part, labour or travel; rejected for the
    # customer's damage alone, however many claims the unit had before.
    nothing = claim(cause="misuse", parts=[], labour_hours=Decimal("0"), travel_km=Decimal("0"))
    earlier = [("WC-2026-000000", REPAIRED - timedelta(days=3))]
    result = adjudicate(nothing, evidence(earlier_claims=earlier), SETTINGS)
    assert result.reason_codes == ["CDR"]
    assert rule(result, "duplicate").verdict is Verdict.NOT_APPLICABLE  # type: ignore[attr-defined]


def test_submitted_too_late_rejects_with_sub() -> None:
    late = claim(opened_at=REPAIRED + timedelta(days=31))
    assert adjudicate(late, evidence(), SETTINGS).reason_codes == ["SUB"]
    in_time = claim(opened_at=REPAIRED + timedelta(days=30))
    assert adjudicate(in_time, evidence(), SETTINGS).outcome is Outcome.APPROVED


def test_an_old_part_that_must_come_back_holds_the_decision() -> None:
    made = claim(parts=[ClaimedPart("P-1001", 1, "OP-1")])
    waiting = adjudicate(made, evidence(), SETTINGS)
    assert waiting.parts_awaited == ["P-1001"]
    received = adjudicate(made, evidence(cores={"P-1001": CoreState.RECEIVED}), SETTINGS)
    assert received.parts_awaited == [] and received.outcome is Outcome.APPROVED
    overdue = adjudicate(made, evidence(cores={"P-1001": CoreState.OVERDUE}), SETTINGS)
    assert overdue.outcome is Outcome.REJECTED and overdue.reason_codes == ["PNR"]
    mismatched = adjudicate(made, evidence(cores={"P-1001": CoreState.MISMATCHED}), SETTINGS)
    assert mismatched.review_reasons


def test_what_the_rules_cannot_decide_goes_to_review() -> None:
    assert adjudicate(claim(), evidence(policy=None), SETTINGS).review_reasons
    assert adjudicate(claim(), evidence(operation=None), SETTINGS).review_reasons
    assert adjudicate(claim(purchase_date=None), evidence(), SETTINGS).review_reasons
    unknown_part = claim(parts=[ClaimedPart("P-9", 1, None)])
    assert adjudicate(unknown_part, evidence(), SETTINGS).review_reasons


def test_a_large_amount_goes_to_review() -> None:
    small = RuleSettings(review_threshold=Decimal("100"))
    result = adjudicate(claim(), evidence(), small)
    assert result.review_reasons == ["approved amount 235.00 above the review threshold"]


def test_a_claim_level_refusal_needs_no_review() -> None:
    result = adjudicate(
        claim(purchase_date=date(2020, 1, 1), cause="unknown"), evidence(), SETTINGS
    )
    assert result.outcome is Outcome.REJECTED and result.review_reasons == []


def test_the_fault_specific_operation_wins_over_the_general_one() -> None:
    general = LabourOperation("PMP-100", "pumps", "general", Decimal("2"))
    assert operation_for([general, OPERATION], "pumps", "E42") is OPERATION
    assert operation_for([general, OPERATION], "pumps", "E99") is general
    assert operation_for([general], "compressors", "E42") is None


def test_the_claimant_may_dispute_once_until_the_deadline_in_calendar_days() -> None:
    from services.claims.domain.claim import ClaimStatus, allowed_actions, dispute_deadline

    deadline = dispute_deadline(date(2026, 11, 27), 30)
    assert deadline == date(2026, 12, 27)
    approved = ClaimStatus.APPROVED
    assert allowed_actions(approved, False, False, deadline, date(2026, 12, 27)) == ["dispute"]
    assert allowed_actions(approved, False, False, deadline, date(2026, 12, 28)) == []
    assert allowed_actions(approved, True, False, deadline, date(2026, 12, 1)) == []
    assert allowed_actions(approved, False, True, None, date(2026, 12, 1)) == []
