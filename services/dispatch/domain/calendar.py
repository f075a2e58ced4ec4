"""Weekly working hours ("mon-fri 09:00-18:00; sat 09:00-12:00") in one time zone, with days
off: a technician's shifts and leave, and the hours arrival targets are counted in."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_PART = re.compile(r"^\s*([a-z]{3})(?:\s*-\s*([a-z]{3}))?\s+(.+)$")
_SPAN = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


class CalendarError(ValueError):
    pass


def _clock(hours: str, minutes: str) -> time:
    h, m = int(hours), int(minutes)
    if h == 24 and m == 0:
        return time.max
    if not (0 <= h < 24 and 0 <= m < 60):
        raise CalendarError(f"{hours}:{minutes} is not a time of day")
    return time(h, m)


def parse_shifts(text: str) -> dict[int, tuple[tuple[time, time], ...]]:
    """``mon-fri 08:00-12:00,13:00-17:00; sat 09:00-12:00`` → weekday → spans."""
    week: dict[int, list[tuple[time, time]]] = {}
    for part in filter(None, (p.strip() for p in text.lower().split(";"))):
        matched = _PART.match(part)
        if matched is None or matched.group(1) not in DAYS:
            raise CalendarError(f"cannot read {part!r}; write e.g. 'mon-fri 09:00-18:00'")
        first = DAYS.index(matched.group(1))
        last_name = matched.group(2) or matched.group(1)
        if last_name not in DAYS:
            raise CalendarError(f"unknown day {last_name!r}")
        last = DAYS.index(last_name)
        days = range(first, last + 1) if first <= last else [*range(first, 7), *range(last + 1)]
        for span_text in matched.group(3).split(","):
            span = _SPAN.match(span_text)
            if span is None:
                raise CalendarError(f"cannot read the hours {span_text.strip()!r}")
            start, end = _clock(span.group(1), span.group(2)), _clock(span.group(3), span.group(4))
            if start >= end:
                raise CalendarError(f"{span_text.strip()} ends before it starts")
            for day in days:
                week.setdefault(day, []).append((start, end))
    return {day: tuple(sorted(spans)) for day, spans in week.items()}


def parse_days_off(text: str) -> frozenset[date]:
    """``2026-12-01..2026-12-03,2026-12-10`` → the dates."""
    days: set[date] = set()
    for part in filter(None, (p.strip() for p in text.split(","))):
        try:
            if ".." in part:
                first_text, last_text = part.split("..", 1)
                first, last = date.fromisoformat(first_text), date.fromisoformat(last_text)
                if last < first:
                    raise CalendarError(f"{part} ends before it starts")
                days.update(first + timedelta(days=n) for n in range((last - first).days + 1))
            else:
                days.add(date.fromisoformat(part))
        except ValueError as exc:
            if isinstance(exc, CalendarError):
                raise
            raise CalendarError(f"{part!r} is not a date or a range of dates") from exc
    return frozenset(days)


Spans = tuple[tuple[datetime, datetime], ...]
# Days whose spans one calendar keeps (see ``WorkingHours.spans_on``); then it starts again.
REMEMBERED_DAYS = 64


@dataclass(frozen=True)
class WorkingHours:
    zone: ZoneInfo
    week: dict[int, tuple[tuple[time, time], ...]]
    days_off: frozenset[date] = field(default_factory=frozenset)
    # Day → its spans. An assignment asks each nearby technician's calendar about the same
    # few days, and technicians share few calendars: building the zone-aware datetimes once
    # per calendar and day saves most of a calendar check.
    _spans: dict[date, Spans] = field(default_factory=dict, init=False, repr=False, compare=False)

    @classmethod
    def parse(cls, zone: str, shifts: str, days_off: str = "") -> WorkingHours:
        try:
            tz = ZoneInfo(zone)
        except Exception as exc:
            raise CalendarError(f"unknown time zone {zone!r}") from exc
        return cls(tz, parse_shifts(shifts), parse_days_off(days_off))

    def local_day(self, at: datetime) -> date:
        return at.astimezone(self.zone).date()

    def spans_on(self, day: date) -> Spans:
        """The day's working spans, in the calendar's zone (none on a day off)."""
        spans = self._spans.get(day)
        if spans is None:
            if len(self._spans) >= REMEMBERED_DAYS:
                self._spans.clear()
            spans = self._spans[day] = self._build_spans(day)
        return spans

    def _build_spans(self, day: date) -> Spans:
        if day in self.days_off:
            return ()
        return tuple(
            (
                datetime.combine(day, start, self.zone),
                datetime.combine(day + timedelta(days=1), time(0), self.zone)
                if end == time.max
                else datetime.combine(day, end, self.zone),
            )
            for start, end in self.week.get(day.weekday(), ())
        )

    def add_working_time(
        self, start: datetime, duration: timedelta, max_days: int = 366
    ) -> datetime:
        """The moment ``duration`` of working time after ``start``."""
        left = duration
        day = self.local_day(start)
        for _ in range(max_days):
            for begins, ends in self.spans_on(day):
                if ends <= start:
                    continue
                begins = max(begins, start)
                if begins + left <= ends:
                    return begins + left
                left -= ends - begins
            day += timedelta(days=1)
        raise CalendarError("no working hours within a year")


def end_of_working_day(hours: WorkingHours, day: date) -> datetime:
    """The end of the last shift on ``day``; midnight after it when there is none (leave)."""
    ends = [end for _begins, end in hours.spans_on(day)]
    if ends:
        return max(ends)
    return datetime.combine(day + timedelta(days=1), time(0), hours.zone)


def overlaps_working_hours(hours: WorkingHours, start: datetime, end: datetime) -> bool:
    """Whether any shift overlaps the window (an appointment the technician can keep)."""
    day = hours.local_day(start) - timedelta(days=1)  # a night shift may begin the day before
    while day <= hours.local_day(end):
        if any(begins < end and ends > start for begins, ends in hours.spans_on(day)):
            return True
        day += timedelta(days=1)
    return False
