"""The intake working calendar: opening hours, holidays, moved working days, working time.

Shanghai is UTC+8 all year (no daylight saving), so 09:00 there is 01:00 UTC; dates in late
2026: Fri 2026-11-27, Sat 11-28, Sun 11-29, Mon 11-30; 国庆 2026-10-01 (Thu) to 10-07 (Wed),
with Saturday 2026-10-10 moved to a working day.
"""

from __future__ import annotations

import random
import time as clock
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from services.intake.domain.calendar import WorkingCalendar

SHANGHAI = ZoneInfo("Asia/Shanghai")


def local(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """A Shanghai wall-clock time, handed over in UTC as the service does."""
    return datetime(year, month, day, hour, minute, tzinfo=SHANGHAI).astimezone(UTC)


def national_day(workday: bool = True) -> WorkingCalendar:
    return WorkingCalendar.parse(
        holidays="2026-10-01..2026-10-07", workdays="2026-10-10" if workday else ""
    )


# --- the default calendar and is_working ---------------------------------------------------


def test_default_calendar_is_monday_to_friday_nine_to_six_in_shanghai() -> None:
    calendar = WorkingCalendar.default()
    office = ((time(9, 0), time(18, 0)),)
    assert calendar.zone == SHANGHAI
    assert [calendar.hours[day] for day in range(7)] == [office] * 5 + [(), ()]
    assert calendar.holidays == frozenset()
    assert calendar.workdays == frozenset()


@pytest.mark.parametrize(
    ("at", "working"),
    [
        (datetime(2026, 11, 30, 1, 0, tzinfo=UTC), True),  # Mon 09:00 Shanghai: opening
        (datetime(2026, 11, 30, 0, 59, tzinfo=UTC), False),  # Mon 08:59
        (datetime(2026, 11, 30, 9, 59, tzinfo=UTC), True),  # Mon 17:59
        (datetime(2026, 11, 30, 10, 0, tzinfo=UTC), False),  # Mon 18:00: closing is outside
        (datetime(2026, 11, 28, 2, 0, tzinfo=UTC), False),  # Sat 10:00
        # Friday 16:30 in UTC but Saturday 00:30 in Shanghai: the local date decides.
        (datetime(2026, 11, 27, 16, 30, tzinfo=UTC), False),
    ],
)
def test_is_working_reads_hours_in_local_time(at: datetime, working: bool) -> None:
    assert WorkingCalendar.default().is_working(at) is working


@pytest.mark.parametrize(
    ("at", "working"),
    [
        (local(2026, 10, 1, 10), False),  # Thu, 国庆
        (local(2026, 10, 7, 10), False),  # Wed, last day of the range
        (local(2026, 10, 8, 10), True),  # Thu, back at work
        (local(2026, 10, 10, 10), True),  # Sat moved to a working day
        (local(2026, 10, 10, 18), False),  # ... with Monday's hours, so closed at 18:00
        (local(2026, 10, 17, 10), False),  # an ordinary Saturday
    ],
)
def test_holidays_close_and_moved_workdays_open(at: datetime, working: bool) -> None:
    assert national_day().is_working(at) is working


def test_naive_datetimes_are_refused() -> None:
    calendar = WorkingCalendar.default()
    naive = datetime(2026, 11, 30, 10, 0)
    aware = local(2026, 11, 30, 10)
    with pytest.raises(ValueError, match="timezone-aware"):
        calendar.is_working(naive)
    with pytest.raises(ValueError, match="timezone-aware"):
        calendar.add_working_time(naive, timedelta(hours=1))
    with pytest.raises(ValueError, match="timezone-aware"):
        calendar.working_time_between(naive, aware)
    with pytest.raises(ValueError, match="timezone-aware"):
        calendar.working_time_between(aware, naive)


# --- add_working_time ------------------------------------------------------------------------


def test_friday_evening_plus_one_hour_is_monday_morning() -> None:
    # Fri 17:30 Shanghai = 09:30Z; 30 min to closing, 30 min from Monday's opening:
    # Mon 09:30 Shanghai = 01:30Z.
    result = WorkingCalendar.default().add_working_time(
        datetime(2026, 11, 27, 9, 30, tzinfo=UTC), timedelta(hours=1)
    )
    assert result == datetime(2026, 11, 30, 1, 30, tzinfo=UTC)
    assert result.tzinfo is UTC


def test_start_in_another_zone_is_accepted_and_the_answer_is_utc() -> None:
    start = datetime(2026, 11, 27, 17, 30, tzinfo=SHANGHAI)
    result = WorkingCalendar.default().add_working_time(start, timedelta(hours=1))
    assert result == datetime(2026, 11, 30, 1, 30, tzinfo=UTC)
    assert result.tzinfo is UTC


@pytest.mark.parametrize(
    ("start", "duration", "expected"),
    [
        # At closing: nothing left on Friday, Monday 09:00 + 1 h.
        (local(2026, 11, 27, 18), timedelta(hours=1), local(2026, 11, 30, 10)),
        # A count that runs out at closing ends there, not at the next opening.
        (local(2026, 11, 30, 17), timedelta(hours=1), local(2026, 11, 30, 18)),
        (local(2026, 11, 30, 9), timedelta(hours=9), local(2026, 11, 30, 18)),
        # Before opening the count starts at 09:00.
        (local(2026, 11, 30, 7), timedelta(hours=1), local(2026, 11, 30, 10)),
        # Saturday night: nothing until Monday 09:00, + 2 h.
        (local(2026, 11, 28, 22), timedelta(hours=2), local(2026, 11, 30, 11)),
        # Inside one working stretch.
        (local(2026, 11, 30, 10), timedelta(minutes=45), local(2026, 11, 30, 10, 45)),
    ],
)
def test_add_working_time_on_the_default_calendar(
    start: datetime, duration: timedelta, expected: datetime
) -> None:
    assert WorkingCalendar.default().add_working_time(start, duration) == expected


def test_utc_date_before_local_midnight_uses_the_local_day() -> None:
    # Sun 2026-11-29 17:00Z is Mon 01:00 Shanghai: the count starts Monday 09:00 (01:00Z),
    # not on the (UTC) Sunday and not on Tuesday; + 1 h = 02:00Z.
    result = WorkingCalendar.default().add_working_time(
        datetime(2026, 11, 29, 17, 0, tzinfo=UTC), timedelta(hours=1)
    )
    assert result == datetime(2026, 11, 30, 2, 0, tzinfo=UTC)


def test_working_time_runs_across_local_midnight() -> None:
    night_shift = WorkingCalendar.parse(hours="mon-sun 00:00-02:00,22:00-24:00")
    # Mon 23:00 + 2 h: Mon 23:00-24:00 (1 h), Tue 00:00-01:00 (1 h).
    assert night_shift.add_working_time(local(2026, 11, 30, 23), timedelta(hours=2)) == local(
        2026, 12, 1, 1
    )
    # Mon 21:00 to Tue 03:00: Mon 22:00-24:00 (2 h) + Tue 00:00-02:00 (2 h).
    assert night_shift.working_time_between(
        local(2026, 11, 30, 21), local(2026, 12, 1, 3)
    ) == timedelta(hours=4)
    assert night_shift.is_working(local(2026, 12, 1, 0)) is True
    assert night_shift.is_working(local(2026, 12, 1, 2)) is False


def test_national_day_holidays_are_skipped_and_the_moved_saturday_counts() -> None:
    # Wed 09-30 17:00: 1 h that day, 10-01..07 closed, Thu 10-08 09:00 + 1 h.
    assert national_day().add_working_time(local(2026, 9, 30, 17), timedelta(hours=2)) == local(
        2026, 10, 8, 10
    )
    # Fri 10-09 17:00: 1 h, then Saturday 10-10 works: 09:00 + 1 h.
    assert national_day().add_working_time(local(2026, 10, 9, 17), timedelta(hours=2)) == local(
        2026, 10, 10, 10
    )
    # Without the moved day the count waits for Monday 10-12.
    assert national_day(workday=False).add_working_time(
        local(2026, 10, 9, 17), timedelta(hours=2)
    ) == local(2026, 10, 12, 10)


def test_multi_week_durations() -> None:
    calendar = WorkingCalendar.default()
    # 3 weeks of 5 x 9 h = 135 h from Mon 11-02 09:00 fills up to Fri 11-20 18:00.
    assert calendar.add_working_time(local(2026, 11, 2, 9), timedelta(hours=135)) == local(
        2026, 11, 20, 18
    )
    # One minute more spills into Mon 11-23.
    assert calendar.add_working_time(
        local(2026, 11, 2, 9), timedelta(hours=135, minutes=1)
    ) == local(2026, 11, 23, 9, 1)


def test_ten_working_days_across_national_day() -> None:
    # 10 x 9 h from Mon 09-28 09:00: 09-28, 09-29, 09-30 (3), 国庆 10-01..07, 10-08 (4),
    # 10-09 (5), Sat 10-10 (6), 10-12 (7), 10-13 (8), 10-14 (9), Thu 10-15 (10) until 18:00.
    assert national_day().add_working_time(local(2026, 9, 28, 9), timedelta(hours=90)) == local(
        2026, 10, 15, 18
    )


def test_years_of_working_time_are_counted_day_by_day_not_minute_by_minute() -> None:
    # 200 weeks x 45 h from Mon 2026-01-05 09:00: the 200th week ends Fri 2029-11-02 18:00
    # (2026-01-05 + 1400 days = Mon 2029-11-05).
    started = clock.perf_counter()
    result = WorkingCalendar.default().add_working_time(
        local(2026, 1, 5, 9), timedelta(hours=200 * 45)
    )
    assert result == local(2029, 11, 2, 18)
    assert clock.perf_counter() - started < 1.0


def test_zero_duration_is_the_start_itself() -> None:
    saturday = local(2026, 11, 28, 22)
    assert WorkingCalendar.default().add_working_time(saturday, timedelta(0)) == saturday


def test_negative_duration_is_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        WorkingCalendar.default().add_working_time(local(2026, 11, 30, 10), timedelta(-1))


@pytest.mark.parametrize("hours", [{}, dict.fromkeys(range(7))])
def test_a_calendar_without_working_hours_refuses_instead_of_looping(hours: dict) -> None:
    calendar = WorkingCalendar(zone=SHANGHAI, hours=hours)
    with pytest.raises(ValueError, match="no working hours"):
        calendar.add_working_time(local(2026, 11, 30, 10), timedelta(minutes=1))


def test_lunch_break_is_not_working_time() -> None:
    calendar = WorkingCalendar.parse(hours="mon-fri 09:00-12:00,13:00-18:00")
    # Mon 11:30: 30 min to the break, 30 min after 13:00.
    assert calendar.add_working_time(local(2026, 11, 30, 11, 30), timedelta(hours=1)) == local(
        2026, 11, 30, 13, 30
    )
    assert calendar.is_working(local(2026, 11, 30, 12, 30)) is False


# --- working_time_between --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        # Fri 17:00-18:00 (1 h) + Mon 09:00-10:00 (1 h).
        (local(2026, 11, 27, 17), local(2026, 11, 30, 10), timedelta(hours=2)),
        (local(2026, 11, 30, 10), local(2026, 11, 30, 10, 45), timedelta(minutes=45)),
        (local(2026, 11, 28, 8), local(2026, 11, 29, 20), timedelta(0)),  # the weekend
        (local(2026, 11, 30, 10), local(2026, 11, 30, 10), timedelta(0)),  # empty
        (local(2026, 11, 30, 12), local(2026, 11, 30, 10), timedelta(0)),  # backwards
        # Mon 11-02 00:00 to Mon 11-09 00:00: one whole week, 5 x 9 h.
        (local(2026, 11, 2), local(2026, 11, 9), timedelta(hours=45)),
    ],
)
def test_working_time_between(start: datetime, end: datetime, expected: timedelta) -> None:
    assert WorkingCalendar.default().working_time_between(start, end) == expected


