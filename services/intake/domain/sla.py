"""SLA targets and the clocks that watch them.

A target is a duration on a basis: ``elapsed`` counts wall-clock time around the clock,
``working`` counts only the working calendar's hours. A clock runs from the moment a request
is registered, pauses while the request waits on the customer, and stops when the target is
met. Every instant is a timezone-aware datetime; instants coming out are in UTC.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from types import MappingProxyType

from services.intake.domain.calendar import WorkingCalendar, as_utc

ZERO = timedelta(0)


class SlaBasis(StrEnum):
    ELAPSED = "elapsed"
    WORKING = "working"


class SlaTargetName(StrEnum):
    RESPONSE_URGENT = "response_urgent"
    RESPONSE_ORDINARY = "response_ordinary"
    RESPONSE_CONSULTATION = "response_consultation"
    COMPLAINT_ACKNOWLEDGEMENT = "complaint_acknowledgement"
    COMPLAINT_FIRST_VERIFICATION = "complaint_first_verification"
    # Whether the complaint is about product quality must be decided, and a quality complaint
    # passed on to claims, within 2 h of receipt.
    COMPLAINT_QUALITY_REPORT = "complaint_quality_report"


class SlaStatus(StrEnum):
    RUNNING = "running"
    PAUSED = "paused"
    MET = "met"
    BREACHED = "breached"


# The company regulations. Response targets run on elapsed time because the call centre
# answers around the clock: "urgent within 30 minutes" must not wait for Monday.
DEFAULT_ELAPSED_TARGETS: Mapping[SlaTargetName, timedelta] = MappingProxyType(
    {
        SlaTargetName.RESPONSE_URGENT: timedelta(minutes=30),
        SlaTargetName.RESPONSE_ORDINARY: timedelta(hours=2),
        SlaTargetName.RESPONSE_CONSULTATION: timedelta(hours=24),
        SlaTargetName.COMPLAINT_ACKNOWLEDGEMENT: timedelta(hours=24),
        SlaTargetName.COMPLAINT_QUALITY_REPORT: timedelta(hours=2),
    }
)
DEFAULT_FIRST_VERIFICATION_WORKING_DAYS = 3

# Request kinds and severities as triage names them.
KIND_COMPLAINT = "complaint"
KIND_CONSULTATION = "consultation"
SEVERITY_URGENT = "urgent"
SEVERITY_ORDINARY = "ordinary"
SEVERITY_CONSULTATION = "consultation"


@dataclass(frozen=True)
class SlaTarget:
    name: str
    duration: timedelta
    basis: SlaBasis = SlaBasis.ELAPSED

    def __post_init__(self) -> None:
        if self.duration <= ZERO:
            raise ValueError(f"SLA target {self.name}: duration must be positive")
        object.__setattr__(self, "basis", SlaBasis(self.basis))

    @classmethod
    def parse(cls, name: str, spec: str, calendar: WorkingCalendar | None = None) -> SlaTarget:
        """Read ``<amount><unit> [elapsed|working]``: units s, m, h, d (24 hours) and wd
        (working days of ``calendar``, working basis). ``30m``, ``2h working``, ``3wd``."""
        match = _SPEC.fullmatch(spec.strip().lower())
        if match is None:
            raise ValueError(
                f"SLA target {name}: {spec!r} is not a duration, expected e.g. '30m', "
                "'2h elapsed', '27h working' or '3wd'"
            )
        amount, unit, basis_text = float(match["amount"]), match["unit"], match["basis"]
        if unit == "wd":
            if basis_text == SlaBasis.ELAPSED:
                raise ValueError(f"SLA target {name}: working days are counted in working time")
            length = (calendar or WorkingCalendar.default()).working_day_length()
            return cls(name, length * amount, SlaBasis.WORKING)
        if unit == "d" and basis_text == SlaBasis.WORKING:
            # "3d working" would be 72 hours of working time, about eight office days.
            raise ValueError(
                f"SLA target {name}: 'd' is 24 hours; write '{match['amount']}wd' for working days"
            )
        return cls(name, _UNITS[unit] * amount, SlaBasis(basis_text or SlaBasis.ELAPSED))


_SPEC = re.compile(
    r"(?P<amount>\d+(?:\.\d+)?)\s*(?P<unit>wd|d|h|min|m|s)\s*(?P<basis>elapsed|working)?"
)
_UNITS = {
    "s": timedelta(seconds=1),
    "m": timedelta(minutes=1),
    "min": timedelta(minutes=1),
    "h": timedelta(hours=1),
    "d": timedelta(days=1),
}


@dataclass(frozen=True, eq=False)
class SlaTargets(Mapping[str, SlaTarget]):
    """Every SLA target, by name; always holds all of :class:`SlaTargetName`."""

    targets: Mapping[str, SlaTarget] = field(hash=False)

    def __post_init__(self) -> None:
        missing = sorted(map(str, set(SlaTargetName) - set(self.targets)))
        unknown = sorted(map(str, set(self.targets) - set(SlaTargetName)))
        if missing or unknown:
            raise ValueError(f"SLA targets: missing {missing}, unknown {unknown}")
        for name, target in self.targets.items():
            if target.name != name:
                raise ValueError(f"SLA target filed as {name} is named {target.name}")
        object.__setattr__(self, "targets", MappingProxyType(dict(self.targets)))

    @classmethod
    def defaults(cls, calendar: WorkingCalendar | None = None) -> SlaTargets:
        """The regulations' targets; first verification is 3 standard days of ``calendar``."""
        day = (calendar or WorkingCalendar.default()).working_day_length()
        targets = {
            name: SlaTarget(name, duration, SlaBasis.ELAPSED)
            for name, duration in DEFAULT_ELAPSED_TARGETS.items()
        }
        verification = SlaTargetName.COMPLAINT_FIRST_VERIFICATION
        targets[verification] = SlaTarget(
            verification, day * DEFAULT_FIRST_VERIFICATION_WORKING_DAYS, SlaBasis.WORKING
        )
        return cls(targets)

    @classmethod
    def parse(cls, text: str, calendar: WorkingCalendar | None = None) -> SlaTargets:
        """The defaults with overrides from settings text such as
        ``response_urgent=45m; complaint_first_verification=5wd``."""
        targets = dict(cls.defaults(calendar))
        for entry in re.split(r"[;,]", text):
            if not entry.strip():
                continue
            name, equals, spec = (part.strip() for part in entry.partition("="))
            if not equals:
                raise ValueError(f"SLA targets: {entry.strip()!r} is not name=duration")
            if name not in targets:
                known = ", ".join(SlaTargetName)
                raise ValueError(f"SLA targets: unknown target {name!r} (known: {known})")
            targets[name] = SlaTarget.parse(name, spec, calendar)
        return cls(targets)

    def __getitem__(self, name: str) -> SlaTarget:
        return self.targets[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.targets)

    def __len__(self) -> int:
        return len(self.targets)


