"""Choosing the technician for a job, and explaining the choice.

Hard rules first — active, certificate valid, has the skill, covers the job's region (when
the job has no coordinates), did not decline this job, has working time in which to arrive
before the arrival due time on a day still under the daily limit. Among those who pass:
nearest first (great-circle distance from the home service point), then least loaded that
day, then earliest arrival, then technician id so the choice is repeatable.

Urgent before ordinary, where capacity is scarce: a technician's last free slot of a day is
kept for urgent jobs. An ordinary job takes it only when no later day with more room still
lets the technician arrive before the job's due time (or within the look-ahead, without a
due time); then it takes the earliest last slot, as before. An urgent job takes the first
slot it finds. The unassigned queue is retried urgent first (``queue_order``), so when
technicians free up, urgent jobs get the room first too. A dispatcher's override ignores
the reserve: it is their call. The winner's score names the days passed over
(``last_slot_kept_for_urgent_on``), so the explanation says why not sooner.

Once the arrival due time has passed, it no longer excludes: the job, late already, goes
to whoever can be there first among the nearest.

Nearest first means that once one technician fits at distance d, nobody farther can win;
those are reported as ``farther_than_winner`` without their calendar being checked, which
keeps one assignment among thousands of technicians fast.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from functools import cached_property

from services.dispatch.domain.calendar import WorkingHours

EARTH_RADIUS_KM = 6371.0088
# Without a due time, a technician is looked for this many days ahead.
HORIZON_DAYS = 14
ONE_DAY = timedelta(days=1)
# How many candidates an explanation lists one by one (all are counted by reason).
EXPLAINED_CANDIDATES = 30


class Exclusion(StrEnum):
    INACTIVE = "inactive"
    CERTIFICATE_EXPIRED = "certificate_expired"
    MISSING_SKILL = "missing_skill"
    OUTSIDE_REGION = "outside_region"
    DECLINED = "declined"
    NO_WORKING_TIME_BEFORE_DUE = "no_working_time_before_due"
    DAILY_LIMIT_REACHED = "daily_limit_reached"
    FARTHER_THAN_WINNER = "farther_than_winner"


# Its value, looked up once (an enum member's value is a descriptor call each time).
FARTHER_THAN_WINNER = Exclusion.FARTHER_THAN_WINNER.value


def great_circle_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Haversine distance on the mean Earth radius."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def great_circle_kms(
    latitude: float, longitude: float, places: Sequence[tuple[float | None, float | None]]
) -> list[float | None]:
    """``great_circle_km`` from one place to each of ``places`` (None for one without
    coordinates): the same arithmetic, to the last bit, without working out the first
    place's part again for each."""
    radians, sin, cos, asin, sqrt = math.radians, math.sin, math.cos, math.asin, math.sqrt
    p1 = radians(latitude)
    cos_p1 = cos(p1)
    found: list[float | None] = []
    for lat2, lon2 in places:
        if lat2 is None or lon2 is None:
            found.append(None)
            continue
        p2 = radians(lat2)
        dp, dl = p2 - p1, radians(lon2 - longitude)
        a = sin(dp / 2) ** 2 + cos_p1 * cos(p2) * sin(dl / 2) ** 2
        found.append(2 * EARTH_RADIUS_KM * asin(min(1.0, sqrt(a))))
    return found


@dataclass(frozen=True)
class Base:
    """A technician's home service point."""

    service_point_id: str
    latitude: float | None
    longitude: float | None
    covers_regions: frozenset[str]


@dataclass(frozen=True)
class Candidate:
    technician_id: str
    name: str
    active: bool
    skills: frozenset[str]
    certified_until: date | None
    base: Base
    hours: WorkingHours
    max_jobs_per_day: int


@dataclass(frozen=True)
class JobNeeds:
    request_no: str
    skill: str | None
    region: str | None
    latitude: float | None
    longitude: float | None
    urgent: bool
    arrival_due_at: datetime | None
    declined_by: frozenset[str] = frozenset()


