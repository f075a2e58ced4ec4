"""Service points, technicians and their day loads in dispatch's database."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache

from sqlalchemy import (
    ARRAY,
    Date,
    Executable,
    Integer,
    String,
    Table,
    and_,
    any_,
    bindparam,
    exists,
    func,
    null,
    select,
    text,
    union_all,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from services.dispatch.db.models import (
    JobRow,
    ServicePointRow,
    TechnicianDayLoadRow,
    TechnicianRow,
)
from services.dispatch.domain.assignment import Base, Candidate
from services.dispatch.domain.calendar import WorkingHours
from services.dispatch.domain.candidate_pool import CandidatePool
from services.dispatch.domain.staffing import ServicePointIn, TechnicianIn
from shared.db.prepared import HotStatement


def skills_column(skills: list[str]) -> str:
    return "," + ",".join(skills) + ","


def skills_of(column: str) -> list[str]:
    return [skill for skill in column.split(",") if skill]


def technician_hours(zone: str, shifts: str, leave: str) -> WorkingHours:
    """A technician's working calendar from their stored shifts and leave."""
    return _hours(zone, shifts, leave)


@lru_cache(maxsize=4096)
def _hours(zone: str, shifts: str, leave: str) -> WorkingHours:
    # Technicians share few distinct calendars; parse each once.
    return WorkingHours.parse(zone, shifts, leave)


@dataclass(frozen=True)
class ServicePointPlace:
    """Where a service point is and what it serves: what an arrival due time is measured
    from (see commands.intake_jobs.due_for)."""

    id: str
    region: str
    latitude: float | None
    longitude: float | None
    zone: str
    covers_regions: tuple[str, ...]


# The staff as every assignment reads it, kept per process: the service points and, per
# (skill, zone), the candidates arranged in a pool. The fingerprint is re-read from the
# database at most every FINGERPRINT_SECONDS, so a change made by another instance is seen
# within that; this process's own changes clear the cache at once.
FINGERPRINT_SECONDS = 1.0
# Pools kept at most (skills × zones in use); then the cache starts again.
KEPT_POOLS = 64


@dataclass
class _StaffCache:
    fingerprint: tuple[object, ...] | None = None
    checked: float = -math.inf
    places: tuple[ServicePointPlace, ...] | None = None
    pools: dict[tuple[str | None, str], CandidatePool] = field(default_factory=dict)


_CACHE = _StaffCache()


def forget_candidates() -> None:
    global _CACHE
    _CACHE = _StaffCache()


# _STAFF_READS_DO_NOT_FLUSH: the cache's reads (fingerprint, points, candidates) come in the
# middle of other work, e.g. a triaged request's job being filled in; they do not flush it.
# Staff changes are flushed where they are made (``put``), so there is nothing they need.


async def _current(session: AsyncSession) -> _StaffCache:
    """The cache, emptied first if the technicians or service points changed."""
    cache = _CACHE
    checked = time.monotonic()
    if checked - cache.checked < FINGERPRINT_SECONDS:
        return cache
    with session.no_autoflush:  # see _STAFF_READS_DO_NOT_FLUSH
        fingerprint = await _fingerprint(session)
    if _CACHE is not cache:  # forgotten meanwhile
        return _CACHE
    if fingerprint != cache.fingerprint:
        cache.places = None
        cache.pools.clear()
    cache.fingerprint, cache.checked = fingerprint, checked
    return cache


async def _fingerprint(session: AsyncSession) -> tuple[object, ...]:
    """Changes whenever a technician or service point is added or changed."""
    row = (
        await session.execute(
            select(
                select(func.count()).select_from(TechnicianRow).scalar_subquery(),
                select(func.max(TechnicianRow.updated_at)).scalar_subquery(),
                select(func.count()).select_from(ServicePointRow).scalar_subquery(),
                select(func.max(ServicePointRow.updated_at)).scalar_subquery(),
            )
        )
    ).one()
    return tuple(row)


