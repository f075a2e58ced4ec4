"""Assigning technicians: automatically (at once, at any hour), by a dispatcher's override,
and again after a decline; the unassigned queue retried when technicians become available.

Concurrency: the job's row is locked first (SELECT ... FOR UPDATE: one decision per job at
a time, so it is never assigned twice), then the winner's day-load row is taken by a
conditional UPDATE (jobs < limit), which locks it and re-checks the committed count. Two
dispatch instances therefore never put more on a technician's day than the limit; a
technician found full is counted as such and the choice is made again.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from services.dispatch.db.jobs import JobRepository
from services.dispatch.db.models import AssignmentRow, JobHistoryRow, JobRow
from services.dispatch.db.new_job import NewJob, insert_together
from services.dispatch.db.staff import DayLoads, Technicians
from services.dispatch.domain.assignment import (
    HORIZON_DAYS,
    Candidate,
    Decision,
    Exclusion,
    JobNeeds,
    Ranking,
    Shortlisting,
    earliest_slot,
    great_circle_km_or_none,
)
from services.dispatch.domain.job import JobStatus
from services.dispatch.metrics import ASSIGNMENT_SECONDS, ASSIGNMENTS, UNASSIGNABLE
from services.dispatch.settings import DispatchSettings
from shared.db.unit_of_work import UnitOfWork
from shared.events.schemas.dispatch import JobAssignedV1, JobUnassignableV1

log = logging.getLogger(__name__)
SYSTEM = "dispatch"
# A technician found full under the lock is taken out and the choice made again, this often.
MAX_RECHOICES = 5


@dataclass(frozen=True)
class Outcome:
    assigned: bool
    technician_id: str | None
    explanation: dict[str, object]


def _needs(job: JobRow, declined: frozenset[str]) -> JobNeeds:
    return JobNeeds(
        request_no=job.request_no,
        skill=job.required_skill,
        region=job.region,
        latitude=job.latitude,
        longitude=job.longitude,
        urgent=job.severity == "urgent",
        arrival_due_at=job.arrival_due_at,
        declined_by=declined,
    )


# How many of the nearest passing technicians are looked at first (more if they cannot decide).
SHORTLIST = 40


@dataclass
class Deciding:
    """One job's decision in the making: the ranking is kept while loads are re-read."""

    needs: JobNeeds
    ranking: Ranking
    loads: dict[str, dict[date, int]]
    size: int
    first_day: date
    last_day: date
    now: datetime
    speed_kmh: float
    # The job's number while its row is believed not written, unchecked: the first read of
    # loads checks it (see ``assign_automatically``'s ``fresh``).
    unless_written: str | None = None
    shortlisting: Shortlisting = field(init=False)

    def __post_init__(self) -> None:
        self.shortlisting = Shortlisting(self.needs, self.ranking, self.now, self.speed_kmh)

    def found_full(self, technician_id: str, day: date, jobs: int) -> None:
        """Another instance filled the technician's day since the loads were read (rare):
        the shortlist is looked at again from the start with that day's count."""
        self.loads.setdefault(technician_id, {})[day] = jobs
        self.__post_init__()


async def deciding_for(
    uow: UnitOfWork,
    job: JobRow,
    settings: DispatchSettings,
    now: datetime,
    declined: frozenset[str],
    unless_written: str | None = None,
) -> Deciding:
    """The job's decision ready to be made: its candidates ranked, no loads read yet."""
    hours = settings.service_hours()
    today = hours.local_day(now)
    last = (
        hours.local_day(job.arrival_due_at)
        if job.arrival_due_at is not None and job.arrival_due_at > now
        else today + timedelta(days=HORIZON_DAYS)  # no due time, or past it: look ahead
    )
    pool = await Technicians(uow.session).pool(job.required_skill, settings.calendar_zone)
    needs = _needs(job, declined)
    return Deciding(
        needs, pool.rank(needs, today), {}, SHORTLIST, today, max(today, last), now,
        settings.travel_speed_kmh, unless_written,
    )  # fmt: skip


