"""Triaged requests taken together (``take_all_triaged``, as the consumer hands over a
group's triaged events) end exactly as taken one after another by ``take_triaged``: the same
technicians on the same days, the same explanations, history and events, the same day
loads; on the real PostgreSQL, with few technicians and small day limits so that the later
jobs of a group find days the earlier ones filled. The group goes in three statements;
whatever it cannot decide so (a job there already, nobody fitting) goes one by one."""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from services.dispatch.app import DEFINITION as DISPATCH
from services.dispatch.commands.intake_jobs import Triaged, take_triaged
from services.dispatch.commands.triaged_together import take_all_triaged
from services.dispatch.db.staff import (
    DayLoads,
    DaysFilledMeanwhile,
    ServicePoints,
    Technicians,
    forget_candidates,
)
from services.dispatch.domain.staffing import ServicePointIn, TechnicianIn
from services.dispatch.events.handlers import triaged_v2
from services.dispatch.settings import DispatchSettings
from shared.db.engine import create_engine, create_session_factory
from shared.db.unit_of_work import UnitOfWork
from shared.events.envelope import Envelope
from shared.events.schemas.intake import RequestTriagedV2
from shared.messaging.outbox import envelope_for
from shared.observability.context import correlated
from tests.support.databases import DatabaseFactory
from tests.support.statements import statements_of
from tests.support.waiting import eventually

Sessions = async_sessionmaker[AsyncSession]
NOW = datetime(2026, 11, 24, 2, 30, tzinfo=UTC)  # 10:30 in Shanghai, a Tuesday
POINTS = [("SP-PD", "上海", 31.2304, 121.5440), ("SP-MH", "上海", 31.1128, 121.3817),
          ("SP-CY", "北京", 39.9219, 116.4436)]  # fmt: skip


async def _staffed(databases: DatabaseFactory, per_point: int = 3) -> AsyncEngine:
    """``per_point`` technicians at each service point, with limits of 1 to 3 jobs a day:
    more than a shortlist (40) at one point makes the nearest tie at the shortlist's end."""
    engine = create_engine(await databases.migrated(DISPATCH.migrations_dir, "dispatch"))
    today = NOW.astimezone(ZoneInfo("Asia/Shanghai")).date()
    sessions = create_session_factory(engine)
    async with UnitOfWork(sessions) as uow:
        for point_id, region, lat, lon in POINTS:
            await ServicePoints(uow.session).put(
                ServicePointIn(id=point_id, name=point_id, region=region, latitude=lat,
                               longitude=lon), NOW,
            )  # fmt: skip
        for n in range(per_point * len(POINTS)):
            await Technicians(uow.session).put(
                TechnicianIn(
                    id=f"T-{n}", name=f"技师{n}", skills=["pumps"],
                    certified_until=today + timedelta(days=365),
                    service_point_id=POINTS[n % 3][0], max_jobs_per_day=1 + n % 3,
                    shifts="mon-sun 08:00-20:00",
                ),
                NOW,
            )  # fmt: skip
        await uow.commit()
    return engine


@pytest.fixture(params=[3, 45], ids=["few", "tied-shortlists"])
async def two_databases(
    request: pytest.FixtureRequest, databases: DatabaseFactory
) -> AsyncIterator[tuple[Sessions, Sessions]]:
    engines = [await _staffed(databases, request.param), await _staffed(databases, request.param)]
    forget_candidates()
    try:
        yield create_session_factory(engines[0]), create_session_factory(engines[1])
    finally:
        forget_candidates()
        for engine in engines:
            await engine.dispose()