class ServicePoints:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, point_id: str) -> ServicePointRow | None:
        return await self._session.get(ServicePointRow, point_id)

    async def all(self) -> list[ServicePointRow]:
        rows = await self._session.execute(select(ServicePointRow).order_by(ServicePointRow.id))
        return list(rows.scalars())

    async def places(self) -> tuple[ServicePointPlace, ...]:
        """Every point by id, as ``all`` reads them; kept in the process like the candidates
        (every triaged request measures its arrival due time from them)."""
        cache = await _current(self._session)
        if cache.places is None:
            with self._session.no_autoflush:  # see _STAFF_READS_DO_NOT_FLUSH
                rows = await self.all()
            cache.places = tuple(
                ServicePointPlace(
                    id=row.id,
                    region=row.region,
                    latitude=row.latitude,
                    longitude=row.longitude,
                    zone=row.zone,
                    covers_regions=tuple(row.covers_regions.split(",")),
                )
                for row in rows
            )
        return cache.places

    async def put(self, point: ServicePointIn, now: datetime) -> bool:
        """True when created."""
        row = await self.get(point.id)
        created = row is None
        if row is None:
            row = ServicePointRow(id=point.id, created_at=now)
            self._session.add(row)
        row.name, row.region, row.zone = point.name, point.region, point.zone.value
        row.latitude, row.longitude = point.latitude, point.longitude
        row.covers_regions = ",".join(dict.fromkeys([point.region, *point.covers_regions]))
        row.updated_at = now
        await self._session.flush()
        forget_candidates()
        return created


class Technicians:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, technician_id: str) -> TechnicianRow | None:
        return await self._session.get(TechnicianRow, technician_id)

    async def by_login(self, login: str) -> TechnicianRow | None:
        rows = await self._session.execute(
            select(TechnicianRow).where(TechnicianRow.login == login)
        )
        return rows.scalar_one_or_none()

    async def list(
        self, service_point_id: str | None, skill: str | None, limit: int
    ) -> list[TechnicianRow]:
        statement = select(TechnicianRow).order_by(TechnicianRow.id).limit(limit)
        if service_point_id:
            statement = statement.where(TechnicianRow.service_point_id == service_point_id)
        if skill:
            statement = statement.where(TechnicianRow.skills.contains(f",{skill},"))
        return list((await self._session.execute(statement)).scalars())

    async def put(self, technician: TechnicianIn, now: datetime) -> bool:
        """True when created."""
        row = await self.get(technician.id)
        created = row is None
        if row is None:
            row = TechnicianRow(id=technician.id, created_at=now)
            self._session.add(row)
        row.name, row.login = technician.name, technician.login
        row.skills = skills_column(technician.skills)
        row.certification_level = technician.certification_level
        row.certified_until = technician.certified_until
        row.service_point_id = technician.service_point_id
        row.max_jobs_per_day, row.active = technician.max_jobs_per_day, technician.active
        row.shifts, row.leave = technician.shifts, technician.leave
        row.updated_at = now
        await self._session.flush()
        forget_candidates()
        return created

    async def count_without_skill(self, skill: str) -> int:
        statement = select(func.count()).where(~TechnicianRow.skills.contains(f",{skill},"))
        with self._session.no_autoflush:  # see _STAFF_READS_DO_NOT_FLUSH
            return int((await self._session.execute(statement)).scalar_one())

    async def candidates(self, skill: str | None, zone: str) -> list[Candidate]:
        """Technicians who could take a job needing ``skill``, with their home point."""
        return list((await self.pool(skill, zone)).candidates)

    async def pool(self, skill: str | None, zone: str) -> CandidatePool:
        """``candidates`` arranged for ranking. This runs for every assignment, so the pool
        is kept in the process and read again only when the technicians or service points
        changed (in any instance: see ``_current``)."""
        cache = await _current(self._session)
        found = cache.pools.get((skill, zone))
        if found is None:
            with self._session.no_autoflush:  # see _STAFF_READS_DO_NOT_FLUSH
                found = CandidatePool(await self._load_candidates(skill, zone))
            if len(cache.pools) >= KEPT_POOLS:
                cache.pools.clear()
            cache.pools[(skill, zone)] = found
        return found

    async def candidate(self, technician_id: str, skill: str | None, zone: str) -> Candidate | None:
        """The technician as a candidate for a job needing ``skill`` (None: lacks it)."""
        return (await self.pool(skill, zone)).find(technician_id)

    async def _load_candidates(self, skill: str | None, zone: str) -> list[Candidate]:
        statement = select(
            TechnicianRow.id,
            TechnicianRow.name,
            TechnicianRow.active,
            TechnicianRow.skills,
            TechnicianRow.certified_until,
            TechnicianRow.max_jobs_per_day,
            TechnicianRow.shifts,
            TechnicianRow.leave,
            ServicePointRow.id,
            ServicePointRow.latitude,
            ServicePointRow.longitude,
            ServicePointRow.covers_regions,
        ).join(ServicePointRow, ServicePointRow.id == TechnicianRow.service_point_id)
        if skill is not None:
            statement = statement.where(TechnicianRow.skills.contains(f",{skill},"))
        bases: dict[str, Base] = {}
        found = []
        for row in await self._session.execute(statement):
            (tid, name, active, skills, until, limit, shifts, leave, pid, lat, lon, covers) = row
            base = bases.get(pid)
            if base is None:
                base = bases[pid] = Base(pid, lat, lon, frozenset(covers.split(",")))
            found.append(
                Candidate(
                    technician_id=tid,
                    name=name,
                    active=active,
                    skills=frozenset(skills_of(skills)),
                    certified_until=until,
                    base=base,
                    hours=_hours(zone, shifts, leave),
                    max_jobs_per_day=limit,
                )
            )
        return found