def test_working_time_between_over_national_day() -> None:
    # Wed 09-30 09:00 to Mon 10-12 09:00: 09-30, 10-08, 10-09 and Sat 10-10, 9 h each.
    assert national_day().working_time_between(
        local(2026, 9, 30, 9), local(2026, 10, 12, 9)
    ) == timedelta(hours=36)


def test_working_time_is_real_time_across_a_daylight_saving_change() -> None:
    # Berlin springs forward on Sun 2026-03-29: that day has 23 hours. Round the clock from
    # Sat 12:00Z to Mon 12:00Z is 48 real hours; wall-clock arithmetic would give 49.
    always = WorkingCalendar.parse(zone="Europe/Berlin", hours="mon-sun 00:00-24:00")
    assert always.working_time_between(
        datetime(2026, 3, 28, 12, tzinfo=UTC), datetime(2026, 3, 30, 12, tzinfo=UTC)
    ) == timedelta(hours=48)


# --- working_day_length ----------------------------------------------------------------------


def test_working_day_length_is_mondays_hours() -> None:
    assert WorkingCalendar.default().working_day_length() == timedelta(hours=9)
    lunch = WorkingCalendar.parse(hours="mon-fri 09:00-12:00,13:00-18:00")
    assert lunch.working_day_length() == timedelta(hours=8)