# Not frozen, like Considered below: made for every candidate who fits.
@dataclass(slots=True)
class ScoreParts:
    distance_km: float | None
    travel_minutes: int
    load_that_day: int
    max_jobs_per_day: int
    planned_day: date
    earliest_arrival: datetime
    urgent: bool
    # Days passed over because their last free slot is kept for urgent jobs.
    kept_for_urgent: tuple[date, ...] = ()

    def as_dict(self) -> dict[str, object]:
        return {
            "last_slot_kept_for_urgent_on": [day.isoformat() for day in self.kept_for_urgent],
            "distance_km": None if self.distance_km is None else round(self.distance_km, 1),
            "travel_minutes": self.travel_minutes,
            "load_that_day": self.load_that_day,
            "max_jobs_per_day": self.max_jobs_per_day,
            "planned_day": self.planned_day.isoformat(),
            "earliest_arrival": self.earliest_arrival.isoformat(),
            "urgent": self.urgent,
        }


# Not frozen: a decision makes a few hundred, and a frozen dataclass's __init__ costs three
# times a plain one's (each field set through object.__setattr__). Nothing changes them.
@dataclass(slots=True)
class Considered:
    technician_id: str
    name: str
    distance_km: float | None
    excluded: Exclusion | None
    score: ScoreParts | None = None

    def as_dict(self) -> dict[str, object]:
        return {
            "technician_id": self.technician_id,
            "name": self.name,
            "distance_km": None if self.distance_km is None else round(self.distance_km, 1),
            "excluded": None if self.excluded is None else self.excluded.value,
            "score": None if self.score is None else self.score.as_dict(),
        }


@dataclass(frozen=True)
class Decision:
    winner: Candidate | None
    score: ScoreParts | None
    considered: list[Considered]
    reasons: dict[str, int] = field(default_factory=dict)
    # Farther than the winner and only counted (in ``reasons``), not in ``considered``.
    farther_uncounted: int = 0

    def explanation(self) -> dict[str, object]:
        ranked = heapq.nsmallest(
            EXPLAINED_CANDIDATES,
            self.considered,
            key=lambda c: (c.excluded is not None, c.distance_km or 0.0, c.technician_id),
        )
        return {
            "winner": None if self.winner is None else self.winner.technician_id,
            "score": None if self.score is None else self.score.as_dict(),
            "candidates_considered": len(self.considered) + self.farther_uncounted,
            "exclusions": dict(sorted(self.reasons.items())),
            "candidates": [c.as_dict() for c in ranked],
        }


def distance_from_base(job: JobNeeds, base: Base) -> float | None:
    if None in (job.latitude, job.longitude, base.latitude, base.longitude):
        return None
    return great_circle_km(job.latitude, job.longitude, base.latitude, base.longitude)  # type: ignore[arg-type]


def great_circle_km_or_none(job: JobNeeds | object, candidate: Candidate) -> float | None:
    """Distance from the job (anything with ``latitude``/``longitude``) to the home point."""
    latitude, longitude = getattr(job, "latitude", None), getattr(job, "longitude", None)
    base = candidate.base
    if None in (latitude, longitude, base.latitude, base.longitude):
        return None
    return great_circle_km(latitude, longitude, base.latitude, base.longitude)  # type: ignore[arg-type]


def standing_exclusion(candidate: Candidate, today: date, skill: str | None) -> Exclusion | None:
    """The rules that hold whatever the job, for jobs needing ``skill`` on ``today``."""
    if not candidate.active:
        return Exclusion.INACTIVE
    if candidate.certified_until is None or candidate.certified_until < today:
        return Exclusion.CERTIFICATE_EXPIRED
    if skill is not None and skill not in candidate.skills:
        return Exclusion.MISSING_SKILL
    return None


def job_exclusion(job: JobNeeds, candidate: Candidate) -> Exclusion | None:
    """The rules that depend on the job itself (checked after ``standing_exclusion``)."""
    if candidate.technician_id in job.declined_by:
        return Exclusion.DECLINED
    has_coordinates = job.latitude is not None and candidate.base.latitude is not None
    if not has_coordinates and job.region and job.region not in candidate.base.covers_regions:
        return Exclusion.OUTSIDE_REGION
    return None


def _cheap_exclusion(job: JobNeeds, candidate: Candidate, today: date) -> Exclusion | None:
    return standing_exclusion(candidate, today, job.skill) or job_exclusion(job, candidate)


@dataclass(frozen=True)
class Slot:
    arrives: datetime
    day: date
    # Earlier days whose last free slot an ordinary job left for urgent ones.
    kept_for_urgent: tuple[date, ...] = ()


