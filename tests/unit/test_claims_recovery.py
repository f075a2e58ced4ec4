"""Supplier recovery amounts and dispute window; the quality watch's quarter and threshold."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

from services.claims.domain.claim import ClaimLine, LineKind
from services.claims.domain.quality import alert_due, quarter_bounds, quarter_of
from services.claims.domain.recovery import (
    RecoveryState,
    becomes_final,
    dispute_deadline,
    may_dispute,
    recovery_amounts,
    with_chargeback,
)


def line(no: int, kind: LineKind, approved: str, supplier: str | None = None) -> ClaimLine:
    return ClaimLine(
        line_no=no,
        kind=kind,
        description="",
        quantity=Decimal(1),
        unit_price=Decimal(approved),
        amount_claimed=Decimal(approved),
        amount_approved=Decimal(approved),
        part_no=f"P-{no}" if kind is LineKind.PART else None,
        supplier_id=supplier,
    )


def test_one_supplier_pays_parts_labour_travel_and_its_assessment() -> None:
    lines = [
        line(1, LineKind.PART, "350.00", "S-01"),
        line(2, LineKind.PART, "12.50"),
        line(3, LineKind.LABOUR, "180.00"),
        line(4, LineKind.TRAVEL, "30.00"),
    ]
    [recovery] = recovery_amounts(lines, {"S-01": Decimal("800")})
    assert recovery.material == Decimal("350.00")
    assert (recovery.labour, recovery.travel, recovery.other) == (
        Decimal("180.00"),
        Decimal("30.00"),
        Decimal("0.00"),
    )
    assert recovery.total == Decimal("1360.00")
    assert recovery.part_nos == ["P-1"]


def test_two_suppliers_share_labour_and_travel_to_the_cent() -> None:
    lines = [
        line(1, LineKind.PART, "100.00", "S-01"),
        line(2, LineKind.PART, "50.00", "S-02"),
        line(3, LineKind.LABOUR, "100.01"),
    ]
    first, second = recovery_amounts(lines, {"S-01": Decimal("500"), "S-02": Decimal("500")})
    assert first.labour + second.labour == Decimal("100.01")
    assert (first.labour, second.labour) == (Decimal("50.00"), Decimal("50.01")) or (
        first.labour,
        second.labour,
    ) == (Decimal("50.01"), Decimal("50.00"))


def test_no_supplier_part_no_recovery() -> None:
    assert recovery_amounts([line(1, LineKind.PART, "10.00")], {}) == []


def test_the_dispute_window_counts_calendar_days_and_is_final_on_day_six() -> None:
    issued = date(2026, 11, 27)  # a Friday: the weekend counts
    deadline = dispute_deadline(issued, 5)
    assert deadline == date(2026, 12, 2)
    assert may_dispute(RecoveryState.ISSUED, deadline, date(2026, 12, 2))
    assert not may_dispute(RecoveryState.ISSUED, deadline, date(2026, 12, 3))
    assert not becomes_final(RecoveryState.ISSUED, deadline, date(2026, 12, 2))
    assert becomes_final(RecoveryState.ISSUED, deadline, date(2026, 12, 3))
    assert not becomes_final(RecoveryState.DISPUTED, deadline, date(2026, 12, 9))


def test_quarters_and_the_alert_threshold() -> None:
    moment = datetime(2026, 11, 21, tzinfo=UTC)
    assert quarter_of(moment) == "2026-Q4"
    assert quarter_bounds(moment) == (
        datetime(2026, 10, 1, tzinfo=UTC),
        datetime(2027, 1, 1, tzinfo=UTC),
    )
    assert quarter_bounds(datetime(2026, 2, 1, tzinfo=UTC))[1] == datetime(2026, 4, 1, tzinfo=UTC)
    assert not alert_due(10, 10)
    assert alert_due(11, 10)


def test_the_assessment_counts_every_failed_unit_of_the_suppliers_part() -> None:
    two = line(1, LineKind.PART, "700.00", "S-01")
    two = ClaimLine(**{**vars(two), "quantity": Decimal(2), "unit_price": Decimal("350.00")})
    [recovery] = recovery_amounts([two], {"S-01": Decimal("800")})
    assert (recovery.failed_units, recovery.assessment_per_unit) == (2, Decimal("800"))
    assert recovery.assessment == Decimal("1600")
    assert recovery.total == Decimal("2300.00")


def test_every_chargeback_is_kept_in_issue_order_whatever_order_they_arrive_in() -> None:
    first_at = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    # The additional charge after a correction arrives first, stamped in another zone.
    later = with_chargeback(
        [],
        "SC-2",
        Decimal("-180.00"),
        "chargeback",
        first_at.astimezone(timezone(timedelta(hours=8))) + timedelta(days=3),
    )
    assert later is not None
    both = with_chargeback(later, "SC-1", Decimal("1360.00"), "chargeback", first_at)
    assert both is not None
    assert [c["chargeback_no"] for c in both] == ["SC-1", "SC-2"]
    assert both[0] == {
        "chargeback_no": "SC-1",
        "total": "1360.00",
        "settle_by": "chargeback",
        "issued_at": "2026-12-01T09:00:00+00:00",
    }
    assert both[1]["issued_at"] == "2026-12-04T09:00:00+00:00"
    # A replay of either changes nothing.
    assert with_chargeback(both, "SC-2", Decimal("-180.00"), "chargeback", first_at) is None
    assert with_chargeback(both, "SC-1", Decimal("1360.00"), "chargeback", first_at) is None
    # One kept before its issue time was (migrated) sorts first.
    old = [{"chargeback_no": "SC-0", "total": None, "settle_by": None, "issued_at": None}]
    merged = with_chargeback(old, "SC-3", Decimal("1"), "deduction", first_at)
    assert merged is not None and [c["chargeback_no"] for c in merged] == ["SC-0", "SC-3"]
