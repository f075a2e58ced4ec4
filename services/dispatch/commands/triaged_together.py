"""Triaged requests that arrive together (one of the consumer's groups), each made a job and
assigned in three round trips for them all instead of three or more each: the loads of every
job's shortlist read at once, their days taken at once, the jobs written at once. The
decisions are still made one after another, each seeing the days the ones before it took,
as ``take_triaged`` makes them one at a time; only the database is asked less often.

Only the common case goes this way (PostgreSQL): new requests that need a visit, each decided
among the technicians whose loads were read for it (its shortlist, and those tied with the
shortlist's last), with someone fitting. Anything else — a job already there (a request
triaged again), a shortlist that must widen farther, nobody fitting, a request twice among
them — and they are all taken one by one by ``take_triaged``, before anything is written.
A day that another transaction filled since the loads were read fails the statement that
takes the days: the consumer then rolls the group back and handles each event alone, and
each chooses again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from services.dispatch.commands.assignment import (
    SHORTLIST,
    SYSTEM,
    Deciding,
    deciding_for,
    give,
    job_assigned,
)
from services.dispatch.commands.intake_jobs import Triaged, fill, placeholder, take_triaged
from services.dispatch.db.jobs import JobRepository
from services.dispatch.db.models import Base, JobRow
from services.dispatch.db.new_job import insert_together
from services.dispatch.db.staff import DayLoads
from services.dispatch.domain.assignment import Decision
from services.dispatch.metrics import ASSIGNMENT_SECONDS, ASSIGNMENTS
from services.dispatch.settings import DispatchSettings
from shared.db.unit_of_work import UnitOfWork
from shared.events.envelope import Envelope
from shared.observability.context import correlated

log = logging.getLogger(__name__)


@dataclass
class _Taking:
    triaged: Triaged
    envelope: Envelope
    job: JobRow
    deciding: Deciding
    decision: Decision | None = None


async def take_all_triaged(
    uow: UnitOfWork,
    settings: DispatchSettings,
    items: Sequence[tuple[Triaged, Envelope]],
    now: datetime,
) -> None:
    """``take_triaged`` for each, in order, inside the caller's transaction."""
    started = time.perf_counter()
    numbers = {triaged.request_no for triaged, _ in items}
    if (
        uow.session.get_bind().dialect.name != "postgresql"
        or len(numbers) != len(items)
        or not all(triaged.visit_needed for triaged, _ in items)
    ):
        await _one_by_one(uow, settings, items, now)
        return
    takings = []
    for triaged, envelope in items:
        job = placeholder(triaged.request_no, now)
        await fill(uow, settings, job, triaged, True, now)
        deciding = await deciding_for(uow, job, settings, now, frozenset())
        takings.append(_Taking(triaged, envelope, job, deciding))
    if not await _decided(uow, takings):
        await _one_by_one(uow, settings, items, now)
        return
    await DayLoads(uow.session).take_all(_days_taken(takings))
    await _written(uow, takings, now, started)


async def _decided(uow: UnitOfWork, takings: list[_Taking]) -> bool:
    """Each job's decision among its first shortlist, in order, each seeing the days the
    ones before took; False (nothing decided) when one of the jobs is written already or
    one decision cannot be made so."""
    needing = [
        [
            *t.deciding.shortlisting.needing_loads(SHORTLIST),
            *t.deciding.shortlisting.tied_beyond(SHORTLIST),
        ]
        for t in takings
    ]
    first = min(t.deciding.first_day for t in takings)
    last = max(t.deciding.last_day for t in takings)
    read = await DayLoads(uow.session).of_technicians_unless_jobs(
        sorted({tid for ids in needing for tid in ids}),
        first,
        last,
        [t.job.request_no for t in takings],
    )
    if read is None:
        return False
    asked = {tid for ids in needing for tid in ids}
    taken: dict[str, dict[date, int]] = {}
    for t, ids in zip(takings, needing, strict=True):
        deciding = t.deciding
        while True:
            for tid in ids:
                if tid not in deciding.loads:
                    deciding.loads[tid] = _loads_seen(deciding, read.get(tid, {}), taken.get(tid))
            shortlisted = deciding.shortlisting.advance(deciding.size, deciding.loads)
            if not shortlisted.needs_more:
                break
            # A tie at the shortlist's end widens it, as ``_choose`` does; its loads were
            # read ahead (``tied_beyond``) unless the widening goes farther than that.
            deciding.size *= 4
            ids = deciding.shortlisting.needing_loads(deciding.size)
            if not asked.issuperset(ids):
                return False
        decision = shortlisted.decision
        if decision.winner is None or decision.score is None:
            return False
        days = taken.setdefault(decision.winner.technician_id, {})
        day = decision.score.planned_day
        days[day] = days.get(day, 0) + 1
        t.decision = decision
    return True


