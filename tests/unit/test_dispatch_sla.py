"""Arrival due times (city 3 working hours, suburb 7, then by distance) and the loaner."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from services.dispatch.domain.arrival import ArrivalTargets, arrival_due, loaner_due
from services.dispatch.domain.calendar import CalendarError, WorkingHours, overlaps_working_hours

HOURS = WorkingHours.parse("Asia/Shanghai", "mon-fri 09:00-18:00", "2026-10-01")
TARGETS = ArrivalTargets()
# Wednesday 2026-11-25 10:00 in Shanghai.
START = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)


def test_city_is_three_working_hours() -> None:
    due = arrival_due(START, 5.0, "city", TARGETS, HOURS)
    assert due.target == "city" and due.due_at == START + timedelta(hours=3)


def test_suburb_is_seven_working_hours_running_into_the_next_day() -> None:
    due = arrival_due(START, 10.0, "suburb", TARGETS, HOURS)
    # 10:00 + 7 h of 09:00-18:00: 8 h left today → 17:00 the same day.
    assert due.due_at == START + timedelta(hours=7)
    late = START + timedelta(hours=6)  # 16:00
    assert arrival_due(late, 10.0, "suburb", TARGETS, HOURS).due_at == datetime(
        2026, 11, 26, 6, 0, tzinfo=UTC
    )  # 2 h today, 5 h tomorrow from 09:00 → 14:00


def test_a_night_request_counts_from_the_next_working_morning() -> None:
    night = datetime(2026, 11, 27, 14, 0, tzinfo=UTC)  # Friday 22:00
    due = arrival_due(night, 1.0, "city", TARGETS, HOURS)
    assert due.due_at == datetime(2026, 11, 30, 4, 0, tzinfo=UTC)  # Monday 12:00


@pytest.mark.parametrize(
    ("km", "target", "hours"),
    [(51, "within_300km", 24), (300, "within_300km", 24), (301, "within_1000km", 48),
     (1000, "within_1000km", 48), (1001, "beyond_1000km", 72)],
)  # fmt: skip
def test_by_distance_in_clock_hours(km: float, target: str, hours: int) -> None:
    due = arrival_due(START, km, "city", TARGETS, HOURS)
    assert (due.target, due.due_at) == (target, START + timedelta(hours=hours))


def test_without_coordinates_the_covering_points_zone_decides() -> None:
    assert arrival_due(START, None, "suburb", TARGETS, HOURS).target == "suburb"
    assert arrival_due(START, None, None, TARGETS, HOURS).target == "beyond_1000km"


def test_loaner_due_twelve_hours_after_arrival_and_within_a_day() -> None:
    required, due = loaner_due(START, TARGETS)
    assert required == START + timedelta(hours=12) and due == START + timedelta(hours=36)


def test_holidays_are_skipped_and_bad_hours_refused() -> None:
    before = datetime(2026, 9, 30, 9, 0, tzinfo=UTC)  # 17:00 local, a holiday follows
    assert HOURS.add_working_time(before, timedelta(hours=2)) == datetime(
        2026, 10, 2, 2, 0, tzinfo=UTC
    )
    with pytest.raises(CalendarError):
        WorkingHours.parse("Asia/Shanghai", "mon-fri 18:00-09:00")
    with pytest.raises(CalendarError):
        WorkingHours.parse("Asia/Shanghai", "someday 09:00-18:00")


def test_shifts_with_a_break_and_a_week_that_wraps() -> None:
    hours = WorkingHours.parse("Asia/Shanghai", "sat-mon 08:00-12:00,13:00-17:00", "2026-11-30")
    saturday = datetime(2026, 11, 28, 3, 30, tzinfo=UTC)  # 11:30 local
    # 30 min before the break, 1 h after it.
    assert hours.add_working_time(saturday, timedelta(hours=1, minutes=30)) == datetime(
        2026, 11, 28, 6, 0, tzinfo=UTC
    )
    spans = list(hours.spans_on(date(2026, 11, 29)))  # Sunday works
    assert [(s.hour, e.hour) for s, e in spans] == [(8, 12), (13, 17)]
    assert list(hours.spans_on(date(2026, 11, 30))) == []  # Monday is leave
    assert list(hours.spans_on(date(2026, 12, 1))) == []  # Tuesday is not in sat-mon


def test_working_hours_left_on_friday_carry_over_the_weekend() -> None:
    friday_five = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)  # Friday 17:00 in Shanghai
    due = arrival_due(friday_five, 5.0, "city", TARGETS, HOURS)
    # 1 h on Friday, 2 h from Monday 09:00 → Monday 11:00.
    assert due.due_at == datetime(2026, 11, 30, 3, 0, tzinfo=UTC)
    # By distance the clock runs through the weekend.
    far = arrival_due(friday_five, 500.0, "city", TARGETS, HOURS)
    assert far.due_at == friday_five + timedelta(hours=48)


def test_an_appointment_window_must_meet_a_shift() -> None:
    office = WorkingHours.parse("Asia/Shanghai", "mon-fri 09:00-18:00")
    monday_eight = datetime(2026, 11, 30, 0, 0, tzinfo=UTC)  # 08:00 in Shanghai
    assert not overlaps_working_hours(office, monday_eight, monday_eight + timedelta(hours=1))
    assert overlaps_working_hours(
        office, monday_eight, monday_eight + timedelta(hours=1, minutes=1)
    )
    saturday = datetime(2026, 11, 28, 2, 0, tzinfo=UTC)
    assert not overlaps_working_hours(office, saturday, saturday + timedelta(hours=4))
    night = WorkingHours.parse("Asia/Shanghai", "mon-sun 22:00-24:00")
    sunday_late = datetime(2026, 11, 29, 15, 0, tzinfo=UTC)  # 23:00
    assert overlaps_working_hours(night, sunday_late, sunday_late + timedelta(hours=2))