class FirstArrivals:
    """When someone can first be there on a day, for one decision (one ``now``): the first
    shift span of the day that the travel still fits in. That depends on the calendar,
    the day and the travel time only, not on whose loads: technicians sharing a calendar
    and a home point share it, so one decision works each out once."""

    def __init__(self, now: datetime) -> None:
        self.now = now
        # (id of the calendar, day, travel) → (the calendar, the answer): calendars are
        # not hashable; the one kept makes sure the id still names it.
        self._first: dict[tuple[int, date, timedelta], tuple[WorkingHours, datetime | None]] = {}
        self._days: dict[tuple[object, datetime], date] = {}

    def local_day(self, hours: WorkingHours, at: datetime) -> date:
        key = (hours.zone, at)
        day = self._days.get(key)
        if day is None:
            day = self._days[key] = hours.local_day(at)
        return day

    def first(self, hours: WorkingHours, day: date, travel: timedelta) -> datetime | None:
        key = (id(hours), day, travel)
        known = self._first.get(key)
        if known is not None and known[0] is hours:
            return known[1]
        found = None
        for begins, ends in hours.spans_on(day):
            arrives = max(begins, self.now) + travel
            if arrives <= ends:
                found = arrives
                break
        self._first[key] = (hours, found)
        return found


def earliest_slot(
    candidate: Candidate,
    now: datetime,
    travel: timedelta,
    due: datetime | None,
    loads: Mapping[date, int],
    urgent: bool = True,
    arrivals: FirstArrivals | None = None,
) -> Slot | Exclusion:
    """The first moment the technician can be there, within a shift, on a day under the
    limit, before the due time; or why there is none. A due time already past no longer
    excludes anyone: the breach is recorded, and the job still needs the earliest visit.

    An ordinary job (``urgent=False``) passes over a day's last free slot while a later day
    with more room still fits; only if none does it takes the earliest last slot.

    ``arrivals``: shared by the calls of one decision (same ``now``)."""
    if arrivals is None or arrivals.now != now:
        arrivals = FirstArrivals(now)
    if due is not None and due <= now:
        due = None
    hours = candidate.hours
    limit = candidate.max_jobs_per_day
    day = arrivals.local_day(hours, now)
    last_day = (
        arrivals.local_day(hours, due) if due is not None else day + timedelta(days=HORIZON_DAYS)
    )
    limit_hit = False
    last_slot: Slot | None = None
    kept: list[date] = []
    while day <= last_day:
        # Only the day's first span the travel fits in counts: a day at its limit is
        # passed over whole.
        arrives = arrivals.first(hours, day, travel)
        if arrives is not None:
            if due is not None and arrives > due:
                if last_slot is not None:
                    return last_slot
                return (
                    Exclusion.DAILY_LIMIT_REACHED
                    if limit_hit
                    else Exclusion.NO_WORKING_TIME_BEFORE_DUE
                )
            load = loads.get(day, 0)
            if load >= limit:
                limit_hit = True
            elif not urgent and load == limit - 1:
                # Kept for an urgent job unless nothing later fits this one.
                last_slot = last_slot or Slot(arrives, day)
                kept.append(day)
            else:
                return Slot(arrives, day, tuple(kept))
        day += ONE_DAY
    if last_slot is not None:
        return last_slot
    return Exclusion.DAILY_LIMIT_REACHED if limit_hit else Exclusion.NO_WORKING_TIME_BEFORE_DUE


@dataclass(frozen=True)
class Ranking:
    """Candidates after the rules that need no calendar: the excluded with their reason, the
    rest nearest first (distance 0 when unknown, i.e. they cover the region)."""

    excluded: list[Considered]
    # (nearness, distance, candidate); any sequence: a pool builds it as far as it is read.
    passing: Sequence[tuple[float, float | None, Candidate]]
    # ``excluded_reasons`` when the ranker counted them already.
    counted: dict[str, int] | None = field(default=None, compare=False)

    @cached_property
    def excluded_reasons(self) -> dict[str, int]:
        """How many were excluded for each reason, reasons in the order first met (a
        decision may be made several times over one ranking: counted once)."""
        if self.counted is not None:
            return self.counted
        reasons: dict[str, int] = {}
        for entry in self.excluded:
            if entry.excluded is not None:
                reasons[entry.excluded.value] = reasons.get(entry.excluded.value, 0) + 1
        return reasons


