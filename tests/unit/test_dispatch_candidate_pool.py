"""The fast paths of an assignment decide exactly as the rules written out plainly: ranking
in a candidate pool is ``rank`` over its candidates; a decision that keeps its calendar
answers (per technician between widenings, per calendar, day and travel within one) and
counts once what it can is the decision as first written (kept below verbatim); a calendar
that remembers its days gives the spans it would build. Compared over many random jobs and
technicians."""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta

import pytest

from services.dispatch.domain.assignment import (
    HORIZON_DAYS,
    Base,
    Candidate,
    Considered,
    Decision,
    Exclusion,
    FirstArrivals,
    JobNeeds,
    Ranking,
    ScoreParts,
    Shortlisted,
    Shortlisting,
    Slot,
    earliest_slot,
    rank,
)
from services.dispatch.domain.calendar import WorkingHours
from services.dispatch.domain.candidate_pool import CandidatePool

ZONE = "Asia/Shanghai"
TODAY = date(2026, 11, 25)
REGIONS = ["上海", "北京", "广州", ""]
SHIFTS = [
    "mon-sun 00:00-24:00",
    "mon-fri 09:00-18:00",
    "tue-sat 08:30-12:00,13:00-17:30",
    "sat-mon 20:00-24:00",
]
CALENDARS = [WorkingHours.parse(ZONE, shifts) for shifts in SHIFTS] + [
    WorkingHours.parse(ZONE, SHIFTS[1], "2026-11-25..2026-11-27")
]


def _coordinate(rng: random.Random) -> tuple[float | None, float | None]:
    if rng.random() < 0.1:
        return None, None
    return 31.0 + rng.choice([0.0, 0.25, 0.5, rng.random()]), 121.0 + rng.random()


def _bases(rng: random.Random) -> list[Base]:
    bases = []
    for n in range(rng.randint(1, 12)):
        latitude, longitude = _coordinate(rng)
        covers = frozenset(rng.sample(REGIONS[:3], rng.randint(1, 2)))
        bases.append(Base(f"SP-{n}", latitude, longitude, covers))
    # Points at the very same place (a tie on distance), and a point id met with two
    # different records (the first one met gives the distance).
    if rng.random() < 0.5:
        twin = rng.choice(bases)
        bases.append(Base(f"SP-{len(bases)}", twin.latitude, twin.longitude, twin.covers_regions))
    if rng.random() < 0.2:
        again = rng.choice(bases)
        bases.append(Base(again.service_point_id, 30.0, 120.0, frozenset({"北京"})))
    return bases


def _candidates(rng: random.Random) -> list[Candidate]:
    bases = _bases(rng)
    found = []
    for n in range(rng.randint(0, 120)):
        # Now and then an id met twice: their order is the list's, as a stable sort keeps it.
        number = n if rng.random() > 0.05 else rng.randint(0, n)
        found.append(
            Candidate(
                technician_id=f"T-{number:04d}",
                name=f"技师{n}",
                active=rng.random() > 0.1,
                skills=frozenset(
                    rng.sample(["pumps", "compressors", "heaters"], rng.randint(1, 3))
                ),
                certified_until=rng.choice(
                    [None, TODAY - timedelta(days=1), TODAY, TODAY + timedelta(days=1)]
                ),
                base=rng.choice(bases),
                hours=rng.choice(CALENDARS),
                max_jobs_per_day=rng.randint(1, 4),
            )
        )
    rng.shuffle(found)
    return found


def _job(rng: random.Random, candidates: list[Candidate], now: datetime) -> JobNeeds:
    latitude, longitude = _coordinate(rng)
    ids = [c.technician_id for c in candidates]
    declined = frozenset(rng.sample(ids, min(len(ids), rng.randint(0, 3)))) | {"T-nobody"}
    return JobNeeds(
        request_no="SR-2026-000001",
        skill=rng.choice(["pumps", "compressors", None]),
        region=rng.choice([*REGIONS, None]),
        latitude=latitude,
        longitude=longitude,
        urgent=rng.random() < 0.5,
        arrival_due_at=rng.choice(
            [None, now - timedelta(hours=1), now + timedelta(hours=3), now + timedelta(days=2)]
        ),
        declined_by=declined if rng.random() < 0.3 else frozenset(),
    )


def _loads(rng: random.Random, candidates: list[Candidate]) -> dict[str, dict[date, int]]:
    return {
        c.technician_id: {TODAY + timedelta(days=d): rng.randint(0, 4) for d in range(4)}
        for c in candidates
        if rng.random() < 0.7
    }