class DaysFilledMeanwhile(Exception):
    """Days read with room had none left when taken: the decisions must be made again."""


class DayLoads:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def of_skill(
        self, skill: str | None, first: date, last: date
    ) -> dict[str, dict[date, int]]:
        statement = select(
            TechnicianDayLoadRow.technician_id, TechnicianDayLoadRow.day, TechnicianDayLoadRow.jobs
        ).where(
            TechnicianDayLoadRow.day >= first,
            TechnicianDayLoadRow.day <= last,
            TechnicianDayLoadRow.jobs > 0,
        )
        if skill is not None:
            statement = statement.join(
                TechnicianRow,
                and_(
                    TechnicianRow.id == TechnicianDayLoadRow.technician_id,
                    TechnicianRow.skills.contains(f",{skill},"),
                ),
            )
        loads: dict[str, dict[date, int]] = {}
        for tid, day, jobs in await self._session.execute(statement):
            loads.setdefault(tid, {})[day] = jobs
        return loads

    async def of_technicians(
        self, technician_ids: list[str], first: date, last: date
    ) -> dict[str, dict[date, int]]:
        loads: dict[str, dict[date, int]] = {}
        if not technician_ids:
            return loads
        # On PostgreSQL one array parameter: the same statement text (and prepared plan) for
        # any count.
        statement = (
            _LOADS_OF_ANY if self._session.bind.dialect.name == "postgresql" else _LOADS_OF_EACH
        )
        rows = await statement.execute(
            self._session, {"ids": technician_ids, "first": first, "last": last}
        )
        for tid, day, jobs in rows:
            loads.setdefault(tid, {})[day] = jobs
        return loads

    async def of_technicians_unless_job(
        self, technician_ids: list[str], first: date, last: date, request_no: str
    ) -> dict[str, dict[date, int]] | None:
        """``of_technicians``, or None when the job ``request_no`` is written already: both
        answers from one statement (one round trip), for a job believed new (see
        ``commands.intake_jobs.take_triaged``)."""
        statement = (
            _LOADS_OF_ANY_UNLESS_JOB
            if self._session.bind.dialect.name == "postgresql"
            else _LOADS_OF_EACH_UNLESS_JOB
        )
        rows = await statement.execute(
            self._session,
            {"ids": technician_ids, "first": first, "last": last, "request_no": request_no},
        )
        loads: dict[str, dict[date, int]] = {}
        for tid, day, jobs in rows:
            if tid is None:  # the job's row is there
                return None
            loads.setdefault(tid, {})[day] = jobs
        return loads

    async def of_technicians_unless_jobs(
        self, technician_ids: list[str], first: date, last: date, request_nos: list[str]
    ) -> dict[str, dict[date, int]] | None:
        """``of_technicians_unless_job`` for several jobs at once (PostgreSQL): None when any
        of them is written already."""
        rows = await _LOADS_OF_ANY_UNLESS_JOBS.execute(
            self._session,
            {"ids": technician_ids, "first": first, "last": last, "request_nos": request_nos},
        )
        loads: dict[str, dict[date, int]] = {}
        for tid, day, jobs in rows:
            if tid is None:
                return None
            loads.setdefault(tid, {})[day] = jobs
        return loads

    async def take_all(self, days: list[tuple[str, date, int, int]]) -> None:
        """Count jobs on several days at once (PostgreSQL): (technician, day, how many, the
        technician's limit), each day once. All or nothing, as ``take`` for each: a day it
        would put over its limit (filled by another transaction since its loads were read)
        raises ``DaysFilledMeanwhile``, and the caller's transaction must be rolled back."""
        taken = await _TAKE_ALL.execute(
            self._session,
            {
                "tids": [tid for tid, _day, _n, _limit in days],
                "days": [day for _tid, day, _n, _limit in days],
                "counts": [n for _tid, _day, n, _limit in days],
                "limits": [limit for _tid, _day, _n, limit in days],
            },
        )
        if taken[0][0] != len(days):
            raise DaysFilledMeanwhile(f"{len(days) - taken[0][0]} of {len(days)} days")

    async def take(self, technician_id: str, day: date, limit: int) -> int | None:
        """Count one more job on the technician's day if it is under ``limit``; None when
        taken, else how many jobs the day already has.

        The guard that keeps concurrent assignments (several instances) under the limit, in
        one statement: an upsert whose update only happens while ``jobs < limit``. It locks
        the day's row, so a second taker waits for the first to commit and then re-checks
        the condition against the committed count. A full day is left unlocked, so a
        decision moves on to the next technician without holding one row while waiting for
        another (no deadlock between two deciders)."""
        dialect = self._session.bind.dialect.name
        statement = _TAKE_PG if dialect == "postgresql" else _TAKE_SQLITE
        taken = await self._session.execute(
            statement, {"tid": technician_id, "on_day": day, "limit": limit}
        )
        if taken.first() is not None:
            return None
        found = await self._session.execute(_JOBS_ON_DAY, {"tid": technician_id, "on_day": day})
        return int(found.scalar_one())

    async def move(
        self, technician_id: str, day: date, limit: int, releasing: tuple[str, date] | None
    ) -> int | None:
        """Take one job on the technician's day and, with ``releasing``, give one back on
        another technician's day: both or neither. None when taken, else how many jobs the
        day already has.

        Deadlock-free by a consistent order: the caller holds the job's row (job rows
        always come before day rows), and on PostgreSQL the two day rows are changed in
        (technician id, day) order, inside a savepoint that is rolled back when the day is
        full — which also frees the full day's row, locked by the conditional upsert. So
        two declines swapping technicians wait for each other instead of deadlocking. On
        SQLite a writer holds the whole database: no order is needed, only take first.

        With nothing to give back, the day is first taken by a conditional UPDATE, which
        locks the row only when it counts the job (an UPDATE whose condition fails, even
        after waiting for another taker's commit, locks nothing): one statement instead of
        a savepoint, the upsert and its release. Only a day without a row yet, or a full
        one, goes on to the savepoint."""
        if self._session.bind.dialect.name != "postgresql":
            full = await self.take(technician_id, day, limit)
            if full is None and releasing is not None:
                await self.release(*releasing)
            return full
        if releasing is None:
            counted = await _TAKE_EXISTING.execute(
                self._session, {"tid": technician_id, "on_day": day, "limit": limit}
            )
            if counted:
                return None
        steps = [(technician_id, day, True)]
        if releasing is not None:
            steps.append((*releasing, False))
        savepoint = await self._session.begin_nested()
        for step_technician, step_day, is_taking in sorted(steps):
            if not is_taking:
                await self.release(step_technician, step_day)
                continue
            full = await self.take(technician_id, day, limit)
            if full is not None:
                await savepoint.rollback()
                return full
        await savepoint.commit()
        return None

    async def release(self, technician_id: str, day: date) -> None:
        await self._session.execute(_RELEASE, {"tid": technician_id, "on_day": day})

    async def today(self, day: date) -> dict[str, int]:
        rows = await self._session.execute(
            select(TechnicianDayLoadRow.technician_id, TechnicianDayLoadRow.jobs).where(
                TechnicianDayLoadRow.day == day
            )
        )
        return {tid: jobs for tid, jobs in rows}