# A located job and a home point without coordinates (it covers the job's region): the
# distance is unknown, so it comes after every technician whose distance is known.
UNKNOWN_DISTANCE_KM = 100_000.0


def nearness(job: JobNeeds, distance: float | None) -> float:
    """Sort key, nearest first; a job without coordinates has every candidate at 0."""
    if distance is not None:
        return distance
    return UNKNOWN_DISTANCE_KM if job.latitude is not None else 0.0


def rank(job: JobNeeds, candidates: Iterable[Candidate], today: date) -> Ranking:
    """Every candidate checked and all sorted: the rules as written. Assignments rank in a
    ``CandidatePool`` (domain.candidate_pool), which returns the same at a fraction of the
    cost."""
    excluded: list[Considered] = []
    passing: list[tuple[float, float | None, Candidate]] = []
    # Technicians share few home points: one distance per point.
    distances: dict[str, float | None] = {}
    for candidate in candidates:
        point = candidate.base.service_point_id
        if point not in distances:
            distances[point] = distance_from_base(job, candidate.base)
        distance = distances[point]
        reason = _cheap_exclusion(job, candidate, today)
        if reason is not None:
            excluded.append(Considered(candidate.technician_id, candidate.name, distance, reason))
        else:
            passing.append((nearness(job, distance), distance, candidate))
    passing.sort(key=lambda entry: (entry[0], entry[2].technician_id))
    return Ranking(excluded, passing)


@dataclass(frozen=True)
class Shortlisted:
    decision: Decision
    # The first ``size`` nearest could not settle it (nobody fitted, or a tie on distance
    # runs past them): look at more.
    needs_more: bool


