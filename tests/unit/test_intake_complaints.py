"""Complaint handling rules: quality complaints go on once, verification before the result,
nothing after it; the analysis counts by cause, model and month."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.intake.domain.complaint import (
    Complaint,
    ComplaintAnalysis,
    ComplaintCause,
    ComplaintRefused,
    ComplaintStatus,
    HandlingStep,
    StepKind,
)

T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
C = ComplaintCause


def _complaint(cause: ComplaintCause = C.SERVICE_ATTITUDE) -> Complaint:
    return Complaint("CP-2026-000001", "SR-2026-000001", "WX-200", "态度差", cause, T0, T0)


def _step(kind: StepKind, minutes: int = 5) -> HandlingStep:
    return HandlingStep(T0 + timedelta(minutes=minutes), kind, "已联系客户", "agent-1")


def test_a_quality_complaint_is_due_for_quality_until_reported() -> None:
    complaint = _complaint(C.PRODUCT_QUALITY)
    assert complaint.is_quality and complaint.due_for_quality_report
    reported = complaint.reported(T0)
    assert not reported.due_for_quality_report
    # Reclassified to quality again after being passed on: not passed on twice.
    assert not reported.classify(C.OTHER).classify(C.PRODUCT_QUALITY).due_for_quality_report


def test_other_causes_are_not_passed_on_until_reclassified() -> None:
    complaint = _complaint()
    assert not complaint.due_for_quality_report
    assert complaint.classify(C.PRODUCT_QUALITY).due_for_quality_report


def test_verification_comes_before_the_result() -> None:
    complaint = _complaint().add_step(_step(StepKind.CONTACT))
    assert complaint.status is ComplaintStatus.OPEN
    with pytest.raises(ComplaintRefused) as refused:
        complaint.resolve("已道歉", T0)
    assert refused.value.allowed == ["add_step", "classify"]
    verified = complaint.add_step(_step(StepKind.VERIFICATION, 30))
    assert verified.status is ComplaintStatus.VERIFIED and len(verified.steps) == 2
    resolved = verified.resolve("已道歉并赠送保养", T0 + timedelta(hours=1))
    assert (resolved.status, resolved.result) == (ComplaintStatus.RESOLVED, "已道歉并赠送保养")


def test_nothing_changes_a_resolved_complaint() -> None:
    resolved = _complaint().add_step(_step(StepKind.VERIFICATION)).resolve("完成", T0)
    for change in (
        lambda: resolved.add_step(_step(StepKind.NOTE)),
        lambda: resolved.classify(C.OTHER),
        lambda: resolved.resolve("again", T0),
    ):
        with pytest.raises(ComplaintRefused) as refused:
            change()
        assert refused.value.allowed == []


def test_analysis_counts_by_cause_model_and_month() -> None:
    analysis = ComplaintAnalysis.of(
        [
            ("product_quality", "WX-200", datetime(2026, 10, 3, tzinfo=UTC)),
            ("product_quality", "WX-300", datetime(2026, 11, 1, tzinfo=UTC)),
            ("service_attitude", "WX-200", datetime(2026, 11, 20, tzinfo=UTC)),
        ]
    )
    assert analysis.total == 3 and analysis.quality == 2
    assert analysis.by_cause == {"product_quality": 2, "service_attitude": 1}
    assert analysis.by_model == {"WX-200": 2, "WX-300": 1}
    assert analysis.by_month == {"2026-10": 1, "2026-11": 2}
    assert ("month", "2026-11", 2) in analysis.csv_rows()
    assert ComplaintAnalysis.of([]).total == 0