# Statements of every assignment, built once: building one costs SQLAlchemy more CPU than
# looking its compiled form up. The hottest are run by asyncpg itself when the session holds
# nothing (a triaged request's new job is not in it: see db.new_job, shared.db.prepared).
_LOADS: Table = TechnicianDayLoadRow.__table__  # type: ignore[assignment]
_LOAD_COLUMNS = select(_LOADS.c.technician_id, _LOADS.c.day, _LOADS.c.jobs)
_IN_WINDOW = (_LOADS.c.day >= bindparam("first"), _LOADS.c.day <= bindparam("last"))
_LOADS_OF_ANY = HotStatement(
    _LOAD_COLUMNS.where(
        _LOADS.c.technician_id == any_(bindparam("ids", type_=ARRAY(String(40)))), *_IN_WINDOW
    )
)
_LOADS_OF_EACH = HotStatement(
    _LOAD_COLUMNS.where(_LOADS.c.technician_id.in_(bindparam("ids", expanding=True)), *_IN_WINDOW)
)
# A row of nulls beside the loads when the job is there already (after them: the result's
# column types are the first part's).
_JOB_WRITTEN = select(
    null().label("technician_id"), null().label("day"), null().label("jobs")
).where(exists().where(JobRow.request_no == bindparam("request_no")))
_LOADS_OF_ANY_UNLESS_JOB = HotStatement(union_all(_LOADS_OF_ANY.statement, _JOB_WRITTEN))
_LOADS_OF_EACH_UNLESS_JOB = HotStatement(union_all(_LOADS_OF_EACH.statement, _JOB_WRITTEN))
# A row of nulls beside the loads when any of the jobs is there already.
_JOBS_WRITTEN = select(
    null().label("technician_id"), null().label("day"), null().label("jobs")
).where(exists().where(JobRow.request_no == any_(bindparam("request_nos", type_=ARRAY(String)))))
_LOADS_OF_ANY_UNLESS_JOBS = HotStatement(union_all(_LOADS_OF_ANY.statement, _JOBS_WRITTEN))
# Several days taken at once (PostgreSQL), each by as many jobs as given and only while it
# stays under its limit; a day without a row gets one. How many days were taken: fewer than
# given when one was filled (or its row added) by another transaction since it was read.
_TAKE_ALL = HotStatement(
    text(
        "WITH wanted AS ("
        "  SELECT * FROM unnest(:tids, :days, :counts, :limits) AS w(tid, day, n, lim)),"
        " counted AS ("
        "  UPDATE technician_day_loads AS d SET jobs = d.jobs + w.n FROM wanted AS w"
        "  WHERE d.technician_id = w.tid AND d.day = w.day AND d.jobs + w.n <= w.lim"
        "  RETURNING d.technician_id),"
        " added AS ("
        "  INSERT INTO technician_day_loads (technician_id, day, jobs)"
        "  SELECT w.tid, w.day, w.n FROM wanted AS w WHERE w.n <= w.lim AND NOT EXISTS ("
        "   SELECT FROM technician_day_loads AS d"
        "   WHERE d.technician_id = w.tid AND d.day = w.day)"
        "  ON CONFLICT DO NOTHING RETURNING technician_id)"
        " SELECT (SELECT count(*) FROM counted) + (SELECT count(*) FROM added)"
    ).bindparams(
        bindparam("tids", type_=ARRAY(String)),
        bindparam("days", type_=ARRAY(Date)),
        bindparam("counts", type_=ARRAY(Integer)),
        bindparam("limits", type_=ARRAY(Integer)),
    )
)
_THE_DAY = (
    _LOADS.c.technician_id == bindparam("tid"),
    _LOADS.c.day == bindparam("on_day"),
)


def _upsert_taking(insert: Callable[[Table], postgresql.Insert | sqlite.Insert]) -> Executable:
    """One more job on the day unless it is full (see ``DayLoads.take``)."""
    return (
        insert(_LOADS)
        .values(technician_id=bindparam("tid"), day=bindparam("on_day"), jobs=1)
        .on_conflict_do_update(
            index_elements=[_LOADS.c.technician_id, _LOADS.c.day],
            set_={"jobs": _LOADS.c.jobs + 1},
            where=_LOADS.c.jobs < bindparam("limit"),
        )
        .returning(_LOADS.c.jobs)
    )


_TAKE_PG = _upsert_taking(postgresql.insert)
_TAKE_SQLITE = _upsert_taking(sqlite.insert)
_TAKE_EXISTING = HotStatement(
    update(_LOADS)
    .where(*_THE_DAY, _LOADS.c.jobs < bindparam("limit"))
    .values(jobs=_LOADS.c.jobs + 1)
    .returning(_LOADS.c.jobs)
)
_JOBS_ON_DAY = select(_LOADS.c.jobs).where(*_THE_DAY)
_RELEASE = update(_LOADS).where(*_THE_DAY, _LOADS.c.jobs > 0).values(jobs=_LOADS.c.jobs - 1)