class Shortlisting:
    """One job's decision among the nearest passing candidates, made as the shortlist
    grows. ``advance(size)`` decides among the first ``size``, going on from where the
    previous call stopped: candidates are looked at in order, each once, so a shortlist
    widened from 40 to 160 looks at 120 more, not 160 again, and decides as if it had
    looked at all 160 at once.

    Only the candidates it will look at need their loads read (``needing_loads``): once
    someone fits, everyone farther is counted as such without their calendar."""

    def __init__(self, job: JobNeeds, ranking: Ranking, now: datetime, speed_kmh: float) -> None:
        self.job, self.ranking, self.now, self.speed_kmh = job, ranking, now, speed_kmh
        self._considered = list(ranking.excluded)
        self._reasons = dict(ranking.excluded_reasons)
        self._fitting: list[tuple[tuple[object, ...], Candidate, ScoreParts]] = []
        self._nearest_fit: float | None = None  # rounded to 0.1 km, as distances compare
        self._done = 0
        self._arrivals = FirstArrivals(now)
        # Technicians share few home points, hence few distances: each rounded (round()
        # costs more than a lookup), and turned into a travel time, once.
        self._rounded: dict[float, float] = {}
        self._travels: dict[float | None, tuple[int, timedelta]] = {}

    def _near(self, distance: float) -> float:
        near = self._rounded.get(distance)
        if near is None:
            near = self._rounded[distance] = round(distance, 1)
        return near

    def needing_loads(self, size: int) -> list[str]:
        """The technicians among the first ``size`` whose loads ``advance`` will read."""
        nearest_fit = self._nearest_fit
        return [
            candidate.technician_id
            for distance, _known, candidate in self.ranking.passing[self._done : size]
            if nearest_fit is None or self._near(distance) <= nearest_fit
        ]

    def tied_beyond(self, size: int) -> list[str]:
        """The technicians after the first ``size`` as near as the last of them: if the
        decision among the first ``size`` ends in a tie on that distance, ``advance`` widens
        the shortlist to them, and reads their loads (technicians share home points, so
        such a run is common). Read with the first ``size``, they cost no second read."""
        passing = self.ranking.passing
        if size < 1 or size >= len(passing):
            return []
        last = self._near(passing[size - 1][0])
        tied: list[str] = []
        for distance, _known, candidate in passing[size : size * 4]:
            if self._near(distance) != last:
                break
            tied.append(candidate.technician_id)
        return tied

    def advance(self, size: int, loads: Mapping[str, Mapping[date, int]]) -> Shortlisted:
        """Decide among the ``size`` nearest; ``loads`` must cover ``needing_loads(size)``."""
        if size < self._done:
            raise ValueError(f"the shortlist already holds {self._done}, not {size}")
        job, considered, reasons = self.job, self._considered, self._reasons
        passing = self.ranking.passing
        rounded = self._rounded
        farther, farther_reason = Exclusion.FARTHER_THAN_WINNER, FARTHER_THAN_WINNER
        for distance, known, candidate in passing[self._done : size]:
            near = rounded.get(distance)
            if near is None:
                near = self._near(distance)
            if self._nearest_fit is not None and near > self._nearest_fit:
                # Most of a shortlist once someone fits: recorded without a call each.
                considered.append(
                    Considered(candidate.technician_id, candidate.name, known, farther)
                )
                reasons[farther_reason] = reasons.get(farther_reason, 0) + 1
                continue
            travel = self._travels.get(known)
            if travel is None:
                speed = self.speed_kmh
                minutes = math.ceil((known or 0.0) / speed * 60) if speed > 0 else 0
                travel = self._travels[known] = (minutes, timedelta(minutes=minutes))
            own_loads = loads.get(candidate.technician_id, {})
            slot = earliest_slot(
                candidate, self.now, travel[1], job.arrival_due_at, own_loads,
                urgent=job.urgent, arrivals=self._arrivals,
            )  # fmt: skip
            if isinstance(slot, Exclusion):
                self._exclude(Considered(candidate.technician_id, candidate.name, known, slot))
                continue
            arrives, day = slot.arrives, slot.day
            load = own_loads.get(day, 0)
            score = ScoreParts(
                distance_km=known,
                travel_minutes=travel[0],
                load_that_day=load,
                max_jobs_per_day=candidate.max_jobs_per_day,
                planned_day=day,
                earliest_arrival=arrives,
                urgent=job.urgent,
                kept_for_urgent=slot.kept_for_urgent,
            )
            considered.append(
                Considered(candidate.technician_id, candidate.name, known, None, score)
            )
            if self._nearest_fit is None:
                self._nearest_fit = near
            self._fitting.append(((near, load, arrives, candidate.technician_id), candidate, score))
        self._done = max(self._done, min(size, len(passing)))

        beyond = max(0, len(passing) - size)
        nearest_fit = self._nearest_fit
        needs_more = bool(beyond) and (
            nearest_fit is None or self._near(passing[size][0]) <= nearest_fit
        )
        decided = dict(reasons)
        if beyond and nearest_fit is not None:
            # Those beyond the shortlist are farther still: counted, not listed one by one.
            farther = Exclusion.FARTHER_THAN_WINNER.value
            decided[farther] = decided.get(farther, 0) + beyond
        if not self._fitting:
            return Shortlisted(Decision(None, None, list(considered), decided, beyond), needs_more)
        _key, winner, score = min(self._fitting, key=lambda item: item[0])
        return Shortlisted(Decision(winner, score, list(considered), decided, beyond), needs_more)

    def _exclude(self, entry: Considered) -> None:
        self._considered.append(entry)
        reason = entry.excluded.value  # type: ignore[union-attr]
        self._reasons[reason] = self._reasons.get(reason, 0) + 1


def choose_nearest(
    job: JobNeeds,
    ranking: Ranking,
    size: int,
    loads: Mapping[str, Mapping[date, int]],
    now: datetime,
    speed_kmh: float,
) -> Shortlisted:
    """Decide among the ``size`` nearest passing candidates; ``loads`` must cover them."""
    return Shortlisting(job, ranking, now, speed_kmh).advance(size, loads)


def choose(
    job: JobNeeds,
    candidates: Iterable[Candidate],
    loads: Mapping[str, Mapping[date, int]],
    now: datetime,
    speed_kmh: float,
    today: date,
) -> Decision:
    """Decide among all candidates; ``loads``: technician id → local day → jobs planned."""
    ranking = rank(job, candidates, today)
    return choose_nearest(job, ranking, len(ranking.passing), loads, now, speed_kmh).decision


def queue_order(
    urgent: bool, arrival_due_at: datetime | None, created_at: datetime
) -> tuple[object, ...]:
    """Which waiting job is assigned first: urgent before ordinary, then the earliest due."""
    return (0 if urgent else 1, arrival_due_at is None, arrival_due_at or created_at, created_at)
