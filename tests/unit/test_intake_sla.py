"""SLA targets and clocks: defaults from the regulations, overrides from settings, pauses
while waiting on the customer, due times on the elapsed and working bases, breaches.

Times are Shanghai wall-clock (UTC+8) handed over in UTC. Default calendar: Mon-Fri
09:00-18:00. Thu 2026-11-26, Fri 11-27, Sat 11-28, Sun 11-29, Mon 11-30, Tue 12-01.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from services.intake.domain.calendar import WorkingCalendar
from services.intake.domain.sla import (
    Pause,
    SlaBasis,
    SlaClock,
    SlaClockError,
    SlaStatus,
    SlaTarget,
    SlaTargets,
    published_target,
    response_target_for,
    targets_for,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
CALENDAR = WorkingCalendar.default()
URGENT = SlaTarget("response_urgent", timedelta(minutes=30), SlaBasis.ELAPSED)
VERIFICATION = SlaTarget("complaint_first_verification", timedelta(hours=27), SlaBasis.WORKING)


def local(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """A Shanghai wall-clock time, handed over in UTC as the service does."""
    return datetime(year, month, day, hour, minute, tzinfo=SHANGHAI).astimezone(UTC)


def monday(hour: int, minute: int = 0) -> datetime:
    return local(2026, 11, 30, hour, minute)


# --- targets ---------------------------------------------------------------------------------


def test_default_targets_are_the_regulations() -> None:
    targets = SlaTargets.defaults()
    assert dict(targets) == {
        "response_urgent": SlaTarget("response_urgent", timedelta(minutes=30), "elapsed"),
        "response_ordinary": SlaTarget("response_ordinary", timedelta(hours=2), "elapsed"),
        "response_consultation": SlaTarget("response_consultation", timedelta(hours=24), "elapsed"),
        "complaint_acknowledgement": SlaTarget(
            "complaint_acknowledgement", timedelta(hours=24), "elapsed"
        ),
        # 3 working days x 9 h.
        "complaint_first_verification": SlaTarget(
            "complaint_first_verification", timedelta(hours=27), "working"
        ),
        "complaint_quality_report": SlaTarget(
            "complaint_quality_report", timedelta(hours=2), "elapsed"
        ),
    }


def test_first_verification_follows_the_calendars_working_day() -> None:
    # With a lunch break a standard day is 8 h: 3 days are 24 h of working time.
    lunch = WorkingCalendar.parse(hours="mon-fri 09:00-12:00,13:00-18:00")
    target = SlaTargets.defaults(lunch)["complaint_first_verification"]
    assert target.duration == timedelta(hours=24)
    assert target.basis is SlaBasis.WORKING


def test_settings_text_overrides_some_targets_and_keeps_the_rest() -> None:
    targets = SlaTargets.parse(
        "response_urgent=45m working; complaint_first_verification=5wd, response_ordinary = 1.5h"
    )
    assert targets["response_urgent"] == SlaTarget(
        "response_urgent", timedelta(minutes=45), SlaBasis.WORKING
    )
    # 5 working days x 9 h.
    assert targets["complaint_first_verification"] == SlaTarget(
        "complaint_first_verification", timedelta(hours=45), SlaBasis.WORKING
    )
    assert targets["response_ordinary"] == SlaTarget(
        "response_ordinary", timedelta(minutes=90), SlaBasis.ELAPSED
    )
    assert targets["response_consultation"] == SlaTarget(
        "response_consultation", timedelta(hours=24), SlaBasis.ELAPSED
    )


@pytest.mark.parametrize(
    ("spec", "duration", "basis"),
    [
        ("90s", timedelta(seconds=90), SlaBasis.ELAPSED),
        ("30min", timedelta(minutes=30), SlaBasis.ELAPSED),
        ("2h elapsed", timedelta(hours=2), SlaBasis.ELAPSED),
        ("27h working", timedelta(hours=27), SlaBasis.WORKING),
        ("1d", timedelta(hours=24), SlaBasis.ELAPSED),
        ("3wd", timedelta(hours=27), SlaBasis.WORKING),
        ("3WD Working", timedelta(hours=27), SlaBasis.WORKING),
    ],
)
def test_target_specs(spec: str, duration: timedelta, basis: SlaBasis) -> None:
    target = SlaTarget.parse("response_ordinary", spec)
    assert (target.duration, target.basis) == (duration, basis)


def test_empty_settings_text_gives_the_defaults() -> None:
    assert SlaTargets.parse("") == SlaTargets.defaults()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("response_fast=30m", "unknown target 'response_fast'"),
        ("response_urgent=30 minutes", "is not a duration"),
        ("response_urgent=3d working", "write '3wd' for working days"),
        ("complaint_first_verification=3wd elapsed", "counted in working time"),
        ("response_urgent=0m", "must be positive"),
        ("response_urgent", "is not name=duration"),
    ],
)
def test_bad_settings_text_is_refused(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SlaTargets.parse(text)


def test_targets_must_be_complete() -> None:
    defaults = dict(SlaTargets.defaults())
    del defaults["response_consultation"]
    with pytest.raises(ValueError, match="missing \\['response_consultation'\\]"):
        SlaTargets(defaults)


@pytest.mark.parametrize(
    ("kind", "severity", "target"),
    [
        ("fault", "urgent", "response_urgent"),
        ("fault", "ordinary", "response_ordinary"),
        ("fault", "consultation", "response_consultation"),
        ("consultation", None, "response_consultation"),
        ("consultation", "urgent", "response_consultation"),
        ("complaint", None, "complaint_acknowledgement"),
        ("complaint", "urgent", "complaint_acknowledgement"),
    ],
)
def test_response_target_for_a_request(kind: str, severity: str | None, target: str) -> None:
    assert response_target_for(kind, severity) == target


@pytest.mark.parametrize(("kind", "severity"), [("fault", None), ("fault", "critical")])
def test_a_fault_without_a_known_severity_has_no_target(kind: str, severity: str | None) -> None:
    with pytest.raises(ValueError, match="no response target"):
        response_target_for(kind, severity)


def test_complaints_get_all_three_complaint_targets() -> None:
    assert targets_for("complaint", None) == [
        "complaint_acknowledgement",
        "complaint_first_verification",
        "complaint_quality_report",
    ]
    assert targets_for("fault", "urgent") == ["response_urgent"]


# --- elapsed clocks --------------------------------------------------------------------------


def test_urgent_request_on_saturday_night_is_due_the_same_night() -> None:
    # Sat 22:00 + 30 min elapsed: 22:30 the same night, not Monday.
    clock = SlaClock(URGENT, started_at=local(2026, 11, 28, 22))
    assert clock.due_at(CALENDAR, local(2026, 11, 28, 22, 10)) == local(2026, 11, 28, 22, 30)
    assert clock.remaining(CALENDAR, local(2026, 11, 28, 22, 10)) == timedelta(minutes=20)


@pytest.mark.parametrize(
    ("now", "breached", "status"),
    [
        (local(2026, 11, 28, 22, 30) - timedelta(seconds=1), False, SlaStatus.RUNNING),
        (local(2026, 11, 28, 22, 30), False, SlaStatus.RUNNING),  # at due is still in time
        (local(2026, 11, 28, 22, 30) + timedelta(seconds=1), True, SlaStatus.BREACHED),
    ],
)
def test_breach_starts_just_after_the_due_time(
    now: datetime, breached: bool, status: SlaStatus
) -> None:
    clock = SlaClock(URGENT, started_at=local(2026, 11, 28, 22))
    assert clock.is_breached(CALENDAR, now) is breached
    assert clock.status(CALENDAR, now) is status
    assert clock.breached_at(CALENDAR, now) == (local(2026, 11, 28, 22, 30) if breached else None)


def test_an_overdue_clock_has_nothing_remaining() -> None:
    clock = SlaClock(URGENT, started_at=monday(10))
    assert clock.remaining(CALENDAR, monday(11)) == timedelta(0)


def test_a_pause_on_an_elapsed_clock_pushes_due_by_its_length() -> None:
    clock = SlaClock(URGENT, started_at=monday(10)).pause(monday(10, 10)).resume(monday(10, 25))
    # 10:00 + 30 min + 15 min paused.
    assert clock.due_at(CALENDAR, monday(10, 30)) == monday(10, 45)
    assert clock.pauses == (Pause(monday(10, 10), monday(10, 25)),)
    assert clock.paused_total(monday(10, 30)) == timedelta(minutes=15)
    assert clock.status(CALENDAR, monday(10, 40)) is SlaStatus.RUNNING


def test_a_paused_clock_is_due_as_if_it_resumed_now() -> None:
    clock = SlaClock(URGENT, started_at=monday(10)).pause(monday(10, 10))
    # 20 min were left at the pause; they start counting again "now".
    assert clock.due_at(CALENDAR, monday(11)) == monday(11, 20)
    assert clock.due_at(CALENDAR, monday(12)) == monday(12, 20)
    assert clock.remaining(CALENDAR, monday(12)) == timedelta(minutes=20)
    assert clock.paused_total(monday(11)) == timedelta(minutes=50)
    assert clock.is_paused is True
    assert clock.status(CALENDAR, monday(12)) is SlaStatus.PAUSED


def test_pausing_after_the_due_time_does_not_undo_the_breach() -> None:
    clock = SlaClock(URGENT, started_at=monday(10)).pause(monday(10, 40))
    assert clock.due_at(CALENDAR, monday(11)) == monday(10, 30)
    assert clock.breached_at(CALENDAR, monday(11)) == monday(10, 30)
    assert clock.status(CALENDAR, monday(11)) is SlaStatus.BREACHED


def test_a_pause_starting_exactly_at_the_due_time_does_not_move_it() -> None:
    clock = SlaClock(URGENT, started_at=monday(10)).pause(monday(10, 30)).resume(monday(11))
    assert clock.due_at(CALENDAR, monday(11)) == monday(10, 30)
    assert clock.status(CALENDAR, monday(10, 45)) is SlaStatus.BREACHED


# --- working clocks --------------------------------------------------------------------------


def test_working_clock_without_pauses() -> None:
    # Thu 10:00 + 27 h working: Thu 8 h, Fri 9 h (17), Mon 9 h (26), Tue 09:00 + 1 h.
    clock = SlaClock(VERIFICATION, started_at=local(2026, 11, 26, 10))
    assert clock.due_at(CALENDAR, local(2026, 11, 26, 10)) == local(2026, 12, 1, 10)


def test_a_pause_over_a_weekend_costs_only_its_working_time() -> None:
    clock = (
        SlaClock(VERIFICATION, started_at=local(2026, 11, 26, 10))
        .pause(local(2026, 11, 27, 17))
        .resume(local(2026, 11, 30, 10))
    )
    # Counted before the pause: Thu 8 h + Fri 09:00-17:00 8 h = 16 h; 11 h left from
    # Mon 10:00: Mon 8 h, Tue 09:00 + 3 h. The pause held Fri 17-18 and Mon 09-10 of working
    # time (2 h later than unpaused); the weekend inside it moves nothing.
    assert clock.due_at(CALENDAR, local(2026, 11, 30, 10)) == local(2026, 12, 1, 12)
    # Fri 17:00 to Mon 10:00 is 65 h on the wall: 7 h + 48 h + 10 h.
    assert clock.paused_total(local(2026, 11, 30, 10)) == timedelta(hours=65)


def test_a_pause_inside_the_weekend_does_not_move_a_working_clock() -> None:
    clock = (
        SlaClock(VERIFICATION, started_at=local(2026, 11, 26, 10))
        .pause(local(2026, 11, 28, 10))
        .resume(local(2026, 11, 29, 20))
    )
    assert clock.due_at(CALENDAR, local(2026, 11, 30, 9)) == local(2026, 12, 1, 10)
    assert clock.paused_total(local(2026, 11, 30, 9)) == timedelta(hours=34)


def test_working_time_used_up_on_friday_evening_stays_due_then() -> None:
    # Wed 09:00 + 27 h: Wed, Thu and Fri 9 h each, due Fri 18:00. A pause over the weekend
    # starts with nothing left to count, so it cannot move the due time to Monday.
    clock = (
        SlaClock(VERIFICATION, started_at=local(2026, 11, 25, 9))
        .pause(local(2026, 11, 28, 10))
        .resume(local(2026, 11, 30, 10))
    )
    assert clock.due_at(CALENDAR, local(2026, 11, 30, 12)) == local(2026, 11, 27, 18)
    assert clock.breached_at(CALENDAR, local(2026, 11, 28, 12)) == local(2026, 11, 27, 18)


def test_a_paused_working_clock_is_due_as_if_it_resumed_now() -> None:
    clock = SlaClock(VERIFICATION, started_at=local(2026, 11, 26, 10)).pause(
        local(2026, 11, 27, 17)
    )
    # 16 h spent, 11 h left. Resumed Sat 12:00: Mon 9 h, Tue 09:00 + 2 h.
    assert clock.due_at(CALENDAR, local(2026, 11, 28, 12)) == local(2026, 12, 1, 11)
    assert clock.remaining(CALENDAR, local(2026, 11, 28, 12)) == timedelta(hours=11)
    # Resumed Mon 10:00: Mon 8 h, Tue 09:00 + 3 h, as when it really resumes then.
    assert clock.due_at(CALENDAR, local(2026, 11, 30, 10)) == local(2026, 12, 1, 12)
    assert clock.status(CALENDAR, local(2026, 11, 30, 10)) is SlaStatus.PAUSED


def test_a_response_target_switched_to_working_time_waits_for_monday() -> None:
    ordinary = SlaTargets.parse("response_ordinary=2h working")["response_ordinary"]
    clock = SlaClock(ordinary, started_at=local(2026, 11, 27, 17, 30))
    # Fri 17:30-18:00 (30 min), Mon 09:00 + 90 min.
    assert clock.due_at(CALENDAR, local(2026, 11, 28, 12)) == monday(10, 30)
    assert clock.remaining(CALENDAR, local(2026, 11, 28, 12)) == timedelta(minutes=90)
    assert clock.status(CALENDAR, local(2026, 11, 29, 23)) is SlaStatus.RUNNING


# --- meeting the target ----------------------------------------------------------------------


def test_met_before_due_is_not_breached() -> None:
    clock = SlaClock(URGENT, started_at=monday(10)).met(monday(10, 20))
    assert clock.met_at == monday(10, 20)
    assert clock.status(CALENDAR, monday(11)) is SlaStatus.MET
    assert clock.breached_at(CALENDAR, monday(11)) is None
    # What was left when met stays so.
    assert clock.remaining(CALENDAR, monday(11)) == timedelta(minutes=10)


def test_met_exactly_at_due_is_in_time() -> None:
    clock = SlaClock(URGENT, started_at=monday(10)).met(monday(10, 30))
    assert clock.status(CALENDAR, monday(11)) is SlaStatus.MET


def test_met_after_due_is_breached_at_the_due_time() -> None:
    clock = SlaClock(URGENT, started_at=monday(10)).met(monday(10, 45))
    assert clock.is_breached(CALENDAR, monday(11)) is True
    assert clock.breached_at(CALENDAR, monday(11)) == monday(10, 30)
    assert clock.status(CALENDAR, monday(11)) is SlaStatus.BREACHED


def test_meeting_a_paused_clock_ends_the_pause() -> None:
    clock = SlaClock(URGENT, started_at=monday(10)).pause(monday(10, 10)).met(monday(10, 20))
    assert clock.pauses == (Pause(monday(10, 10), monday(10, 20)),)
    assert clock.is_paused is False
    assert clock.paused_total(monday(12)) == timedelta(minutes=10)
    assert clock.status(CALENDAR, monday(12)) is SlaStatus.MET


# --- time order, immutability and UTC --------------------------------------------------------


def test_clock_events_return_new_clocks() -> None:
    clock = SlaClock(URGENT, started_at=monday(10))
    paused = clock.pause(monday(10, 10))
    assert clock.is_paused is False
    assert paused.is_paused is True
    with pytest.raises(dataclasses.FrozenInstanceError):
        clock.met_at = monday(10, 20)  # type: ignore[misc]


def test_clock_error_is_a_value_error() -> None:
    assert issubclass(SlaClockError, ValueError)


def running() -> SlaClock:
    return SlaClock(URGENT, started_at=monday(10))


def paused() -> SlaClock:
    return running().pause(monday(10, 10))


def resumed() -> SlaClock:
    return paused().resume(monday(10, 20))


@pytest.mark.parametrize(
    ("event", "message"),
    [
        (lambda: paused().pause(monday(10, 15)), "already paused"),
        (lambda: running().resume(monday(10, 15)), "nothing to resume"),
        (lambda: running().pause(monday(9, 59)), "before its last event"),
        (lambda: paused().resume(monday(10, 5)), "before its last event"),
        (lambda: resumed().pause(monday(10, 15)), "before its last event"),
        (lambda: running().met(monday(9, 59)), "before its last event"),
        (lambda: resumed().met(monday(10, 15)), "before its last event"),
        (lambda: running().met(monday(10, 20)).pause(monday(10, 25)), "not paused"),
        (lambda: running().met(monday(10, 20)).resume(monday(10, 25)), "not resumed"),
        (lambda: running().met(monday(10, 20)).met(monday(10, 25)), "not met again"),
    ],
)
def test_events_out_of_state_or_out_of_order_are_refused(
    event: Callable[[], SlaClock], message: str
) -> None:
    with pytest.raises(SlaClockError, match=message):
        event()


@pytest.mark.parametrize(
    ("pauses", "met_at", "message"),
    [
        ((Pause(monday(9)),), None, "time order"),  # before the start
        ((Pause(monday(10, 10), monday(10, 30)), Pause(monday(10, 20))), None, "time order"),
        ((Pause(monday(10, 10)), Pause(monday(10, 20))), None, "only the last pause"),
        ((Pause(monday(10, 10)),), monday(10, 20), "cannot still be paused"),
        ((Pause(monday(10, 10), monday(10, 30)),), monday(10, 20), "cannot be met before"),
    ],
)
def test_a_stored_clock_is_checked(
    pauses: tuple[Pause, ...], met_at: datetime | None, message: str
) -> None:
    with pytest.raises(SlaClockError, match=message):
        SlaClock(URGENT, started_at=monday(10), pauses=pauses, met_at=met_at)


def test_a_pause_cannot_end_before_it_starts() -> None:
    with pytest.raises(SlaClockError, match="end before it starts"):
        Pause(monday(10, 20), monday(10, 10))


def test_naive_datetimes_are_refused() -> None:
    naive = datetime(2026, 11, 30, 10, 10)
    with pytest.raises(ValueError, match="timezone-aware"):
        SlaClock(URGENT, started_at=naive)
    with pytest.raises(ValueError, match="timezone-aware"):
        running().pause(naive)
    with pytest.raises(ValueError, match="timezone-aware"):
        paused().resume(naive)
    with pytest.raises(ValueError, match="timezone-aware"):
        running().met(naive)
    with pytest.raises(ValueError, match="timezone-aware"):
        running().due_at(CALENDAR, naive)
    with pytest.raises(ValueError, match="timezone-aware"):
        paused().paused_total(naive)


def test_instants_are_kept_and_given_in_utc() -> None:
    clock = SlaClock(URGENT, started_at=datetime(2026, 11, 30, 10, tzinfo=SHANGHAI))
    assert clock.started_at.tzinfo is UTC
    # Mon 10:00 Shanghai = 02:00Z, + 30 min.
    due = clock.due_at(CALENDAR, datetime(2026, 11, 30, 2, 5, tzinfo=UTC))
    assert due == datetime(2026, 11, 30, 2, 30, tzinfo=UTC)
    assert due.tzinfo is UTC
    working = SlaClock(VERIFICATION, started_at=datetime(2026, 11, 26, 10, tzinfo=SHANGHAI))
    assert working.due_at(CALENDAR, monday(9)).tzinfo is UTC


def test_a_day_with_custom_hours_counts_in_the_target() -> None:
    # Saturday mornings open: Fri 17:30 + 2 h working = Fri 30 min, Sat 09:00 + 90 min.
    calendar = WorkingCalendar(
        zone=SHANGHAI,
        hours={**dict.fromkeys(range(5), (time(9), time(18))), 5: (time(9), time(12))},
    )
    target = SlaTarget("response_ordinary", timedelta(hours=2), SlaBasis.WORKING)
    clock = SlaClock(target, started_at=local(2026, 11, 27, 17, 30))
    assert clock.due_at(calendar, local(2026, 11, 27, 18)) == local(2026, 11, 28, 10, 30)


def test_breach_events_name_the_target_as_the_contract_does() -> None:
    assert published_target("response_urgent") == "response"
    assert published_target("response_consultation") == "response"
    assert published_target("complaint_acknowledgement") == "complaint_acknowledgement"
    assert published_target("complaint_first_verification") == "first_verification"
    assert published_target("complaint_quality_report") == "quality_report"