def response_target_for(kind: str, severity: str | None) -> SlaTargetName:
    """The target a first response is measured against; the kind decides before severity."""
    if kind == KIND_COMPLAINT:
        return SlaTargetName.COMPLAINT_ACKNOWLEDGEMENT
    if kind == KIND_CONSULTATION or severity == SEVERITY_CONSULTATION:
        return SlaTargetName.RESPONSE_CONSULTATION
    if severity == SEVERITY_URGENT:
        return SlaTargetName.RESPONSE_URGENT
    if severity == SEVERITY_ORDINARY:
        return SlaTargetName.RESPONSE_ORDINARY
    raise ValueError(f"no response target for kind {kind!r} with severity {severity!r}")


def targets_for(kind: str, severity: str | None) -> list[SlaTargetName]:
    """Every target a request is watched against: complaints have two."""
    if kind == KIND_COMPLAINT:
        return [
            SlaTargetName.COMPLAINT_ACKNOWLEDGEMENT,
            SlaTargetName.COMPLAINT_FIRST_VERIFICATION,
            SlaTargetName.COMPLAINT_QUALITY_REPORT,
        ]
    return [response_target_for(kind, severity)]


def published_target(name: str) -> str:
    """The target as ``intake.sla.breached.v1`` names it: the three response targets are one
    target there (the event carries the severity)."""
    if name.startswith("response_"):
        return "response"
    return (
        name if name == SlaTargetName.COMPLAINT_ACKNOWLEDGEMENT else name.removeprefix("complaint_")
    )


class SlaClockError(ValueError):
    """An SLA clock was asked to do something its state or the order of time forbids."""


@dataclass(frozen=True)
class Pause:
    """A stretch while the request waited on the customer; ``end`` is None while it lasts."""

    start: datetime
    end: datetime | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "start", as_utc(self.start, "pause start"))
        if self.end is not None:
            object.__setattr__(self, "end", as_utc(self.end, "pause end"))
            if self.end < self.start:
                raise SlaClockError("a pause cannot end before it starts")

    def length(self, now: datetime) -> timedelta:
        """How long it lasted, or has lasted by ``now`` if it still does."""
        end = self.end if self.end is not None else as_utc(now, "now")
        return max(end - self.start, ZERO)


