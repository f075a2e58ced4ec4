"""Where a job's parts come from, and in which order backorders are filled."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.parts.domain.allocation import Priority, WaitingLine, allocate, fill_order, share_out

T0 = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)


def test_the_service_centre_first_then_central_then_backorder() -> None:
    all_local = allocate("P-1", 3, service_centre_available=5, central_available=10)
    assert (all_local.from_service_centre, all_local.from_central, all_local.backordered) == (
        3,
        0,
        0,
    )
    split = allocate("P-1", 6, service_centre_available=2, central_available=3)
    assert (split.from_service_centre, split.from_central, split.backordered) == (2, 3, 1)
    assert split.reserved == 5
    nothing = allocate("P-1", 4, 0, 0)
    assert nothing.backordered == 4
    with pytest.raises(ValueError):
        allocate("P-1", 0, 1, 1)


def test_backorders_are_filled_by_priority_then_age() -> None:
    old_ordinary = WaitingLine(1, Priority.ORDINARY, T0, 2)
    new_urgent = WaitingLine(2, Priority.URGENT, T0 + timedelta(hours=5), 2)
    old_urgent = WaitingLine(3, Priority.URGENT, T0 + timedelta(hours=1), 1)
    emergency = WaitingLine(4, Priority.EMERGENCY, T0 + timedelta(hours=9), 1)
    order = fill_order([old_ordinary, new_urgent, old_urgent, emergency])
    assert [line.line_id for line in order] == [4, 3, 2, 1]
    given = share_out(3, [old_ordinary, new_urgent, old_urgent, emergency])
    assert [(line.line_id, take) for line, take in given] == [(4, 1), (3, 1), (2, 1)]


def test_an_unknown_priority_waits_as_ordinary() -> None:
    assert Priority.of("whatever") is Priority.ORDINARY
    assert Priority.of("urgent") is Priority.URGENT
