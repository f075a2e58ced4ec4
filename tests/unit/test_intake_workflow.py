"""The service request's status machine."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.intake.domain.workflow import (
    DepartmentUpdate,
    IllegalTransition,
    RequestStatus,
    allowed_actions,
    check_reopen,
    check_staff_move,
    follows,
)

S = RequestStatus
T0 = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("action", "status"),
    [
        ("acknowledge", S.RECEIVED),
        ("triage", S.RECEIVED),
        ("triage", S.ACKNOWLEDGED),
        ("triage", S.HANDED_TO_DISPATCH),  # the agent changes their mind before assignment
        ("resolve_remotely", S.TRIAGED),
        ("close", S.RESOLVED_REMOTELY),
        ("close", S.REPAIRED),
        ("close", S.PAID),
        ("close", S.CLAIM_REJECTED),
        ("cancel", S.ON_SITE),
        ("cancel", S.RECEIVED),
        ("reopen", S.CLOSED),
    ],
)
def test_allowed_moves(action: str, status: RequestStatus) -> None:
    check_staff_move(action, status)


@pytest.mark.parametrize(
    ("action", "status"),
    [
        ("acknowledge", S.TRIAGED),
        ("triage", S.ASSIGNED),
        ("resolve_remotely", S.HANDED_TO_DISPATCH),
        ("close", S.ASSIGNED),
        ("close", S.RECEIVED),
        ("cancel", S.CLOSED),
        ("cancel", S.CANCELLED),
        ("reopen", S.CANCELLED),
        ("reopen", S.REPAIRED),
    ],
)
def test_illegal_moves_are_refused_naming_what_is_allowed(
    action: str, status: RequestStatus
) -> None:
    with pytest.raises(IllegalTransition) as refused:
        check_staff_move(action, status)
    assert refused.value.allowed == allowed_actions(status)
    assert action not in refused.value.allowed


def test_allowed_actions_of_a_new_request() -> None:
    assert allowed_actions(S.RECEIVED) == ["acknowledge", "cancel", "triage"]
    assert allowed_actions(S.CANCELLED) == []


def test_reopen_only_within_30_days_of_closing() -> None:
    check_reopen(T0, T0 + timedelta(days=30))
    with pytest.raises(IllegalTransition):
        check_reopen(T0, T0 + timedelta(days=30, seconds=1))


def test_newer_department_report_moves_the_status_older_one_does_not() -> None:
    on_site = DepartmentUpdate(S.ON_SITE, T0 + timedelta(hours=2))
    assigned_late = DepartmentUpdate(S.ASSIGNED, T0 + timedelta(hours=1))
    assert follows(S.HANDED_TO_DISPATCH, None, on_site)
    # "assigned" happened before "on site" but arrived after it: it must not win.
    assert not follows(S.ON_SITE, on_site.occurred_at, assigned_late)
    # The same report twice changes nothing harmful: same time, same status.
    assert follows(S.ON_SITE, on_site.occurred_at, on_site)


def test_closed_or_cancelled_requests_are_not_moved_by_departments() -> None:
    paid = DepartmentUpdate(S.PAID, T0)
    assert not follows(S.CLOSED, None, paid)
    assert not follows(S.CANCELLED, None, paid)


def test_only_department_statuses_come_from_departments() -> None:
    with pytest.raises(ValueError):
        follows(S.TRIAGED, None, DepartmentUpdate(S.CLOSED, T0))
