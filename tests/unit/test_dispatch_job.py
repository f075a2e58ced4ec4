"""The job's status machine, the sign-off requirement, the repeat-repair window, the same-day
rule, and the records staff enter (CSV lines reported by number)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from pydantic import ValidationError

from services.dispatch.domain.calendar import WorkingHours, end_of_working_day
from services.dispatch.domain.field_report import FieldReport, SignOffIn
from services.dispatch.domain.job import (
    Action,
    IllegalMove,
    JobStatus,
    Result,
    SignOff,
    completion_refusal,
    finished_status,
    is_repeat_repair,
    needs_promised_time,
    next_status,
    same_day_missed,
)
from services.dispatch.domain.staffing import ServicePointIn, TechnicianIn
from shared.csv_lines import parse_csv

NOW = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)


def test_the_happy_path_with_waiting_for_parts() -> None:
    status = JobStatus.ASSIGNED
    for action in (Action.ACCEPT, Action.DEPART, Action.ARRIVE, Action.WAIT_FOR_PARTS,
                   Action.RESUME, Action.COMPLETE):  # fmt: skip
        status = next_status(status, action)
    assert status is JobStatus.COMPLETED


def test_escalated_goes_back_on_site_or_is_finished() -> None:
    assert next_status(JobStatus.ON_SITE, Action.ESCALATE) is JobStatus.ESCALATED
    assert next_status(JobStatus.ESCALATED, Action.RESUME) is JobStatus.ON_SITE
    assert next_status(JobStatus.ESCALATED, Action.COMPLETE) is JobStatus.COMPLETED


def test_illegal_move_names_the_allowed_ones() -> None:
    with pytest.raises(IllegalMove) as refused:
        next_status(JobStatus.ASSIGNED, Action.ARRIVE)
    assert refused.value.allowed == ["accept", "decline"]
    with pytest.raises(IllegalMove) as finished:
        next_status(JobStatus.COMPLETED, Action.RESUME)
    assert finished.value.allowed == []


def test_decline_puts_the_job_back_in_the_queue_before_departure_only() -> None:
    assert next_status(JobStatus.ACCEPTED, Action.DECLINE) is JobStatus.UNASSIGNED
    with pytest.raises(IllegalMove):
        next_status(JobStatus.EN_ROUTE, Action.DECLINE)


def test_completion_needs_the_report_and_the_sign_off() -> None:
    signed = SignOff("张伟", NOW, None, "服务已完成，客户确认")
    assert completion_refusal(False, signed) is not None
    assert "signed" in (completion_refusal(True, None) or "")
    assert completion_refusal(True, signed) is None
    assert finished_status(Result.UNRESOLVED) is JobStatus.UNRESOLVED


def test_sign_off_needs_an_image_or_a_typed_confirmation() -> None:
    with pytest.raises(ValidationError):
        SignOffIn(signer="张伟")
    with pytest.raises(ValidationError):
        SignOffIn(signer="张伟", signature_png_base64="not base64!")
    assert SignOffIn(signer="张伟", signature_png_base64="iVBORw0KGgo=").signature_bytes() == 8


def test_field_report_checks_serials_against_quantities() -> None:
    base = {"findings": "轴承磨损", "work_done": "更换轴承", "labour_minutes": 90,
            "travel_km": "12.5", "cause": "wear", "result": "repaired"}  # fmt: skip
    FieldReport.model_validate(
        {**base, "parts_used": [{"part_no": "B-1", "quantity": 1, "serials": ["S1"]}]}
    )
    with pytest.raises(ValidationError):
        FieldReport.model_validate(
            {**base, "parts_used": [{"part_no": "B-1", "quantity": 1, "serials": ["S1", "S2"]}]}
        )
    with pytest.raises(ValidationError):
        FieldReport.model_validate({**base, "cause": "bad luck"})


def test_repeat_repair_window() -> None:
    window = timedelta(days=90)
    assert is_repeat_repair(NOW, NOW - timedelta(days=90), window)
    assert not is_repeat_repair(NOW, NOW - timedelta(days=91), window)


def test_same_day_rule_wants_a_promised_time_the_day_after() -> None:
    today = date(2026, 11, 25)
    yesterday = today - timedelta(days=1)
    assert needs_promised_time(yesterday, today, JobStatus.ON_SITE, promised=False)
    assert not needs_promised_time(yesterday, today, JobStatus.ON_SITE, promised=True)
    assert not needs_promised_time(today, today, JobStatus.ON_SITE, promised=False)
    assert not needs_promised_time(yesterday, today, JobStatus.COMPLETED, promised=False)


def test_technician_csv_keeps_good_rows_and_reports_bad_ones_by_line() -> None:
    text = (
        "id,name,skills,certified_until,service_point_id,shifts\n"
        "T-1,王伟,pumps;compressors,2027-06-30,SP-1,mon-fri 09:00-18:00\n"
        "T-2,李娜,,2027-06-30,SP-1,mon-fri 09:00-18:00\n"
        "T-3,张敏,pumps,someday,SP-1,mon-fri 09:00-18:00\n"
        "T-4,刘洋,pumps,2027-06-30,SP-1,whenever\n"
        "T-1,陈杰,pumps,2027-06-30,SP-1,mon-fri 09:00-18:00\n"
    )
    parsed = parse_csv(text, TechnicianIn, "id")
    assert [line for line, _ in parsed.rows] == [2]
    assert parsed.rows[0][1].skills == ["compressors", "pumps"]
    assert [r.line for r in parsed.rejected] == [3, 4, 5, 6]
    assert "skills" in parsed.rejected[0].errors[0]
    assert "already on line 2" in parsed.rejected[3].errors[0]


def test_csv_header_problems_are_reported_on_line_one() -> None:
    parsed = parse_csv("id,name,colour\n", ServicePointIn, "id")
    assert parsed.rejected[0].line == 1
    assert "missing columns: region" in parsed.rejected[0].errors[0]
    assert "unknown columns: colour" in parsed.rejected[0].errors[1]


def test_same_day_rule_is_flagged_at_the_end_of_the_technicians_working_day() -> None:
    hours = WorkingHours.parse("Asia/Shanghai", "mon-fri 08:00-12:00,13:00-17:30", "2026-11-26")
    wednesday = date(2026, 11, 25)
    ends = end_of_working_day(hours, wednesday)
    assert ends == datetime(2026, 11, 25, 9, 30, tzinfo=UTC)  # 17:30 in Shanghai
    # On leave (or no shift) the day ends at midnight.
    assert end_of_working_day(hours, date(2026, 11, 26)) == datetime(
        2026, 11, 26, 16, 0, tzinfo=UTC
    )
    before, after = ends - timedelta(minutes=1), ends
    assert not same_day_missed(ends, before, JobStatus.ON_SITE, promised=False)
    assert same_day_missed(ends, after, JobStatus.ON_SITE, promised=False)
    assert same_day_missed(ends, after, JobStatus.ASSIGNED, promised=False)
    assert not same_day_missed(ends, after, JobStatus.ON_SITE, promised=True)
    assert not same_day_missed(ends, after, JobStatus.COMPLETED, promised=False)
    assert not same_day_missed(ends, after, JobStatus.UNASSIGNED, promised=False)


# Every legal move, written out: anything else is illegal and names these.
LEGAL = {
    ("assigned", "accept"): "accepted",
    ("assigned", "decline"): "unassigned",
    ("accepted", "depart"): "en_route",
    ("accepted", "decline"): "unassigned",
    ("en_route", "arrive"): "on_site",
    ("on_site", "wait-for-parts"): "waiting_parts",
    ("on_site", "complete"): "completed",
    ("on_site", "escalate"): "escalated",
    ("waiting_parts", "resume"): "on_site",
    ("waiting_parts", "escalate"): "escalated",
    ("escalated", "resume"): "on_site",
    ("escalated", "complete"): "completed",
}


@pytest.mark.parametrize("status", list(JobStatus))
@pytest.mark.parametrize("action", list(Action))
def test_the_whole_status_machine(status: JobStatus, action: Action) -> None:
    allowed = sorted(a for (s, a) in LEGAL if s == status.value)
    if (status.value, action.value) in LEGAL:
        assert next_status(status, action).value == LEGAL[(status.value, action.value)]
    else:
        with pytest.raises(IllegalMove) as refused:
            next_status(status, action)
        assert refused.value.allowed == allowed