# The decision as it was written before its fast paths (calendar answers kept, distances
# rounded once, exclusions counted once per ranking), kept here verbatim as the reference.


def _plain_earliest_slot(
    candidate: Candidate,
    now: datetime,
    travel: timedelta,
    due: datetime | None,
    loads: Mapping[date, int],
    urgent: bool = True,
) -> Slot | Exclusion:
    if due is not None and due <= now:
        due = None
    hours = candidate.hours
    day = hours.local_day(now)
    last_day = hours.local_day(due) if due is not None else day + timedelta(days=HORIZON_DAYS)
    limit_hit = False
    last_slot: Slot | None = None
    kept: list[date] = []
    while day <= last_day:
        for begins, ends in hours.spans_on(day):
            departs = max(begins, now)
            arrives = departs + travel
            if arrives > ends:
                continue
            if due is not None and arrives > due:
                if last_slot is not None:
                    return last_slot
                return (
                    Exclusion.DAILY_LIMIT_REACHED
                    if limit_hit
                    else (Exclusion.NO_WORKING_TIME_BEFORE_DUE)
                )
            load = loads.get(day, 0)
            if load >= candidate.max_jobs_per_day:
                limit_hit = True
                break
            if not urgent and load == candidate.max_jobs_per_day - 1:
                # Kept for an urgent job unless nothing later fits this one.
                last_slot = last_slot or Slot(arrives, day)
                kept.append(day)
                break
            return Slot(arrives, day, tuple(kept))
        day += timedelta(days=1)
    if last_slot is not None:
        return last_slot
    return Exclusion.DAILY_LIMIT_REACHED if limit_hit else Exclusion.NO_WORKING_TIME_BEFORE_DUE


def _plain_choose_nearest(
    job: JobNeeds,
    ranking: Ranking,
    size: int,
    loads: Mapping[str, Mapping[date, int]],
    now: datetime,
    speed_kmh: float,
) -> Shortlisted:
    considered = list(ranking.excluded)
    fitting: list[tuple[tuple[object, ...], Candidate, ScoreParts]] = []
    nearest_fit: float | None = None
    shortlist, rest = ranking.passing[:size], ranking.passing[size:]
    for distance, known, candidate in shortlist:
        if nearest_fit is not None and round(distance, 1) > round(nearest_fit, 1):
            considered.append(
                Considered(
                    candidate.technician_id, candidate.name, known, Exclusion.FARTHER_THAN_WINNER
                )
            )
            continue
        travel_minutes = math.ceil((known or 0.0) / speed_kmh * 60) if speed_kmh > 0 else 0
        own_loads = loads.get(candidate.technician_id, {})
        slot = _plain_earliest_slot(
            candidate,
            now,
            timedelta(minutes=travel_minutes),
            job.arrival_due_at,
            own_loads,
            urgent=job.urgent,
        )
        if isinstance(slot, Exclusion):
            considered.append(Considered(candidate.technician_id, candidate.name, known, slot))
            continue
        arrives, day = slot.arrives, slot.day
        load = own_loads.get(day, 0)
        score = ScoreParts(
            distance_km=known,
            travel_minutes=travel_minutes,
            load_that_day=load,
            max_jobs_per_day=candidate.max_jobs_per_day,
            planned_day=day,
            earliest_arrival=arrives,
            urgent=job.urgent,
            kept_for_urgent=slot.kept_for_urgent,
        )
        considered.append(Considered(candidate.technician_id, candidate.name, known, None, score))
        nearest_fit = distance if nearest_fit is None else nearest_fit
        fitting.append(
            ((round(distance, 1), load, arrives, candidate.technician_id), candidate, score)
        )
    needs_more = bool(rest) and (
        nearest_fit is None or round(rest[0][0], 1) <= round(nearest_fit, 1)
    )
    reasons: dict[str, int] = {}
    for entry in considered:
        if entry.excluded is not None:
            reasons[entry.excluded.value] = reasons.get(entry.excluded.value, 0) + 1
    if rest and nearest_fit is not None:
        # Those beyond the shortlist are farther still: counted, not listed one by one.
        farther = Exclusion.FARTHER_THAN_WINNER.value
        reasons[farther] = reasons.get(farther, 0) + len(rest)
    if not fitting:
        return Shortlisted(Decision(None, None, considered, reasons, len(rest)), needs_more)
    _key, winner, score = min(fitting, key=lambda item: item[0])
    return Shortlisted(Decision(winner, score, considered, reasons, len(rest)), needs_more)