@dataclass(frozen=True)
class SlaClock:
    """The clock of one target on one request. Immutable: each event returns a new clock.

    The target is copied in when the clock starts, so changed settings do not move the
    deadlines of clocks already running.
    """

    target: SlaTarget
    started_at: datetime
    pauses: tuple[Pause, ...] = ()
    met_at: datetime | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "started_at", as_utc(self.started_at, "started_at"))
        object.__setattr__(self, "pauses", tuple(self.pauses))
        if self.met_at is not None:
            object.__setattr__(self, "met_at", as_utc(self.met_at, "met_at"))
        latest = self.started_at
        for index, pause in enumerate(self.pauses):
            if pause.start < latest:
                raise SlaClockError("pauses must follow the start and each other in time order")
            if pause.end is None and index != len(self.pauses) - 1:
                raise SlaClockError("only the last pause can still be running")
            latest = pause.end if pause.end is not None else pause.start
        if self.met_at is not None:
            if self.is_paused:
                raise SlaClockError("a met clock cannot still be paused")
            if self.met_at < latest:
                raise SlaClockError("a clock cannot be met before its start or its last resume")

    @property
    def is_paused(self) -> bool:
        return bool(self.pauses) and self.pauses[-1].end is None

    def pause(self, at: datetime) -> SlaClock:
        """The request starts waiting on the customer."""
        moment = as_utc(at, "at")
        self._refuse_if_met("paused")
        if self.is_paused:
            raise SlaClockError("the clock is already paused")
        self._refuse_before_last_event(moment, "paused")
        return replace(self, pauses=(*self.pauses, Pause(moment)))

    def resume(self, at: datetime) -> SlaClock:
        """The customer answered; the clock runs again."""
        moment = as_utc(at, "at")
        self._refuse_if_met("resumed")
        if not self.is_paused:
            raise SlaClockError("the clock is running, there is nothing to resume")
        self._refuse_before_last_event(moment, "resumed")
        return replace(self, pauses=(*self.pauses[:-1], Pause(self.pauses[-1].start, moment)))

    def met(self, at: datetime) -> SlaClock:
        """The target was met at ``at``; a pause still running ends there."""
        moment = as_utc(at, "at")
        self._refuse_if_met("met again")
        self._refuse_before_last_event(moment, "met")
        clock = self.resume(moment) if self.is_paused else self
        return replace(clock, met_at=moment)

    def paused_total(self, now: datetime) -> timedelta:
        """All the time spent paused, a running pause counted up to ``now``."""
        return sum((pause.length(now) for pause in self.pauses), ZERO)

    def due_at(self, calendar: WorkingCalendar, now: datetime) -> datetime:
        """When the target falls due: ``duration`` of unpaused time (on the target's basis)
        after the start.

        A paused clock has no fixed due time yet; it is given as if the clock resumed at
        ``now``, so it moves later while the pause lasts. Pauses taken after the due time do
        not move it: a breach cannot be paused away.
        """
        left = self.target.duration
        for begin, end in self._running_stretches(now):
            if end is not None:
                available = self._measure(calendar, begin, end)
                if left > available:
                    left -= available
                    continue
            return self._advance(calendar, begin, left)
        raise AssertionError("unreachable: the last stretch is open-ended")  # pragma: no cover

    def remaining(self, calendar: WorkingCalendar, now: datetime) -> timedelta:
        """What is left of the duration, on the target's basis, at ``now`` (at ``met_at`` once
        met); zero once used up, see :meth:`breached_at` for how late a clock is."""
        until = as_utc(now, "now") if self.met_at is None else self.met_at
        spent = ZERO
        for begin, end in self._running_stretches(until):
            stop = until if end is None else min(end, until)
            if stop > begin:
                spent += self._measure(calendar, begin, stop)
        return max(self.target.duration - spent, ZERO)

    def breached_at(self, calendar: WorkingCalendar, now: datetime) -> datetime | None:
        """The due time if the clock passed it (met late, or still open after it), else None."""
        due = self.due_at(calendar, now)
        reference = self.met_at if self.met_at is not None else as_utc(now, "now")
        return due if reference > due else None

    def is_breached(self, calendar: WorkingCalendar, now: datetime) -> bool:
        return self.breached_at(calendar, now) is not None

    def status(self, calendar: WorkingCalendar, now: datetime) -> SlaStatus:
        """Breached wins over met: a target met late is a breach."""
        if self.is_breached(calendar, now):
            return SlaStatus.BREACHED
        if self.met_at is not None:
            return SlaStatus.MET
        return SlaStatus.PAUSED if self.is_paused else SlaStatus.RUNNING

    def _running_stretches(self, now: datetime) -> list[tuple[datetime, datetime | None]]:
        """The stretches the clock ran, the last one open-ended; a running pause is taken
        to end at ``now``."""
        moment = as_utc(now, "now")
        stretches: list[tuple[datetime, datetime | None]] = []
        begin = self.started_at
        for pause in self.pauses:
            stretches.append((begin, pause.start))
            begin = pause.end if pause.end is not None else max(moment, pause.start)
        stretches.append((begin, None))
        return stretches

    def _measure(self, calendar: WorkingCalendar, begin: datetime, end: datetime) -> timedelta:
        if self.target.basis is SlaBasis.WORKING:
            return calendar.working_time_between(begin, end)
        return end - begin

    def _advance(self, calendar: WorkingCalendar, begin: datetime, by: timedelta) -> datetime:
        if self.target.basis is SlaBasis.WORKING:
            return calendar.add_working_time(begin, by)
        return begin + by

    def _refuse_if_met(self, action: str) -> None:
        if self.met_at is not None:
            raise SlaClockError(f"the clock was met at {self.met_at.isoformat()}, not {action}")

    def _refuse_before_last_event(self, moment: datetime, action: str) -> None:
        latest = self.started_at
        if self.pauses:
            last = self.pauses[-1]
            latest = last.end if last.end is not None else last.start
        if moment < latest:
            raise SlaClockError(
                f"the clock cannot be {action} at {moment.isoformat()}, "
                f"before its last event at {latest.isoformat()}"
            )