def _loads_seen(
    deciding: Deciding, read: dict[date, int], taken: dict[date, int] | None
) -> dict[date, int]:
    """What the job's own read would have found of a technician's loads: its window's days,
    with the days the jobs before it took in this transaction."""
    first, last = deciding.first_day, deciding.last_day
    loads = {day: jobs for day, jobs in read.items() if first <= day <= last}
    for day, jobs in (taken or {}).items():
        if first <= day <= last:
            loads[day] = loads.get(day, 0) + jobs
    return loads


def _days_taken(takings: list[_Taking]) -> list[tuple[str, date, int, int]]:
    """(technician, day, jobs to add, the technician's limit), each day once."""
    counts: dict[tuple[str, date], list[int]] = {}
    for t in takings:
        assert t.decision is not None and t.decision.winner and t.decision.score
        winner = t.decision.winner
        key = (winner.technician_id, t.decision.score.planned_day)
        counts.setdefault(key, [0, winner.max_jobs_per_day])[0] += 1
    return [(tid, day, n, limit) for (tid, day), (n, limit) in counts.items()]


async def _written(uow: UnitOfWork, takings: list[_Taking], now: datetime, started: float) -> None:
    """The jobs, their history and assignment records and their events, in one statement,
    as ``assign_automatically`` writes one fresh job."""
    rows: list[Base] = []
    events: list[dict[str, object]] = []
    jobs = JobRepository
    for t in takings:
        decision, job, request_no = t.decision, t.job, t.job.request_no
        assert decision is not None and decision.winner and decision.score
        winner, score = decision.winner, decision.score
        kind = f"{t.triaged.kind}/{t.triaged.severity}"
        rows.append(job)
        rows.append(jobs.history_row(job, "created", SYSTEM, now, note=kind))
        give(job, winner, score.planned_day, score.earliest_arrival, now)
        rows.append(
            jobs.assignment_row(
                request_no, "automatic", winner.technician_id, SYSTEM, None,
                decision.explanation(), now,
            )
        )  # fmt: skip
        rows.append(jobs.history_row(job, "assigned", SYSTEM, now, note="automatic"))
        # Each job's event carries its own message's correlation.
        with correlated(t.envelope.correlation_id, str(t.envelope.id)):
            events.append(
                uow.publish_with_own_rows(job_assigned(job, winner, "automatic", None, now))
            )
            log.info("job assigned", extra={
                "request_no": request_no, "technician_id": winner.technician_id,
                "how": "automatic"})  # fmt: skip
    await insert_together(uow.session, rows, events)
    seconds = (time.perf_counter() - started) / len(takings)
    for _ in takings:
        ASSIGNMENTS.labels("automatic", "assigned").inc()
        ASSIGNMENT_SECONDS.labels("assigned").observe(seconds)


async def _one_by_one(
    uow: UnitOfWork,
    settings: DispatchSettings,
    items: Sequence[tuple[Triaged, Envelope]],
    now: datetime,
) -> None:
    """As the consumer handles events one after another in one transaction."""
    for triaged, envelope in items:
        with correlated(envelope.correlation_id, str(envelope.id)):
            await take_triaged(uow, settings, triaged, now)
        await uow.session.flush()
        uow.session.expunge_all()
