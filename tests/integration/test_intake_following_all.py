"""Intake follows a run of one department event type handled together (``handle_all``, as
the consumer hands over the events of a group) exactly as it follows each in turn: random
runs of assignments, arrivals and appointments, some about the same request, some the same
event again, some older than what the request shows, one about a request intake does not
know, on PostgreSQL (several requests per statement) and SQLite (one by one)."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from itertools import groupby
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.intake.app import DEFINITION as INTAKE
from services.intake.commands.registration import RegisterRequest, register_request
from services.intake.domain.service_request import Channel, Customer
from services.intake.events.subscriptions import SUBSCRIPTIONS
from shared.db.engine import create_engine, create_session_factory
from shared.db.unit_of_work import UnitOfWork
from shared.events.registry import EventSchema
from shared.events.schemas import dispatch
from shared.messaging.outbox import envelope_for
from tests.support.databases import DatabaseFactory, migrated_on

Sessions = async_sessionmaker[AsyncSession]
BY_SCHEMA = {s.schema: s for s in SUBSCRIPTIONS}
REQUESTS = 8


@pytest.fixture(params=["postgresql", "sqlite"])
async def two_databases(
    request: pytest.FixtureRequest, databases: DatabaseFactory, tmp_path: Path
) -> AsyncIterator[tuple[Sessions, Sessions]]:
    engines = [
        create_engine(await migrated_on(request.param, INTAKE, databases, tmp_path / name))
        for name in ("each", "all")
    ]
    try:
        yield create_session_factory(engines[0]), create_session_factory(engines[1])
    finally:
        for engine in engines:
            await engine.dispose()


async def _register(sessions: Sessions) -> list[str]:
    numbers = []
    for n in range(REQUESTS):
        registered = await register_request(
            UnitOfWork(sessions),
            RegisterRequest(
                channel=Channel.WEB, customer=Customer(name="李娜", phone=f"1370000000{n}"),
                product_model="WX-200", serial_no=f"WX200-{n}", fault_description="噪音大",
            ),
        )  # fmt: skip
        numbers.append(registered.request_no)
    return numbers


def _random_events(rng: random.Random, numbers: list[str]) -> list[EventSchema]:
    t = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
    technicians = [("T-1", "李强"), ("T-2", "王磊"), ("T-3", "赵军")]
    events: list[EventSchema] = []
    for _ in range(120):
        number = rng.choice([*numbers, "SR-2026-999999"])
        at = t + timedelta(minutes=rng.randrange(0, 600, 5))
        technician_id, name = rng.choice(technicians)
        kind = rng.choices(["assigned", "on_site", "appointment", "again"], [6, 2, 2, 1])[0]
        if kind == "again" and events:
            events.append(rng.choice(events))
        elif kind == "on_site":
            events.append(dispatch.JobOnSiteV1(
                request_no=number, technician_id=technician_id, arrived_at=at,
                arrival_due_at=None, late=rng.random() < 0.3,
            ))  # fmt: skip
        elif kind == "appointment":
            events.append(dispatch.AppointmentAgreedV1(
                request_no=number, technician_id=technician_id, window_start=at,
                window_end=at + timedelta(hours=2), rescheduled=False, reason=None, agreed_at=at,
            ))  # fmt: skip
        else:
            events.append(dispatch.JobAssignedV1(
                request_no=number, technician_id=technician_id, technician_name=name,
                service_point_id="SP-1", how="automatic", reason=None, arrival_due_at=None,
                assigned_at=at,
            ))  # fmt: skip
    return events


async def _follow(sessions: Sessions, events: list[EventSchema], together: bool) -> None:
    """In one transaction, as the consumer: the runs of one type to ``handle_all`` (when
    ``together``), every other event to its handler."""
    async with UnitOfWork(sessions) as uow:
        for schema, run in groupby(events, key=type):
            subscription = BY_SCHEMA[schema]
            items = [(event, envelope_for(event)) for event in run]
            if together and subscription.handle_all is not None:
                await subscription.handle_all(uow, items)
            else:
                for event, envelope in items:
                    await subscription.handler(uow, event, envelope)
            await uow.session.flush()
            uow.session.expunge_all()
        await uow.commit()


async def _state(sessions: Sessions) -> tuple[list[Any], list[Any]]:
    async with sessions() as session:
        requests = await session.execute(text(
            "SELECT request_no, status, last_department_update_at, technician_id,"
            " technician_name, technician_assigned_at FROM service_requests ORDER BY request_no"
        ))  # fmt: skip
        timeline = await session.execute(text(
            "SELECT request_no, at, department, status, summary, details FROM request_timeline"
            " WHERE department <> 'intake' ORDER BY request_no, id"
        ))  # fmt: skip
        return [tuple(r) for r in requests], [tuple(r) for r in timeline]


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_following_a_run_together_is_following_each_in_turn(
    two_databases: tuple[Sessions, Sessions], seed: int
) -> None:
    each, together = two_databases
    numbers = await _register(each)
    assert await _register(together) == numbers
    events = _random_events(random.Random(seed), numbers)
    # Long runs of one type: the assignments first, then the rest as they come.
    events.sort(key=lambda e: not isinstance(e, dispatch.JobAssignedV1))
    half = len(events) // 2
    for part in (events[:half], events[half:]):
        await _follow(each, part, together=False)
        await _follow(together, part, together=True)

    requests, timeline = await _state(together)
    assert (requests, timeline) == await _state(each)
    # Not a comparison of nothing: most requests moved, and many reports are on timelines.
    assert sum(1 for r in requests if r[3] is not None) >= REQUESTS - 1
    assert len(timeline) > REQUESTS * 3