def _same_ranking(fast: Ranking, plain: Ranking, rng: random.Random) -> None:
    assert fast.excluded == plain.excluded
    assert list(fast.excluded_reasons.items()) == list(plain.excluded_reasons.items())
    # Read as a decision reads it (a slice, one entry, the length), before it is all built,
    # and as any list is read.
    length = len(plain.passing)
    assert len(fast.passing) == length
    for _ in range(3):
        start = rng.randint(0, length)
        stop = rng.randint(start, length + 2)
        assert fast.passing[start:stop] == plain.passing[start:stop]
        if start < length:
            assert fast.passing[start] == plain.passing[start]
        anyhow = slice(
            rng.choice([None, rng.randint(-length - 2, length + 2)]),
            rng.choice([None, rng.randint(-length - 2, length + 2)]),
            rng.choice([None, 1, 3, -1, -2]),
        )
        assert fast.passing[anyhow] == plain.passing[anyhow]
        if length:
            at = rng.randint(-length, length - 1)
            assert fast.passing[at] == plain.passing[at]
    assert list(fast.passing) == plain.passing
    # The very candidates, not equal copies.
    assert all(a[2] is b[2] for a, b in zip(fast.passing, plain.passing, strict=True))


def _widening(
    job: JobNeeds,
    ranking: Ranking,
    loads: dict[str, dict[date, int]],
    now: datetime,
    plain: bool = False,
) -> Decision:
    """As an assignment widens its shortlist (commands.assignment._choose). The fast way goes
    on from where it stopped, and is given only the loads it asks for."""
    size, shortlisting, read = 3, Shortlisting(job, ranking, now, 40.0), {}
    while True:
        if plain:
            shortlisted = _plain_choose_nearest(job, ranking, size, loads, now, 40.0)
        else:
            for tid in shortlisting.needing_loads(size):
                read[tid] = loads.get(tid, {})
            shortlisted = shortlisting.advance(size, read)
        if not shortlisted.needs_more:
            return shortlisted.decision
        size *= 4


def _counted(decision: Decision) -> list[tuple[str, int]]:
    """The reasons as a decision counts them: over everyone considered in order, then those
    beyond the shortlist as farther than the winner."""
    reasons: dict[str, int] = {}
    for entry in decision.considered:
        if entry.excluded is not None:
            reasons[entry.excluded.value] = reasons.get(entry.excluded.value, 0) + 1
    if decision.winner is not None and decision.farther_uncounted:
        reasons["farther_than_winner"] = (
            reasons.get("farther_than_winner", 0) + decision.farther_uncounted
        )
    return list(reasons.items())


def _same_decision(fast: Decision, plain: Decision) -> None:
    assert fast.winner is plain.winner
    assert fast.score == plain.score
    assert fast.considered == plain.considered
    # The reasons in the same order too: they are published as they are.
    assert list(fast.reasons.items()) == list(plain.reasons.items()) == _counted(plain)
    assert fast.farther_uncounted == plain.farther_uncounted
    assert fast.explanation() == plain.explanation()


