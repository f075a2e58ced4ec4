"""When a claim entered review, and when a supplier's dispute is near its deadline."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from services.claims.domain.claim import in_review_since
from services.claims.domain.recovery import (
    RecoveryState,
    dispute_near_deadline,
    dispute_window_ends,
)

NOW = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)
DAY = timedelta(hours=24)


def _move(to: str, at: datetime) -> dict[str, str | None]:
    return {"from": "x", "to": to, "at": at.isoformat(), "by": "rules", "note": None}


def test_a_claim_is_in_review_since_its_last_move_into_review() -> None:
    first, second = NOW - timedelta(days=9), NOW - timedelta(hours=3)
    history = [
        _move("in_review", first),
        _move("disputed", first + DAY),
        _move("in_review", second),
    ]
    assert in_review_since(history) == second
    assert in_review_since([_move("approved", first)]) is None


def test_the_dispute_window_ends_at_midnight_utc_after_its_last_day() -> None:
    assert dispute_window_ends(date(2026, 11, 24)) == datetime(2026, 11, 25, tzinfo=UTC)


@pytest.mark.parametrize(
    ("now", "deadline", "near"),
    [
        (NOW, date(2026, 11, 24), True),  # ends in 23 h
        (NOW - timedelta(hours=2), date(2026, 11, 24), False),  # ends in 25 h
        (NOW + timedelta(days=3), date(2026, 11, 24), True),  # passed and still not ruled
    ],
)
def test_a_dispute_not_ruled_on_is_near_its_deadline_within_the_warning(
    now: datetime, deadline: date, near: bool
) -> None:
    assert dispute_near_deadline(RecoveryState.DISPUTED, deadline, now, DAY) is near


@pytest.mark.parametrize("state", [s for s in RecoveryState if s is not RecoveryState.DISPUTED])
def test_only_disputes_waiting_for_a_ruling_are_near_a_deadline(state: RecoveryState) -> None:
    assert not dispute_near_deadline(state, date(2026, 11, 24), NOW, DAY)
