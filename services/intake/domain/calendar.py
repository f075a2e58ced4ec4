"""The working calendar that SLA targets on the ``working`` basis are counted in.

Opening hours are local wall-clock times in the calendar's zone; every instant going in or out
is a timezone-aware datetime, and every instant coming out is in UTC.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from types import MappingProxyType
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEFAULT_ZONE = "Asia/Shanghai"
DEFAULT_HOURS = "mon-fri 09:00-18:00"

MONDAY = 0
ONE_DAY = timedelta(days=1)
ZERO = timedelta(0)
# A closing time of 00:00 means the end of the day ("24:00"), which ``time`` cannot hold.
END_OF_DAY = time(0, 0)

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

Span = tuple[time, time]
DayHours = Span | Sequence[Span] | None


def as_utc(value: datetime, name: str = "datetime") -> datetime:
    """``value`` in UTC; a naive datetime is refused because its instant is unknown."""
    if not isinstance(value, datetime):
        raise TypeError(f"{name} must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {value.isoformat()}")
    return value.astimezone(UTC)


@dataclass(frozen=True)
class WorkingCalendar:
    """Working hours per weekday (0 = Monday), closed holidays and extra working days.

    ``hours`` accepts, per weekday, one ``(opening, closing)`` pair, a sequence of pairs or
    None (closed); it is stored normalised as a read-only mapping of all seven weekdays to a
    tuple of pairs (empty when closed). A closing time of 00:00 means midnight at the end of
    the day. ``workdays`` are dates that work with Monday's hours although they would not
    (China moves working days onto weekends around public holidays).
    """

    zone: ZoneInfo
    hours: Mapping[int, tuple[Span, ...]] = field(hash=False)
    holidays: frozenset[date] = frozenset()
    workdays: frozenset[date] = frozenset()

    def __post_init__(self) -> None:
        if not isinstance(self.zone, ZoneInfo):
            raise ValueError(f"zone must be a zoneinfo.ZoneInfo, got {self.zone!r}")
        object.__setattr__(self, "hours", _normalise_hours(self.hours))
        object.__setattr__(self, "holidays", frozenset(self.holidays))
        object.__setattr__(self, "workdays", frozenset(self.workdays))
        both = sorted(self.holidays & self.workdays)
        if both:
            listed = ", ".join(day.isoformat() for day in both)
            raise ValueError(f"dates cannot be both a holiday and a working day: {listed}")
        if self.workdays and not self.hours[MONDAY]:
            raise ValueError("extra working days use Monday's hours, but Monday is closed")

    @classmethod
    def default(cls) -> WorkingCalendar:
        """Monday to Friday 09:00-18:00, Asia/Shanghai, no holidays."""
        office = (time(9, 0), time(18, 0))
        return cls(zone=ZoneInfo(DEFAULT_ZONE), hours=dict.fromkeys(range(5), office))

    @classmethod
    def parse(
        cls,
        zone: str = DEFAULT_ZONE,
        hours: str = DEFAULT_HOURS,
        holidays: str = "",
        workdays: str = "",
    ) -> WorkingCalendar:
        """Read the compact text form used in settings, for example::

        zone="Asia/Shanghai", hours="mon-fri 09:00-12:00,13:00-18:00; sat 09:00-12:00",
        holidays="2026-10-01..2026-10-07,2027-01-01", workdays="2026-09-27,2026-10-10"

        A day may be ``closed``; day ranges may wrap (``sun-thu``); ``24:00`` closes at midnight.
        """
        return cls(
            zone=_parse_zone(zone),
            hours=_parse_hours(hours),
            holidays=_parse_dates(holidays, "holidays"),
            workdays=_parse_dates(workdays, "workdays"),
        )

    def working_day_length(self) -> timedelta:
        """The working time in a standard day (Monday's hours), to turn N working days into
        a duration."""
        spans = self.hours[MONDAY]
        if not spans:
            raise ValueError("Monday is closed, so there is no standard working day")
        return sum((_wall_length(opening, closing) for opening, closing in spans), ZERO)

    def is_working(self, at: datetime) -> bool:
        """Whether ``at`` is inside working hours; opening is inside, closing is not."""
        moment = as_utc(at, "at")
        return any(
            opening <= moment < closing for opening, closing in self._spans_on(self._day(moment))
        )

    def add_working_time(self, start: datetime, duration: timedelta) -> datetime:
        """The moment ``duration`` of working time has passed after ``start``.

        Outside working hours the count begins at the next opening; a count that runs out at a
        closing time ends there, not at the next opening. A zero duration gives ``start``.
        """
        cursor = as_utc(start, "start")
        if duration < ZERO:
            raise ValueError(f"duration cannot be negative, got {duration}")
        if duration == ZERO:
            return cursor
        if not any(self.hours.values()):
            # Without weekly hours (and so without extra working days) time never passes.
            raise ValueError("the calendar has no working hours, so working time never passes")
        left = duration
        for day in _days_from(self._day(cursor)):
            for opening, closing in self._spans_on(day):
                if closing <= cursor:
                    continue
                begin = max(opening, cursor)
                available = closing - begin
                if left <= available:
                    return begin + left
                left -= available
        raise AssertionError("unreachable: the days never run out")  # pragma: no cover

    def working_time_between(self, start: datetime, end: datetime) -> timedelta:
        """Working time from ``start`` to ``end``; zero when ``end`` is not after ``start``."""
        begin, finish = as_utc(start, "start"), as_utc(end, "end")
        if finish <= begin:
            return ZERO
        total = ZERO
        last_day = self._day(finish)
        for day in _days_from(self._day(begin)):
            if day > last_day:
                break
            for opening, closing in self._spans_on(day):
                overlap = min(closing, finish) - max(opening, begin)
                if overlap > ZERO:
                    total += overlap
        return total

    def _day(self, moment: datetime) -> date:
        return moment.astimezone(self.zone).date()

    def _spans_on(self, day: date) -> list[tuple[datetime, datetime]]:
        """The working intervals of a local date, as UTC instants."""
        if day in self.holidays:
            return []
        weekday = MONDAY if day in self.workdays else day.weekday()
        spans = []
        for opening, closing in self.hours[weekday]:
            begin = datetime.combine(day, opening, tzinfo=self.zone).astimezone(UTC)
            closing_day = day + ONE_DAY if closing == END_OF_DAY else day
            end = datetime.combine(closing_day, closing, tzinfo=self.zone).astimezone(UTC)
            # A span swallowed by a daylight-saving jump has no length; skip it.
            if end > begin:
                spans.append((begin, end))
        return spans


def _days_from(first: date) -> Iterator[date]:
    day = first
    while True:
        yield day
        try:
            day += ONE_DAY
        except OverflowError as exc:
            raise ValueError("working time runs past the last representable date") from exc


def _offset(moment: time, closing: bool) -> timedelta:
    """Time since midnight, with a closing 00:00 read as 24:00."""
    if closing and moment == END_OF_DAY:
        return ONE_DAY
    return timedelta(
        hours=moment.hour,
        minutes=moment.minute,
        seconds=moment.second,
        microseconds=moment.microsecond,
    )


def _wall_length(opening: time, closing: time) -> timedelta:
    return _offset(closing, True) - _offset(opening, False)


def _normalise_hours(hours: Mapping[int, DayHours]) -> Mapping[int, tuple[Span, ...]]:
    if not isinstance(hours, Mapping):
        raise ValueError("hours must map weekdays (0 = Monday) to opening hours")
    unknown = [day for day in hours if day not in range(7)]
    if unknown:
        raise ValueError(f"weekdays are 0 (Monday) to 6 (Sunday), got {unknown}")
    return MappingProxyType({day: _normalise_day(day, hours.get(day)) for day in range(7)})


def _normalise_day(day: int, value: DayHours) -> tuple[Span, ...]:
    if value is None:
        return ()
    is_one_span = len(value) == 2 and all(isinstance(part, time) for part in value)
    spans = [value] if is_one_span else list(value)
    checked: list[Span] = []
    for span in spans:
        if len(span) != 2 or not all(isinstance(part, time) for part in span):
            raise ValueError(f"{DAY_NAMES[day]}: a span is an (opening, closing) pair of times")
        opening, closing = span
        if opening.tzinfo is not None or closing.tzinfo is not None:
            raise ValueError(f"{DAY_NAMES[day]}: opening hours are local times without tzinfo")
        if _offset(opening, False) >= _offset(closing, True):
            raise ValueError(
                f"{DAY_NAMES[day]}: {opening:%H:%M}-{closing:%H:%M} closes before it opens "
                "(a span cannot run past midnight; split it over two days)"
            )
        checked.append((opening, closing))
    checked.sort(key=lambda span: _offset(span[0], False))
    for (_, closing), (opening, _) in pairwise(checked):
        if _offset(closing, True) > _offset(opening, False):
            raise ValueError(f"{DAY_NAMES[day]}: opening hours overlap")
    return tuple(checked)


def _parse_zone(text: str) -> ZoneInfo:
    try:
        return ZoneInfo(text.strip())
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {text!r}, expected e.g. 'Asia/Shanghai'") from exc


_TIME = re.compile(r"(\d{1,2}):(\d{2})")
_HOURS_HINT = "expected e.g. 'mon-fri 09:00-18:00; sat 09:00-12:00'"


def _parse_hours(text: str) -> dict[int, list[Span]]:
    entries = [entry.strip() for entry in text.split(";") if entry.strip()]
    if not entries:
        raise ValueError(f"working hours are empty, {_HOURS_HINT}")
    hours: dict[int, list[Span]] = {}
    for entry in entries:
        parts = entry.split(None, 1)
        if len(parts) != 2:
            raise ValueError(f"working hours entry {entry!r} needs days and hours, {_HOURS_HINT}")
        days_text, spans_text = parts
        spans = _parse_spans(spans_text, entry)
        for day in _parse_days(days_text, entry):
            if day in hours:
                raise ValueError(f"{DAY_NAMES[day]} is given twice in working hours")
            hours[day] = spans
    return hours


def _parse_days(text: str, entry: str) -> list[int]:
    days: list[int] = []
    for part in text.lower().split(","):
        first, _, last = part.strip().partition("-")
        if first not in DAY_NAMES or (last and last not in DAY_NAMES):
            raise ValueError(
                f"working hours entry {entry!r}: {part.strip()!r} is not a day or day range "
                f"({', '.join(DAY_NAMES)}; ranges like mon-fri)"
            )
        start = DAY_NAMES.index(first)
        stop = DAY_NAMES.index(last) if last else start
        # Ranges may wrap over the weekend, as in sun-thu.
        days.extend((start + offset) % 7 for offset in range((stop - start) % 7 + 1))
    return days


def _parse_spans(text: str, entry: str) -> list[Span]:
    if text.strip().lower() == "closed":
        return []
    spans: list[Span] = []
    for part in text.split(","):
        opening_text, dash, closing_text = part.strip().partition("-")
        if not dash:
            raise ValueError(f"working hours entry {entry!r}: {part.strip()!r} is not HH:MM-HH:MM")
        spans.append((_parse_time(opening_text, entry), _parse_time(closing_text, entry)))
    return spans


def _parse_time(text: str, entry: str) -> time:
    match = _TIME.fullmatch(text.strip())
    hour, minute = (int(match[1]), int(match[2])) if match else (-1, -1)
    if (hour, minute) == (24, 0):
        return END_OF_DAY
    if not (0 <= hour <= 23 and 0 <= minute <= 59):
        raise ValueError(f"working hours entry {entry!r}: {text.strip()!r} is not a time HH:MM")
    return time(hour, minute)


def _parse_dates(text: str, what: str) -> frozenset[date]:
    """Comma-separated ISO dates; ``first..last`` stands for every date in between."""
    dates: set[date] = set()
    for part in (part.strip() for part in text.split(",")):
        if not part:
            continue
        first_text, dots, last_text = part.partition("..")
        first = _parse_date(first_text, what)
        last = _parse_date(last_text, what) if dots else first
        if last < first:
            raise ValueError(f"{what}: range {part!r} ends before it starts")
        dates.update(_date_range(first, last))
    return frozenset(dates)


def _parse_date(text: str, what: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError as exc:
        raise ValueError(f"{what}: {text.strip()!r} is not a date YYYY-MM-DD") from exc


def _date_range(first: date, last: date) -> Iterable[date]:
    return (first + ONE_DAY * offset for offset in range((last - first).days + 1))