def test_working_day_length_needs_an_open_monday() -> None:
    with pytest.raises(ValueError, match="Monday is closed"):
        WorkingCalendar.parse(hours="tue-sat 09:00-18:00").working_day_length()


# --- construction and parsing ----------------------------------------------------------------


def test_parse_reads_the_settings_form() -> None:
    calendar = WorkingCalendar.parse(
        zone="Asia/Shanghai",
        hours="mon-fri 09:00-18:00; sat 09:00-12:00",
        holidays="2026-10-01,2026-10-02",
        workdays="2026-09-27",
    )
    assert calendar.hours[5] == ((time(9, 0), time(12, 0)),)
    assert calendar.hours[6] == ()
    assert calendar.holidays == {date(2026, 10, 1), date(2026, 10, 2)}
    assert calendar.workdays == {date(2026, 9, 27)}
    assert calendar.is_working(local(2026, 11, 28, 11, 59)) is True  # Saturday morning
    assert calendar.is_working(local(2026, 11, 28, 12)) is False


def test_parse_with_no_arguments_is_the_default_calendar() -> None:
    assert WorkingCalendar.parse() == WorkingCalendar.default()


def test_parse_expands_date_ranges() -> None:
    holidays = national_day().holidays
    assert len(holidays) == 7
    assert min(holidays) == date(2026, 10, 1)
    assert max(holidays) == date(2026, 10, 7)