async def _choose(uow: UnitOfWork, deciding: Deciding) -> Decision:
    """Nearest first: read the loads of the nearest few, widen only if they cannot decide
    (and then read only the loads of those not already farther than someone who fits)."""
    day_loads = DayLoads(uow.session)
    while True:
        needing = deciding.shortlisting.needing_loads(deciding.size)
        if not deciding.loads:
            # The first read: with those a tie at the shortlist's end would widen it to.
            needing += deciding.shortlisting.tied_beyond(deciding.size)
        unread = [tid for tid in needing if tid not in deciding.loads]
        read: dict[str, dict[date, int]] | None = {}
        if deciding.unless_written is not None:
            read = await day_loads.of_technicians_unless_job(
                unread, deciding.first_day, deciding.last_day, deciding.unless_written
            )
            if read is None:
                raise _JobWrittenAlready
            deciding.unless_written = None
        elif unread:
            read = await day_loads.of_technicians(unread, deciding.first_day, deciding.last_day)
        if unread:
            assert read is not None
            for tid, loads in read.items():
                deciding.loads[tid] = loads
            for tid in unread:
                deciding.loads.setdefault(tid, {})
        shortlisted = deciding.shortlisting.advance(deciding.size, deciding.loads)
        if not shortlisted.needs_more:
            return shortlisted.decision
        deciding.size *= 4


def job_assigned(
    job: JobRow, winner: Candidate, how: str, reason: str | None, now: datetime
) -> JobAssignedV1:
    """The event of ``job`` given to ``winner`` (``give``)."""
    return JobAssignedV1(
        request_no=job.request_no,
        technician_id=winner.technician_id,
        technician_name=winner.name,
        service_point_id=winner.base.service_point_id,
        how=how,
        reason=reason,
        arrival_due_at=job.arrival_due_at,
        assigned_at=now,
    )


class _JobWrittenAlready(Exception):
    """A job believed new is written already: nothing was decided."""


def give(job: JobRow, winner: Candidate, day: date, arrival: datetime, now: datetime) -> None:
    job.status = JobStatus.ASSIGNED.value
    job.technician_id = winner.technician_id
    job.technician_name = winner.name
    job.service_point_id = winner.base.service_point_id
    job.planned_day = day
    job.planned_arrival_at = arrival
    job.assigned_at = now
    job.unassignable_since = None
    job.updated_at = now


async def _take_a_day(
    uow: UnitOfWork, deciding: Deciding, decision: Decision, releasing: tuple[str, date] | None
) -> tuple[Decision, bool]:
    """The winner's day taken (True), or the decision that could not take one."""
    day_loads = DayLoads(uow.session)
    for _ in range(MAX_RECHOICES):
        if decision.winner is None or decision.score is None:
            return decision, False
        winner, day = decision.winner, decision.score.planned_day
        full = await day_loads.move(winner.technician_id, day, winner.max_jobs_per_day, releasing)
        if full is None:
            return decision, True
        # Another instance filled the day since we read the loads: choose again.
        deciding.found_full(winner.technician_id, day, full)
        decision = await _choose(uow, deciding)
    return decision, False


async def assign_automatically(
    uow: UnitOfWork,
    settings: DispatchSettings,
    request_no: str,
    now: datetime,
    how: str = "automatic",
    actor: str = SYSTEM,
    skip_if_busy: bool = False,
    releasing: tuple[str, date] | None = None,
    fresh: NewJob | None = None,
) -> Outcome | None:
    """Inside the caller's transaction. None when the job is not waiting for a technician
    (or, with ``skip_if_busy``, another transaction is deciding it right now).

    ``releasing``: the day the previous technician gives back (after a decline). It is given
    back together with taking the new technician's day, in a consistent order (see
    ``DayLoads.move``), or alone when nobody fits.

    ``fresh``: a job the caller's transaction has just created and not written: nobody else
    can decide it, and nobody can have declined it, so neither is read; it is written once,
    with the assignment's records, whatever the outcome. Unless ``fresh.checked`` is False
    and the first read finds the job's row there after all: then nothing is done or written
    (``fresh.written`` stays False) and the caller takes the job as it is written."""
    try:
        outcome = await _assign(
            uow, settings, request_no, now, how, actor, skip_if_busy, releasing, fresh
        )
    except _JobWrittenAlready:
        return None
    if fresh is not None:
        # Not on an error: the transaction is rolled back, with nothing of the job to undo.
        await fresh.write(uow.session)
    return outcome