def _triaged(rng: random.Random, n: int) -> tuple[Triaged, Envelope]:
    _point, region, lat, lon = rng.choice(POINTS)
    urgent = rng.random() < 0.5
    event = RequestTriagedV2(
        request_no=f"SR-2026-{n:06d}", kind="repair", severity="urgent" if urgent else "ordinary",
        visit_needed=True, product_line="pumps", product_model="WX-200", serial_no=f"WX-{n}",
        customer_name="张伟", customer_phone="13800138000", address="某街道1号", region=region,
        response_due_at=NOW + timedelta(hours=rng.choice([2, 8, 30, 72])), triaged_at=NOW,
        fault_description="开机无反应", purchase_date=None, in_warranty=True, dealer_id=None,
        customer_id=None, route="dispatch", channel="dealer", quantity=1,
        warranty_expires_on=None, latitude=lat + rng.uniform(-0.05, 0.05),
        longitude=lon + rng.uniform(-0.05, 0.05),
    )  # fmt: skip
    with correlated(f"corr-{n}", None):
        envelope = envelope_for(event)
    return triaged_v2(event), envelope


async def _one_by_one(sessions: Sessions, items: list[tuple[Triaged, Envelope]]) -> None:
    async with UnitOfWork(sessions) as uow:
        for triaged, envelope in items:
            with correlated(envelope.correlation_id, str(envelope.id)):
                await take_triaged(uow, DispatchSettings(), triaged, NOW)
            await uow.session.flush()
            uow.session.expunge_all()
        await uow.commit()


async def _together(sessions: Sessions, items: list[tuple[Triaged, Envelope]]) -> list[str]:
    async def work(uow: UnitOfWork) -> None:
        await take_all_triaged(uow, DispatchSettings(), items, NOW)

    engine = sessions.kw["bind"]
    return await statements_of(engine, sessions, work)


async def _state(sessions: Sessions) -> dict[str, list[Any]]:
    queries = {
        "jobs": "SELECT request_no, status, technician_id, service_point_id, planned_day,"
        " planned_arrival_at, arrival_due_at, assigned_at FROM jobs ORDER BY request_no",
        "assignments": "SELECT request_no, technician_id, how, explanation FROM assignments"
        " ORDER BY id",
        "history": "SELECT request_no, what, note FROM job_history ORDER BY id",
        "loads": "SELECT technician_id, day, jobs FROM technician_day_loads"
        " WHERE jobs > 0 ORDER BY 1, 2",
        "events": "SELECT routing_key, correlation_id, envelope FROM outbox ORDER BY id",
    }
    found: dict[str, list[Any]] = {}
    async with sessions() as session:
        for name, query in queries.items():
            found[name] = [tuple(row) for row in await session.execute(text(query))]
    found["events"] = [
        (key, correlation, json.loads(envelope)["data"], json.loads(envelope)["causation_id"])
        for key, correlation, envelope in found["events"]
    ]
    return found


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_triaged_requests_taken_together_end_as_taken_one_by_one(
    two_databases: tuple[Sessions, Sessions], seed: int, request: pytest.FixtureRequest
) -> None:
    each, together = two_databases
    rng = random.Random(seed)
    items = [_triaged(rng, n) for n in range(1, 41)]
    groups = [items[:6], items[6:16], items[16:28], items[28:]]
    statements = []
    for group in groups:
        await _one_by_one(each, group)
        forget_candidates()
        statements.append(await _together(together, group))
        forget_candidates()
    after_each, after_together = await _state(each), await _state(together)
    assert after_together == after_each
    # Not a comparison of nothing: most were assigned; with few technicians, some days took
    # several jobs (with many, each shortlist tied at its end and was widened).
    assigned = [job for job in after_each["jobs"] if job[2] is not None]
    assert len(assigned) >= 15
    if request.node.callspec.params["two_databases"] == 3:
        assert len({(job[2], job[4]) for job in assigned}) < len(assigned)
    # Each job's event carries its own request's correlation and message.
    of = {t.request_no: (e.correlation_id, str(e.id)) for t, e in items}
    assert after_together["events"]
    for _key, correlation, data, causation in after_together["events"]:
        assert (correlation, causation) == of[data["request_no"]]
    # The first groups (room enough for everyone) went in three round trips each.
    writes = [s for s in statements[0] if not s.startswith(("BEGIN", "SELECT"))]
    assert len([s for s in statements[0] if "technician_day_loads" in s]) == 2, statements[0]
    assert len(writes) == 2, writes