def test_parse_day_ranges_may_wrap_and_days_may_close() -> None:
    calendar = WorkingCalendar.parse(hours="sun-thu 08:00-17:00; fri closed")
    opened = [day for day in range(7) if calendar.hours[day]]
    assert opened == [0, 1, 2, 3, 6]


def test_parse_is_lenient_about_spacing_and_case() -> None:
    calendar = WorkingCalendar.parse(hours="  Mon-Fri   09:00 - 18:00 ; ")
    assert calendar == WorkingCalendar.default()


def test_closing_at_24_00_means_midnight() -> None:
    calendar = WorkingCalendar.parse(hours="mon-sun 20:00-24:00")
    assert calendar.is_working(local(2026, 11, 29, 23, 59)) is True
    assert calendar.working_day_length() == timedelta(hours=4)


def test_hours_in_another_zone() -> None:
    # Berlin is UTC+1 in November: 09:00 there is 08:00Z.
    berlin = WorkingCalendar.parse(zone="Europe/Berlin")
    assert berlin.is_working(datetime(2026, 11, 30, 8, 0, tzinfo=UTC)) is True
    assert berlin.is_working(datetime(2026, 11, 30, 7, 59, tzinfo=UTC)) is False


def test_one_pair_or_a_list_of_pairs_per_weekday() -> None:
    office = (time(9, 0), time(18, 0))
    one = WorkingCalendar(zone=SHANGHAI, hours={0: office})
    listed = WorkingCalendar(zone=SHANGHAI, hours={0: [office], 1: None})
    assert one.hours == listed.hours
    assert one.hours[0] == (office,)
    assert one.hours[1] == ()