async def _assign(
    uow: UnitOfWork,
    settings: DispatchSettings,
    request_no: str,
    now: datetime,
    how: str,
    actor: str,
    skip_if_busy: bool,
    releasing: tuple[str, date] | None,
    fresh: NewJob | None,
) -> Outcome | None:
    started = time.perf_counter()
    jobs = JobRepository(uow.session)
    day_loads = DayLoads(uow.session)
    if fresh is not None:
        job: JobRow | None = fresh.row
        declined: frozenset[str] = frozenset()
    else:
        job = await jobs.get(request_no, lock=True, skip_locked=skip_if_busy)
    if job is None or job.status != JobStatus.UNASSIGNED.value or not job.kind:
        if releasing is not None:
            await day_loads.release(*releasing)
        return None
    if fresh is None:
        declined = await jobs.declined_by(request_no)

    async def record(*rows: AssignmentRow | JobHistoryRow) -> None:
        """In one statement: with a fresh job, with it (see ``assign_automatically``)."""
        if fresh is None:
            await insert_together(uow.session, rows)
        else:
            fresh.records.extend(rows)

    async def publish(event: JobAssignedV1 | JobUnassignableV1) -> None:
        """With a fresh job, its outbox row is inserted with it too."""
        if fresh is None:
            await uow.publish(event)
        else:
            fresh.events.append(uow.publish_with_own_rows(event))

    unless_written = request_no if fresh is not None and not fresh.checked else None
    deciding = await deciding_for(uow, job, settings, now, declined, unless_written)
    decision = await _choose(uow, deciding)
    decision, taken = await _take_a_day(uow, deciding, decision, releasing)
    if taken:
        assert decision.winner is not None and decision.score is not None
        winner, day = decision.winner, decision.score.planned_day
        give(job, winner, day, decision.score.earliest_arrival, now)
        explanation = decision.explanation()
        await record(
            jobs.assignment_row(
                request_no, how, winner.technician_id, actor, None, explanation, now
            ),
            jobs.history_row(job, "assigned", actor, now, note=how),
        )
        await publish(job_assigned(job, winner, how, None, now))
        ASSIGNMENTS.labels(how, "assigned").inc()
        ASSIGNMENT_SECONDS.labels("assigned").observe(time.perf_counter() - started)
        log.info(
            "job assigned",
            extra={"request_no": request_no, "technician_id": winner.technician_id, "how": how},
        )
        return Outcome(True, winner.technician_id, explanation)

    if releasing is not None:
        await day_loads.release(*releasing)
    if job.required_skill is not None:
        # Technicians without the skill are never loaded (one query per assignment stays
        # small); when nobody fits they are counted, so the explanation is complete.
        lacking = await Technicians(uow.session).count_without_skill(job.required_skill)
        if lacking:
            decision.reasons[Exclusion.MISSING_SKILL.value] = lacking
    explanation = decision.explanation()
    if job.unassignable_since is None:
        # Entering the queue is recorded and announced once; retries that fail again are not.
        job.unassignable_since = now
        job.updated_at = now
        await record(
            jobs.assignment_row(request_no, how, None, actor, None, explanation, now),
            jobs.history_row(job, "unassignable", actor, now),
        )
        await publish(
            JobUnassignableV1(
                request_no=request_no,
                required_skill=job.required_skill,
                region=job.region,
                reasons=decision.reasons,
                at=now,
            )
        )
        UNASSIGNABLE.inc()
    ASSIGNMENTS.labels(how, "unassignable").inc()
    ASSIGNMENT_SECONDS.labels("unassignable").observe(time.perf_counter() - started)
    return Outcome(False, None, explanation)


async def release_technician(uow: UnitOfWork, job: JobRow) -> None:
    """The job no longer takes its technician's day (decline, reassignment, cancellation)."""
    if job.technician_id is not None and job.planned_day is not None:
        await DayLoads(uow.session).release(job.technician_id, job.planned_day)