@pytest.mark.parametrize("seed", range(8))
def test_ranking_in_a_pool_is_ranking_every_candidate(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(60):
        candidates = _candidates(rng)
        pool = CandidatePool(candidates)
        # One pool serves many jobs, on several days (certificates expire between them).
        for _ in range(10):
            today = TODAY + timedelta(days=rng.choice([-1, 0, 0, 0, 1]))
            now = datetime.combine(today, datetime.min.time(), UTC) + timedelta(
                hours=rng.uniform(0, 24)
            )
            job = _job(rng, candidates, now)
            plain = rank(job, candidates, today)
            _same_ranking(pool.rank(job, today), plain, rng)
            loads = _loads(rng, candidates)
            _same_decision(
                _widening(job, pool.rank(job, today), loads, now),
                _widening(job, plain, loads, now, plain=True),
            )


def test_calendar_answers_shared_within_a_decision_are_each_ones_own() -> None:
    rng = random.Random(7)
    for _ in range(40):
        candidates = _candidates(rng)
        now = datetime(2026, 11, 25, tzinfo=UTC) + timedelta(hours=rng.uniform(-24, 72))
        arrivals = FirstArrivals(now)  # one for all of them, as in one decision
        for candidate in candidates:
            travel = timedelta(minutes=rng.choice([0, 20, 95, 600]))
            due = rng.choice([None, now - timedelta(hours=2), now + timedelta(hours=5)])
            loads = {TODAY + timedelta(days=d): rng.randint(0, 4) for d in range(-1, 5)}
            urgent = rng.random() < 0.5
            assert earliest_slot(
                candidate, now, travel, due, loads, urgent, arrivals
            ) == _plain_earliest_slot(candidate, now, travel, due, loads, urgent)


def test_a_pool_finds_the_first_candidate_with_an_id() -> None:
    rng = random.Random(99)
    candidates = _candidates(rng)
    while not candidates:
        candidates = _candidates(rng)
    pool = CandidatePool(candidates)
    for candidate in candidates:
        first = next(c for c in candidates if c.technician_id == candidate.technician_id)
        assert pool.find(candidate.technician_id) is first
    assert pool.find("T-nobody") is None


def test_a_calendar_remembers_its_days_as_it_would_build_them() -> None:
    for calendar in CALENDARS:
        for offset in range(-3, 200):  # past what one calendar remembers
            day = TODAY + timedelta(days=offset)
            twin = WorkingHours(calendar.zone, calendar.week, calendar.days_off)
            assert calendar.spans_on(day) == twin.spans_on(day)
            assert calendar.spans_on(day) == twin.spans_on(day)  # remembered


def _widening_reading_ahead(
    job: JobNeeds, ranking: Ranking, loads: dict[str, dict[date, int]], now: datetime
) -> tuple[Decision, int]:
    """``_widening`` as ``commands.assignment._choose`` reads: the first read takes those a
    tie at the shortlist's end would widen it to as well. The decision, and how many reads."""
    size, shortlisting, read, reads = 3, Shortlisting(job, ranking, now, 40.0), {}, 0
    while True:
        needing = shortlisting.needing_loads(size)
        if not read:
            needing += shortlisting.tied_beyond(size)
        unread = [tid for tid in needing if tid not in read]
        reads += bool(unread)
        for tid in unread:
            read[tid] = loads.get(tid, {})
        shortlisted = shortlisting.advance(size, read)
        if not shortlisted.needs_more:
            return shortlisted.decision, reads
        size *= 4


@pytest.mark.parametrize("seed", range(4))
def test_loads_read_ahead_for_a_tie_change_no_decision(seed: int) -> None:
    rng = random.Random(100 + seed)
    for _ in range(60):
        candidates = _candidates(rng)
        pool = CandidatePool(candidates)
        for _ in range(10):
            now = datetime.combine(TODAY, datetime.min.time(), UTC) + timedelta(
                hours=rng.uniform(0, 24)
            )
            job = _job(rng, candidates, now)
            loads = _loads(rng, candidates)
            ahead, _reads = _widening_reading_ahead(job, pool.rank(job, TODAY), loads, now)
            _same_decision(ahead, _widening(job, rank(job, candidates, TODAY), loads, now, True))


def test_a_tie_at_the_shortlists_end_is_read_with_it() -> None:
    """Six technicians at one point, the three first in id order full today: the shortlist
    of three widens to the other three, whose loads came with the first read."""
    base = Base("SP-1", 31.2, 121.5, frozenset({"上海"}))
    everyday = WorkingHours.parse(
        ZONE, "mon-sun 00:00-24:00", f"{TODAY + timedelta(days=1)}..2027-01-31"
    )
    candidates = [
        Candidate(f"T-{n}", f"技师{n}", True, frozenset({"pumps"}), TODAY + timedelta(days=9),
                  base, everyday, 2)
        for n in range(6)
    ]  # fmt: skip
    loads = {f"T-{n}": {TODAY: 2 if n < 3 else 0} for n in range(6)}
    now = datetime.combine(TODAY, datetime.min.time(), UTC) + timedelta(hours=3)
    job = JobNeeds("SR-1", "pumps", "上海", 31.21, 121.5, False, None)
    ranking = CandidatePool(candidates).rank(job, TODAY)
    assert Shortlisting(job, ranking, now, 40.0).tied_beyond(3) == ["T-3", "T-4", "T-5"]
    decision, reads = _widening_reading_ahead(job, ranking, loads, now)
    assert decision.winner is not None and decision.winner.technician_id == "T-3"
    assert reads == 1
    _same_decision(decision, _widening(job, rank(job, candidates, TODAY), loads, now, True))