def test_weekday_keys_are_zero_to_six() -> None:
    with pytest.raises(ValueError, match="0 \\(Monday\\) to 6"):
        WorkingCalendar(zone=SHANGHAI, hours={7: (time(9, 0), time(18, 0))})


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"zone": "Mars/Olympus_Mons"}, "unknown time zone"),
        ({"hours": "mon-fr 09:00-18:00"}, "'mon-fr' is not a day"),
        ({"hours": "mon-fri 9:75-18:00"}, "'9:75' is not a time"),
        ({"hours": "mon-fri 09:00-25:00"}, "'25:00' is not a time"),
        ({"hours": "mon-fri 18:00-09:00"}, "closes before it opens"),
        ({"hours": "mon-fri 09:00-13:00,12:00-18:00"}, "overlap"),
        ({"hours": "mon-fri 09:00-18:00; fri 09:00-12:00"}, "fri is given twice"),
        ({"hours": ""}, "empty"),
        ({"hours": "mon-fri"}, "needs days and hours"),
        ({"hours": "mon-fri 0900"}, "not HH:MM-HH:MM"),
        ({"holidays": "2026-13-01"}, "holidays: '2026-13-01' is not a date"),
        ({"workdays": "2026-10-1O"}, "workdays: '2026-10-1O' is not a date"),
        ({"holidays": "2026-10-07..2026-10-01"}, "ends before it starts"),
        ({"holidays": "2026-10-10", "workdays": "2026-10-10"}, "both a holiday"),
        ({"hours": "tue-fri 09:00-18:00", "workdays": "2026-10-10"}, "Monday is closed"),
    ],
)
def test_parse_errors_say_what_is_wrong(arguments: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        WorkingCalendar.parse(**arguments)


# --- properties over many starts -------------------------------------------------------------


def busy_calendar() -> WorkingCalendar:
    return WorkingCalendar.parse(
        hours="mon-fri 09:00-12:00,13:00-18:00; sat 09:00-12:00",
        holidays="2026-10-01..2026-10-07",
        workdays="2026-10-10",
    )


def random_instant(rng: random.Random) -> datetime:
    # Any minute from 2026-09-20 to 2026-12-31, national day included.
    return datetime(2026, 9, 20, tzinfo=UTC) + timedelta(minutes=rng.randrange(102 * 24 * 60))


def test_working_time_between_undoes_add_working_time() -> None:
    calendar = busy_calendar()
    rng = random.Random(20261127)
    for _ in range(300):
        start = random_instant(rng)
        duration = timedelta(minutes=rng.randrange(1, 3 * 7 * 24 * 60))
        end = calendar.add_working_time(start, duration)
        assert calendar.working_time_between(start, end) == duration, (start, duration)
        # The count ends inside working time or right at a closing time.
        assert calendar.is_working(end - timedelta(microseconds=1)), (start, duration)


def test_adding_in_two_steps_is_adding_once() -> None:
    calendar = busy_calendar()
    rng = random.Random(202610)
    for _ in range(300):
        start = random_instant(rng)
        first = timedelta(minutes=rng.randrange(1, 5000))
        second = timedelta(minutes=rng.randrange(1, 5000))
        in_two = calendar.add_working_time(calendar.add_working_time(start, first), second)
        assert in_two == calendar.add_working_time(start, first + second), (start, first)


def test_working_time_between_adds_up_over_a_split() -> None:
    calendar = busy_calendar()
    rng = random.Random(1001)
    for _ in range(300):
        start, middle, end = sorted(random_instant(rng) for _ in range(3))
        whole = calendar.working_time_between(start, end)
        parts = calendar.working_time_between(start, middle) + calendar.working_time_between(
            middle, end
        )
        assert whole == parts, (start, middle, end)
        assert whole <= end - start