async def test_days_are_taken_together_only_all_under_their_limits(
    two_databases: tuple[Sessions, Sessions],
) -> None:
    """The guard of ``take_all``: days with and without a row counted at once; a day that
    one of them would put over its limit (another transaction filled it since its loads were
    read) takes none, and says so."""
    sessions, _ = two_databases
    today = NOW.date()
    async with sessions() as session:
        loads = DayLoads(session)
        await loads.take_all([("T-1", today, 2, 2), ("T-2", today, 1, 3)])  # new rows
        await loads.take_all([("T-2", today, 2, 3), ("T-3", today, 1, 1)])
        await session.commit()
    async with sessions() as session:
        with pytest.raises(DaysFilledMeanwhile):
            await DayLoads(session).take_all([("T-4", today, 1, 1), ("T-2", today, 1, 3)])
        await session.rollback()
    async with sessions() as session:
        rows = await session.execute(
            text("SELECT technician_id, jobs FROM technician_day_loads ORDER BY technician_id")
        )
        assert [tuple(row) for row in rows] == [("T-1", 2), ("T-2", 3), ("T-3", 1)]


async def test_a_group_whose_day_another_transaction_filled_meanwhile_is_refused_whole(
    databases: DatabaseFactory,
) -> None:
    """One technician, two jobs a day, only today. One transaction takes two jobs and holds
    the day; another, which read the day empty, decides the same day and waits for it: once
    the first commits, the day is full, and the second is refused as a whole (its consumer
    then rolls the group back and takes its events one by one)."""
    engine = create_engine(await databases.migrated(DISPATCH.migrations_dir, "dispatch"))
    sessions = create_session_factory(engine)
    today = NOW.astimezone(ZoneInfo("Asia/Shanghai")).date()
    forget_candidates()
    try:
        async with UnitOfWork(sessions) as uow:
            _point, region, lat, lon = POINTS[0]
            await ServicePoints(uow.session).put(
                ServicePointIn(id="SP-PD", name="SP-PD", region=region, latitude=lat,
                               longitude=lon), NOW,
            )  # fmt: skip
            await Technicians(uow.session).put(
                TechnicianIn(
                    id="T-1", name="李师傅", skills=["pumps"],
                    certified_until=today + timedelta(days=365), service_point_id="SP-PD",
                    max_jobs_per_day=2, shifts="mon-sun 00:00-24:00",
                    leave=f"{today + timedelta(days=1)}..{today + timedelta(days=30)}",
                ),
                NOW,
            )  # fmt: skip
            await uow.commit()
        rng = random.Random(4)
        near = [
            (replace(t, latitude=lat, longitude=lon, region=region), e)
            for t, e in (_triaged(rng, n) for n in (1, 2, 3))
        ]
        first, second = near[:2], near[2:]

        async def taking_second() -> None:
            async with UnitOfWork(sessions) as uow:
                await take_all_triaged(uow, DispatchSettings(), second, NOW)
                await uow.commit()

        async with UnitOfWork(sessions) as uow:
            await take_all_triaged(uow, DispatchSettings(), first, NOW)
            waiting = asyncio.create_task(taking_second())
            await eventually(
                lambda: _waiting_for_a_lock(engine), lambda n: n >= 1, what="the second waits"
            )
            await uow.commit()
        with pytest.raises(DaysFilledMeanwhile):
            await waiting
        async with sessions() as session:
            jobs = (await session.execute(text("SELECT request_no FROM jobs"))).scalars().all()
            loads = (await session.execute(text("SELECT jobs FROM technician_day_loads"))).all()
        assert sorted(jobs) == [t.request_no for t, _ in first]
        assert [tuple(row) for row in loads] == [(2,)]
    finally:
        forget_candidates()
        await engine.dispose()


async def _waiting_for_a_lock(engine: AsyncEngine) -> int:
    async with engine.connect() as connection:
        return int(
            (
                await connection.execute(
                    text(
                        "SELECT count(*) FROM pg_stat_activity"
                        " WHERE datname = current_database() AND wait_event_type = 'Lock'"
                    )
                )
            ).scalar_one()
        )