class AssignmentRefused(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


REASSIGNABLE = frozenset(
    {JobStatus.UNASSIGNED.value, JobStatus.ASSIGNED.value, JobStatus.ACCEPTED.value}
)


async def override(
    uow: UnitOfWork,
    settings: DispatchSettings,
    request_no: str,
    technician_id: str,
    reason: str,
    actor: str,
    now: datetime,
) -> dict[str, object]:
    """A dispatcher gives the job to a technician of their choosing, with a reason. The
    certificate and the daily limit still hold; distance and load are the dispatcher's call."""
    jobs = JobRepository(uow.session)
    job = await jobs.get(request_no, lock=True)
    if job is None or not job.kind:
        raise AssignmentRefused(404, f"No job for {request_no}.")
    if job.status not in REASSIGNABLE:
        raise AssignmentRefused(
            409,
            f"A job that is {job.status} cannot be reassigned "
            "(only unassigned, assigned, accepted).",
        )
    if job.technician_id == technician_id and job.status != JobStatus.UNASSIGNED.value:
        raise AssignmentRefused(409, f"The job is already {technician_id}'s.")
    declined = await jobs.declined_by(request_no)
    deciding = await deciding_for(uow, job, settings, now, declined)
    decision = await _choose(uow, deciding)
    today = deciding.first_day
    chosen = await Technicians(uow.session).candidate(
        technician_id, job.required_skill, settings.calendar_zone
    )
    technician = await Technicians(uow.session).get(technician_id)
    if technician is None:
        raise AssignmentRefused(404, f"No technician {technician_id}.")
    if not technician.active:
        raise AssignmentRefused(409, f"{technician_id} is not active.")
    if technician.certified_until < today:
        raise AssignmentRefused(
            409, f"{technician_id}'s certificate expired on {technician.certified_until}."
        )
    if chosen is None:
        raise AssignmentRefused(
            409, f"{technician_id} does not have the skill {job.required_skill}."
        )
    # The technician's first working day with room, from now: the due time is the
    # dispatcher's call, the shifts and the daily limit are not.
    own_loads = await DayLoads(uow.session).of_technicians(
        [technician_id], today, today + timedelta(days=HORIZON_DAYS)
    )
    distance = great_circle_km_or_none(job, chosen)
    travel = timedelta(minutes=math.ceil((distance or 0.0) / settings.travel_speed_kmh * 60))
    slot = earliest_slot(chosen, now, travel, None, own_loads.get(technician_id, {}))
    if isinstance(slot, Exclusion):
        raise AssignmentRefused(
            409,
            f"{technician_id} has no working day with room in the next {HORIZON_DAYS} days "
            f"({slot.value}, limit {technician.max_jobs_per_day} a day).",
        )
    arrival, day = slot.arrives, slot.day
    previous = job.technician_id if job.status != JobStatus.UNASSIGNED.value else None
    # Two day rows change (the previous technician's, the new one's): in a consistent
    # order, so two overrides swapping technicians cannot deadlock (see ``DayLoads.move``).
    releasing = (
        (previous, job.planned_day)
        if previous is not None and job.planned_day is not None
        else None
    )
    full = await DayLoads(uow.session).move(
        technician_id, day, technician.max_jobs_per_day, releasing
    )
    if full is not None:
        raise AssignmentRefused(
            409,
            f"{technician_id} already has {full} jobs on {day} "
            f"(limit {technician.max_jobs_per_day}).",
        )
    give(job, chosen, day, arrival, now)
    explanation = {
        **decision.explanation(),
        "override": {"technician_id": technician_id, "previous": previous, "reason": reason},
    }
    await jobs.record_assignment(
        request_no, "override", technician_id, actor, reason, explanation, now
    )
    await jobs.note(job, "reassigned" if previous else "assigned", actor, now, note=reason)
    await uow.publish(job_assigned(job, chosen, "override", reason, now))
    ASSIGNMENTS.labels("override", "assigned").inc()
    return explanation


async def retry_unassigned(
    make_uow: Callable[[], UnitOfWork], settings: DispatchSettings, batch: int = 200
) -> int:
    """Try every waiting job again (urgent first), one transaction each; how many got one."""
    async with make_uow() as uow:
        numbers = await JobRepository(uow.session).unassigned_numbers(batch)
    assigned = 0
    for number in numbers:
        async with make_uow() as uow:
            outcome = await assign_automatically(
                uow, settings, number, datetime.now(UTC), skip_if_busy=True
            )
            await uow.commit()
        assigned += bool(outcome and outcome.assigned)
    return assigned


async def keep_retrying_unassigned(
    make_uow: Callable[[], UnitOfWork], settings: DispatchSettings
) -> None:
    """Background loop in every instance: technicians' days free up as time passes."""
    while True:
        await asyncio.sleep(settings.retry_unassigned_seconds)
        try:
            await retry_unassigned(make_uow, settings)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("retrying unassigned jobs failed", extra={"error": repr(exc)[:300]})
