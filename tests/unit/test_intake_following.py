"""Intake follows the other departments: every report on the timeline, only the newest
report's status on the request, duplicates once, nothing moves a closed request."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.intake.domain.service_request import (
    Channel,
    Customer,
    Department,
    DepartmentReport,
    RequestProgress,
    ServiceRequest,
    Technician,
    TimelineAt,
)
from services.intake.domain.workflow import RequestStatus

S = RequestStatus
T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
NOW = T0 + timedelta(days=1)


def _request(status: RequestStatus = S.HANDED_TO_DISPATCH) -> ServiceRequest:
    return ServiceRequest(
        request_no="SR-2026-000001", channel=Channel.PHONE, customer=Customer("张伟", "138"),
        product_model="WX-200", serial_no="S-1", fault_description="漏水", received_at=T0,
        status=status,
    )  # fmt: skip


def _report(status: RequestStatus | None, minutes: int, summary: str = "x") -> DepartmentReport:
    return DepartmentReport(Department.DISPATCH, T0 + timedelta(minutes=minutes), summary, status)


def test_newer_report_moves_the_status_and_goes_on_the_timeline() -> None:
    request = _request()
    entry = request.follow(_report(S.ASSIGNED, 10, "已派工"), NOW)
    assert (
        entry is not None and entry.status is S.ASSIGNED and entry.at == T0 + timedelta(minutes=10)
    )
    assert request.status is S.ASSIGNED
    assert request.last_department_update_at == T0 + timedelta(minutes=10)
    assert request.updated_at == NOW


def test_older_report_goes_on_the_timeline_but_leaves_the_newer_status() -> None:
    request = _request()
    request.follow(_report(S.ON_SITE, 60, "到场"), NOW)
    entry = request.follow(_report(S.ASSIGNED, 10, "已派工"), NOW)
    assert request.status is S.ON_SITE
    assert entry is not None and entry.status is S.ASSIGNED
    assert [e.status for e in request.timeline] == [S.ON_SITE, S.ASSIGNED]


def test_the_same_report_twice_is_recorded_once() -> None:
    request = _request()
    assert request.follow(_report(S.ASSIGNED, 10, "已派工"), NOW) is not None
    assert request.follow(_report(S.ASSIGNED, 10, "已派工"), NOW) is None
    assert len(request.timeline) == 1


def test_a_report_without_a_status_keeps_the_current_one() -> None:
    request = _request(S.ASSIGNED)
    entry = request.follow(_report(None, 20, "已约定上门时间"), NOW)
    assert entry is not None and entry.status is S.ASSIGNED
    assert request.status is S.ASSIGNED and request.last_department_update_at is None


def test_nothing_moves_a_closed_or_cancelled_request() -> None:
    for final in (S.CLOSED, S.CANCELLED):
        request = _request(final)
        entry = request.follow(_report(S.PAID, 10, "已收款"), NOW)
        assert request.status is final
        assert entry is not None and entry.status is S.PAID  # still shown on the timeline


def test_a_later_assignment_replaces_the_technician_an_older_one_does_not() -> None:
    request = _request()
    request.assign(Technician("T2", "王五", T0 + timedelta(hours=2)))
    request.assign(Technician("T1", "李四", T0 + timedelta(hours=1)))
    assert request.technician is not None and request.technician.technician_id == "T2"
    request.assign(Technician("T3", "赵六", T0 + timedelta(hours=3)))
    assert request.technician.technician_id == "T3"


def test_a_late_report_without_a_status_shows_under_the_step_it_happened_in() -> None:
    request = _request(S.ASSIGNED)
    request.follow(_report(S.ASSIGNED, 10, "已派工"), NOW)
    request.follow(_report(S.ON_SITE, 60, "到场"), NOW)
    entry = request.follow(_report(None, 20, "已约定上门时间"), NOW)
    assert entry is not None and entry.status is S.ASSIGNED


# Following without the request or its timeline at hand: what the timeline shows at the
# report's moment is all of it that counts.


def _progress(status: RequestStatus = S.HANDED_TO_DISPATCH) -> RequestProgress:
    return RequestProgress(status, None, None, T0)


def test_progress_follows_a_newer_report_and_keeps_a_newer_status_from_an_older_one() -> None:
    progress = _progress()
    nothing_then = TimelineAt(has_report=False, status=None)
    entry = progress.follow(_report(S.ON_SITE, 60, "到场"), nothing_then, NOW)
    assert entry is not None and entry.status is S.ON_SITE and progress.status is S.ON_SITE
    assert progress.last_department_update_at == T0 + timedelta(minutes=60)
    assert progress.updated_at == NOW
    older = progress.follow(_report(S.ASSIGNED, 10, "已派工"), nothing_then, NOW + timedelta(1))
    assert older is not None and older.status is S.ASSIGNED
    assert progress.status is S.ON_SITE
    assert progress.last_department_update_at == T0 + timedelta(minutes=60)


def test_progress_shows_a_report_without_a_status_under_the_timeline_s_status_then() -> None:
    progress = _progress(S.ON_SITE)
    entry = progress.follow(_report(None, 20, "已约定上门时间"), TimelineAt(False, S.ASSIGNED), NOW)
    assert entry is not None and entry.status is S.ASSIGNED and progress.status is S.ON_SITE
    # Nothing on the timeline then: under the request's status.
    entry = progress.follow(_report(None, 1, "备注"), TimelineAt(False, None), NOW)
    assert entry is not None and entry.status is S.ON_SITE


def test_progress_changes_nothing_for_a_report_already_on_the_timeline() -> None:
    progress = _progress()
    assert (
        progress.follow(_report(S.ASSIGNED, 10, "已派工"), TimelineAt(True, S.ASSIGNED), NOW)
        is None
    )
    assert progress == _progress()


def test_progress_and_request_agree_on_the_timeline_s_status_at_a_moment() -> None:
    request = _request()
    request.follow(_report(S.ASSIGNED, 10, "已派工"), NOW)
    request.follow(_report(S.ON_SITE, 10, "到场"), NOW)  # same moment, later: it counts
    assert request.timeline_at(_report(None, 10, "y")) == TimelineAt(False, S.ON_SITE)
    assert request.timeline_at(_report(None, 5, "y")) == TimelineAt(False, None)
    assert request.timeline_at(_report(None, 10, "到场")) == TimelineAt(True, S.ON_SITE)


def test_progress_takes_a_later_assignment_not_an_older_one() -> None:
    progress = _progress()
    progress.assign(Technician("T2", "王五", T0 + timedelta(hours=2)))
    progress.assign(Technician("T1", "李四", T0 + timedelta(hours=1)))
    assert progress.technician is not None and progress.technician.technician_id == "T2"
