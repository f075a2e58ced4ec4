"""Intake follows the other departments: every report on the timeline, only the newest
report's status on the request, duplicates once, nothing moves a closed request."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.intake.domain.service_request import (
    Channel,
    Customer,
    Department,
    DepartmentReport,
    ServiceRequest,
    Technician,
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
