"""Dispatch's record of a registered request: written once, by one statement, however often
the event comes (redelivered later, or twice in one transaction when the consumer handles
events together), on PostgreSQL and on the embedded SQLite default."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from services.dispatch.app import DEFINITION as DISPATCH
from services.dispatch.db.models import IncomingRequestRow
from services.dispatch.db.repository import IncomingRequestRepository
from services.dispatch.events.handlers import on_request_registered, on_requests_registered
from shared.db.engine import create_engine, create_session_factory
from shared.db.unit_of_work import UnitOfWork
from shared.events.envelope import Envelope
from shared.events.schemas.intake import RequestRegisteredV1
from shared.messaging.outbox import envelope_for
from shared.observability.context import correlated
from tests.support.databases import DatabaseFactory, migrated_on
from tests.support.statements import statements_of


@pytest.fixture(params=["postgresql", "sqlite"])
async def engine(
    request: pytest.FixtureRequest, databases: DatabaseFactory, tmp_path: Path
) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(await migrated_on(request.param, DISPATCH, databases, tmp_path))
    yield engine
    await engine.dispose()


def registered(number: str, correlation: str) -> tuple[RequestRegisteredV1, Envelope]:
    event_ = RequestRegisteredV1(
        request_no=number,
        channel="phone",
        customer_name="张伟",
        product_model="WX-200",
        serial_no="WX200-1",
        fault_description="开机无反应",
        received_at=datetime(2026, 3, 2, 8, 30, tzinfo=UTC),
    )
    with correlated(correlation, None):
        return event_, envelope_for(event_)


async def test_a_request_registered_twice_is_recorded_once_as_first_heard(
    engine: AsyncEngine,
) -> None:
    sessions = create_session_factory(engine)
    first, first_envelope = registered("SR-2026-000001", "call-1")
    began = datetime.now(UTC)
    async with UnitOfWork(sessions) as uow:
        await on_request_registered(uow, first, first_envelope)
        await uow.commit()
    # Delivered again later, under another correlation: nothing changes.
    again, again_envelope = registered("SR-2026-000001", "call-2")
    async with UnitOfWork(sessions) as uow:
        await on_request_registered(uow, again, again_envelope)
        await uow.commit()
    # Twice in one transaction (events handled together), beside another request.
    other, other_envelope = registered("SR-2026-000002", "call-3")
    async with UnitOfWork(sessions) as uow:
        await on_request_registered(uow, other, other_envelope)
        await on_request_registered(uow, other, other_envelope)
        await uow.commit()

    async with sessions() as session:
        rows = (
            await session.execute(select(IncomingRequestRow).order_by(IncomingRequestRow.id))
        ).scalars()
        found = [(row.request_no, row.correlation_id) for row in rows]
        assert found == [("SR-2026-000001", "call-1"), ("SR-2026-000002", "call-3")]
        record = await IncomingRequestRepository(session).get("SR-2026-000001")
    assert record is not None
    assert record.customer_name == "张伟" and record.product_model == "WX-200"
    assert record.fault_description == "开机无反应"
    assert record.received_at == datetime(2026, 3, 2, 8, 30, tzinfo=UTC)
    assert began <= record.recorded_at <= began + timedelta(minutes=1)
    assert record.recorded_at.tzinfo is not None


async def test_a_registered_request_is_recorded_by_one_statement(engine: AsyncEngine) -> None:
    sessions = create_session_factory(engine)
    statements: list[str] = []
    for correlation in ("call-1", "call-2"):
        registered_event, envelope = registered("SR-2026-000001", correlation)

        async def record(uow: UnitOfWork, e: Any = registered_event, env: Any = envelope) -> None:
            await on_request_registered(uow, e, env)

        statements += await statements_of(engine, sessions, record)
    statements = [s for s in statements if not s.startswith("BEGIN")]  # SQLite's own
    assert len(statements) == 2, statements
    assert all(s.startswith("INSERT INTO incoming_requests") for s in statements), statements
    assert all("ON CONFLICT (request_no) DO NOTHING" in s for s in statements), statements


async def test_requests_registered_together_are_recorded_by_one_statement_as_one_by_one(
    engine: AsyncEngine,
) -> None:
    """The events of a group at once (``handle_all``): one round trip, the same rows as
    ``on_request_registered`` for each in turn (the first of a request kept)."""
    sessions = create_session_factory(engine)
    events = [
        registered("SR-2026-000003", "call-1"),
        registered("SR-2026-000004", "call-2"),
        registered("SR-2026-000003", "call-3"),
        registered("SR-2026-000005", "call-4"),
    ]

    async def record(uow: UnitOfWork) -> None:
        await on_requests_registered(uow, events)

    statements = await statements_of(engine, sessions, record)
    statements = [s for s in statements if not s.startswith("BEGIN")]  # SQLite's own
    assert len(statements) == 1 and statements[0].startswith("INSERT INTO incoming_requests")
    async with sessions() as session:
        rows = (
            await session.execute(select(IncomingRequestRow).order_by(IncomingRequestRow.id))
        ).scalars()
        found = [(row.request_no, row.correlation_id) for row in rows]
    assert found == [("SR-2026-000003", "call-1"), ("SR-2026-000004", "call-2"),
                     ("SR-2026-000005", "call-4")]  # fmt: skip
