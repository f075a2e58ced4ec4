"""What a triaged event writes in dispatch's PostgreSQL database: a new job is inserted once,
already assigned (not inserted and then updated), in one statement with its history and its
assignment record, and its technician's day is taken by one conditional UPDATE without a
savepoint. A day without a row yet, or a full one, still goes
through the savepoint and the upsert, and a full day is still never exceeded."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from services.dispatch.app import DEFINITION as DISPATCH
from services.dispatch.commands.assignment import assign_automatically
from services.dispatch.commands.intake_jobs import Triaged, placeholder, take_triaged
from services.dispatch.db.jobs import JobRepository
from services.dispatch.db.new_job import NewJob
from services.dispatch.db.staff import DayLoads, ServicePoints, Technicians, forget_candidates
from services.dispatch.domain.staffing import ServicePointIn, TechnicianIn
from services.dispatch.settings import DispatchSettings
from shared.db.engine import create_engine, create_session_factory
from shared.db.unit_of_work import UnitOfWork
from tests.support.databases import DatabaseFactory
from tests.support.statements import statements_of

LIMIT = 2


@pytest.fixture
async def engine(databases: DatabaseFactory) -> AsyncIterator[AsyncEngine]:
    url = await databases.migrated(DISPATCH.migrations_dir, "dispatch")
    engine = create_engine(url)
    forget_candidates()  # staff cached by another test's database
    sessions = create_session_factory(engine)
    now = datetime.now(UTC)
    today = now.astimezone(ZoneInfo("Asia/Shanghai")).date()
    async with UnitOfWork(sessions) as uow:
        point = ServicePointIn(
            id="SP-PD", name="浦东服务站", region="上海", latitude=31.2304, longitude=121.5440
        )
        await ServicePoints(uow.session).put(point, now)
        technician = TechnicianIn(
            id="T-1", name="李师傅", skills=["pumps"], certified_until=today + timedelta(days=365),
            service_point_id="SP-PD", max_jobs_per_day=LIMIT, shifts="mon-sun 00:00-24:00",
            # Only today: a full day sends the job to the queue rather than to tomorrow.
            leave=f"{today + timedelta(days=1)}..{today + timedelta(days=30)}",
        )  # fmt: skip
        await Technicians(uow.session).put(technician, now)
        await uow.commit()
    yield engine
    forget_candidates()
    await engine.dispose()


def triaged(number: str) -> Triaged:
    now = datetime.now(UTC)
    return Triaged(
        request_no=number, kind="repair", severity="urgent", visit_needed=True,
        product_line="pumps", product_model="WX-200", serial_no="WX200-1",
        customer_name="张伟", customer_phone="13800138000", address="上海市浦东新区",
        region="上海", response_due_at=now + timedelta(minutes=30), triaged_at=now,
        latitude=31.24, longitude=121.50,
    )  # fmt: skip


async def handled(
    engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession], number: str
) -> list[str]:
    """The statements of one triaged event."""
    return await statements_of(
        engine,
        sessions,
        lambda uow: take_triaged(uow, DispatchSettings(), triaged(number), datetime.now(UTC)),
    )


async def test_a_new_job_is_written_once_and_its_day_taken_by_one_update(
    engine: AsyncEngine,
) -> None:
    sessions = create_session_factory(engine)
    first = await handled(engine, sessions, "SR-2026-000001")
    second = await handled(engine, sessions, "SR-2026-000002")
    full = await handled(engine, sessions, "SR-2026-000003")
    for statements in (first, second, full):
        on_jobs = [s for s in statements if "INSERT INTO jobs" in s or "UPDATE jobs" in s]
        # One statement: the job, its history and its assignment record.
        assert len(on_jobs) == 1 and "UPDATE jobs" not in on_jobs[0], on_jobs
        assert "INSERT INTO job_history" in on_jobs[0] and "INSERT INTO assignments" in on_jobs[0]
        assert not [
            s
            for s in statements
            if s.startswith(("INSERT INTO job_history", "INSERT INTO assignments"))
        ]
    # The technician's day had no row yet: taken by the upsert, in a savepoint.
    assert any(s.startswith("SAVEPOINT") for s in first)
    # Now it has one: one conditional UPDATE, nothing else.
    assert not any("SAVEPOINT" in s for s in second)
    assert [s for s in second if "technician_day_loads" in s and not s.startswith("SELECT")] == [
        next(s for s in second if s.startswith("UPDATE technician_day_loads"))
    ]
    # Full (seen in the loads read): the job waits in the queue, written once all the same.
    async with sessions() as session:
        jobs = dict(
            (await session.execute(text("SELECT request_no, technician_id FROM jobs"))).all()
        )
        loads = (await session.execute(text("SELECT jobs FROM technician_day_loads"))).all()
        history = (
            await session.execute(text("SELECT request_no, what FROM job_history ORDER BY id"))
        ).all()
    assert jobs == {"SR-2026-000001": "T-1", "SR-2026-000002": "T-1", "SR-2026-000003": None}
    assert [tuple(row) for row in loads] == [(LIMIT,)]
    assert [tuple(row) for row in history] == [
        ("SR-2026-000001", "created"),
        ("SR-2026-000001", "assigned"),
        ("SR-2026-000002", "created"),
        ("SR-2026-000002", "assigned"),
        ("SR-2026-000003", "created"),
        ("SR-2026-000003", "unassignable"),
    ]

    # A day given back, the waiting job is assigned (it is written already): the job
    # updated, its history and assignment record inserted together.
    async with sessions() as session:
        day = (await session.execute(text("SELECT day FROM technician_day_loads"))).scalar_one()
        await DayLoads(session).release("T-1", day)
        await session.commit()
    again = await statements_of(
        engine,
        sessions,
        lambda uow: assign_automatically(
            uow, DispatchSettings(), "SR-2026-000003", datetime.now(UTC)
        ),
    )
    written = [s for s in again if s.startswith(("INSERT", "WITH", "UPDATE jobs"))]
    assert [s.split(" SET ")[0] for s in written if s.startswith("UPDATE jobs")] == ["UPDATE jobs"]
    records = [s for s in written if "INSERT INTO" in s and "outbox" not in s]
    assert len(records) == 1, records
    assert "INSERT INTO job_history" in records[0] and "INSERT INTO assignments" in records[0]
    async with sessions() as session:
        history = await session.execute(
            text(
                "SELECT what, technician_id FROM job_history"
                " WHERE request_no = 'SR-2026-000003' ORDER BY id"
            )
        )
        assert [tuple(row) for row in history][-1] == ("assigned", "T-1")


async def test_a_day_is_taken_only_under_its_limit_with_or_without_a_row(
    engine: AsyncEngine,
) -> None:
    sessions = create_session_factory(engine)
    day = datetime.now(UTC).date()
    async with sessions() as session:
        loads = DayLoads(session)
        assert await loads.move("T-1", day, LIMIT, None) is None  # no row yet: inserted
        assert await loads.move("T-1", day, LIMIT, None) is None  # counted by the UPDATE
        assert await loads.move("T-1", day, LIMIT, None) == LIMIT  # full: refused
        # Giving one back with the taking: both or neither.
        assert await loads.move("T-2", day, 1, ("T-1", day)) is None
        assert await loads.move("T-3", day, 1, None) is None
        assert await loads.move("T-3", day, 1, ("T-1", day)) == 1
        await session.commit()
        rows = await session.execute(
            text("SELECT technician_id, jobs FROM technician_day_loads ORDER BY technician_id")
        )
        assert [tuple(row) for row in rows] == [("T-1", LIMIT - 1), ("T-2", 1), ("T-3", 1)]


async def test_a_new_job_written_in_one_statement_is_what_the_session_would_write(
    engine: AsyncEngine,
) -> None:
    sessions = create_session_factory(engine)
    now = datetime.now(UTC)

    def new_job(number: str) -> NewJob:
        job = placeholder(number, now)
        job.kind, job.severity, job.required_skill = "repair", "urgent", "pumps"
        job.latitude, job.longitude, job.purchase_date = 31.2, 121.5, now.date()
        job.technician_id, job.planned_day, job.arrival_due_at = "T-1", now.date(), now
        jobs = JobRepository
        return NewJob(
            job,
            [
                jobs.history_row(job, "created", "dispatch", now, note="repair/urgent"),
                jobs.assignment_row(number, "automatic", "T-1", "dispatch", None, {"a": [1]}, now),
                jobs.history_row(job, "assigned", "dispatch", now, note=None),
            ],
        )

    async with UnitOfWork(sessions) as uow:
        await uow.session.execute(text("SELECT 1"))  # the transaction begun, as a handler's
        await new_job("SR-2026-000001").write(uow.session)
        by_session = new_job("SR-2026-000002")
        uow.session.add_all([by_session.row, *by_session.records])
        await uow.commit()

    async with sessions() as session:
        for table in ("jobs", "job_history", "assignments"):
            rows = (await session.execute(text(f"SELECT * FROM {table} ORDER BY id"))).mappings()
            found: dict[str, list[dict[str, Any]]] = {}
            for row in rows:
                values = {k: v for k, v in row.items() if k not in ("id", "request_no")}
                found.setdefault(row["request_no"], []).append(values)
            assert found["SR-2026-000001"] == found["SR-2026-000002"], table
        whats = await session.execute(text("SELECT what FROM job_history ORDER BY id"))
        assert [what for (what,) in whats][:2] == ["created", "assigned"]


async def test_a_new_jobs_triage_reads_no_job_and_a_written_jobs_is_taken_as_written(
    engine: AsyncEngine,
) -> None:
    """A request's first triage: the read of the loads says too that no job row is there (no
    locked read finding nothing), and the job is written with its event. A job written
    before (news of the request came first, or an earlier triage): found by the same read,
    and updated, not inserted again."""
    sessions = create_session_factory(engine)
    first = await handled(engine, sessions, "SR-2026-000001")
    assert not [s for s in first if s.startswith("SELECT jobs.")], first
    reads = [s for s in first if "FROM technician_day_loads" in s]
    assert len(reads) == 1 and "FROM jobs" in reads[0], reads
    # Its event's outbox row is inserted with it, by the same statement.
    [written] = [s for s in first if "INSERT INTO jobs" in s]
    assert "INSERT INTO outbox" in written
    assert not [s for s in first if s.startswith("INSERT INTO outbox")], first

    now = datetime.now(UTC)
    async with UnitOfWork(sessions) as uow:
        uow.session.add(placeholder("SR-2026-000002", now))  # e.g. parts' news came first
        await uow.commit()
    for number in ("SR-2026-000001", "SR-2026-000002"):
        again = await handled(engine, sessions, number)
        assert not [s for s in again if "INSERT INTO jobs" in s], again
        assert [s for s in again if s.startswith("SELECT jobs.")], again
    async with sessions() as session:
        rows = await session.execute(
            text("SELECT request_no, kind, technician_id FROM jobs ORDER BY request_no")
        )
        assert [tuple(row) for row in rows] == [
            ("SR-2026-000001", "repair", "T-1"),
            ("SR-2026-000002", "repair", "T-1"),
        ]
        history = await session.execute(
            text("SELECT request_no, what FROM job_history ORDER BY id")
        )
        assert [tuple(row) for row in history] == [
            ("SR-2026-000001", "created"),
            ("SR-2026-000001", "assigned"),
            ("SR-2026-000002", "created"),
            ("SR-2026-000002", "assigned"),
        ]
