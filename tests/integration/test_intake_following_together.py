"""Intake follows department events that are handled one after another in one transaction
(as the consumer handles events that arrive together): each sees what the ones before it did,
on PostgreSQL and on SQLite. And on PostgreSQL, an event that waited for another
transaction's lock on its request sees what that transaction put on the timeline."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.intake.app import DEFINITION as INTAKE
from services.intake.commands.registration import RegisterRequest, register_request
from services.intake.db.repository import ServiceRequestRepository
from services.intake.domain.service_request import Channel, Customer, ServiceRequest
from services.intake.events.subscriptions import SUBSCRIPTIONS
from shared.db.engine import create_engine, create_session_factory
from shared.db.messaging_tables import inbox
from shared.db.unit_of_work import UnitOfWork
from shared.events.registry import EventSchema
from shared.events.schemas import claims, dispatch
from shared.messaging.outbox import envelope_for
from tests.support.databases import DatabaseFactory, migrated_on

Sessions = async_sessionmaker[AsyncSession]
HANDLERS = {s.schema: s.handler for s in SUBSCRIPTIONS}


@pytest.fixture(params=["postgresql", "sqlite"])
async def sessions(
    request: pytest.FixtureRequest, databases: DatabaseFactory, tmp_path: Path
) -> AsyncIterator[Sessions]:
    engine = create_engine(await migrated_on(request.param, INTAKE, databases, tmp_path))
    try:
        yield create_session_factory(engine)
    finally:
        await engine.dispose()


async def _registered(sessions: Sessions) -> ServiceRequest:
    return await register_request(
        UnitOfWork(sessions),
        RegisterRequest(
            channel=Channel.WEB, customer=Customer(name="李娜", phone="13700000000"),
            product_model="WX-200", serial_no="WX200-9", fault_description="噪音大",
        ),
    )  # fmt: skip


async def _handle(uow: UnitOfWork, event: EventSchema) -> None:
    """As the consumer: the event's inbox row, then its handler, in the caller's
    transaction; then the session flushed and its identity map cleared, as between the
    handlers of events handled together."""
    envelope = envelope_for(event)
    await uow.session.execute(
        insert(inbox),
        {"consumer": "intake", "message_id": str(envelope.id), "event_type": envelope.type,
         "handled_at": datetime.now(UTC)},
    )  # fmt: skip
    await HANDLERS[type(event)](uow, event, envelope)
    await uow.session.flush()
    uow.session.expunge_all()


async def _read(sessions: Sessions, number: str) -> ServiceRequest:
    async with sessions() as session:
        request = await ServiceRequestRepository(session).get(number, with_timeline=True)
    assert request is not None
    return request


def _assigned(number: str, at: datetime) -> dispatch.JobAssignedV1:
    return dispatch.JobAssignedV1(
        request_no=number, technician_id="T-007", technician_name="李强", service_point_id="SP-1",
        how="automatic", reason=None, arrival_due_at=None, assigned_at=at,
    )  # fmt: skip


def _appointment(number: str, at: datetime) -> dispatch.AppointmentAgreedV1:
    return dispatch.AppointmentAgreedV1(
        request_no=number, technician_id="T-007", window_start=at + timedelta(hours=1),
        window_end=at + timedelta(hours=2), rescheduled=False, reason=None, agreed_at=at,
    )  # fmt: skip


def _department_entries(request: ServiceRequest) -> list[tuple[Any, ...]]:
    return [
        (e.at, e.department.value, e.status.value, e.summary, e.details)
        for e in request.timeline
        if e.department.value != "intake"
    ]


async def test_events_in_one_transaction_each_see_the_ones_before(sessions: Sessions) -> None:
    number = (await _registered(sessions)).request_no
    t = datetime.now(UTC)

    def at(minutes: int) -> datetime:
        return t + timedelta(minutes=minutes)

    on_site = dispatch.JobOnSiteV1(
        request_no=number, technician_id="T-007", arrived_at=at(60), arrival_due_at=None,
        late=False,
    )  # fmt: skip
    escalated = dispatch.JobEscalatedV1(
        request_no=number,
        technician_id="T-007",
        reason="疑难故障",
        owner="technical",
        escalated_at=at(70),
    )
    alert = claims.QualityAlertRaisedV1(
        product_model="WX-200", fault_code="E42", quarter="2026-Q4", count=6, threshold=5,
        raised_at=at(0),
    )  # fmt: skip
    unknown = dispatch.JobOnSiteV1(
        request_no="SR-2026-999999", technician_id="T-1", arrived_at=at(1), arrival_due_at=None,
        late=False,
    )  # fmt: skip
    async with UnitOfWork(sessions) as uow:
        await _handle(uow, on_site)
        # Older than the arrival: on the timeline, the status stays; the technician counts.
        await _handle(uow, _assigned(number, at(10)))
        await _handle(uow, _assigned(number, at(10)))  # the same event again: once
        # A handler that leaves the request's rows to the ORM in between.
        await _handle(uow, alert)
        # No status: shown under the step of its moment (the assignment just handled),
        # named with the technician the assignment just recorded.
        await _handle(uow, _appointment(number, at(20)))
        await _handle(uow, escalated)  # after the arrival: under on_site
        await _handle(uow, unknown)  # dropped, nothing breaks
        await uow.commit()

    request = await _read(sessions, number)
    assert request.status.value == "on_site"
    assert request.last_department_update_at == at(60)
    assert request.technician is not None
    assert (request.technician.technician_id, request.technician.name) == ("T-007", "李强")
    assert request.technician.assigned_at == at(10)
    entries = _department_entries(request)
    assert [(at_, status) for at_, _d, status, _s, _x in entries] == [
        (at(10), "assigned"), (at(20), "assigned"), (at(60), "on_site"), (at(70), "on_site"),
    ]  # fmt: skip
    assert entries[0][3] == "已派工：李强"
    assert entries[1][4]["technician_name"] == "李强"
    assert entries[3][3] == "转技术部联合评估：疑难故障"


async def test_a_newer_assignment_replaces_the_technician_an_older_one_does_not(
    sessions: Sessions,
) -> None:
    number = (await _registered(sessions)).request_no
    t = datetime.now(UTC)
    newer = _assigned(number, t + timedelta(minutes=30)).model_copy(
        update={"technician_id": "T-009", "technician_name": "王五"}
    )
    async with UnitOfWork(sessions) as uow:
        await _handle(uow, _assigned(number, t + timedelta(minutes=10)))
        await _handle(uow, newer)
        await _handle(uow, _assigned(number, t + timedelta(minutes=20)))
        await uow.commit()
    request = await _read(sessions, number)
    assert request.technician is not None and request.technician.name == "王五"
    assert request.status.value == "assigned"
    assert request.last_department_update_at == t + timedelta(minutes=30)
    assert len(_department_entries(request)) == 3
    # Each event once, whether in the same transaction or a later one.
    async with UnitOfWork(sessions) as uow:
        await _handle(uow, newer)
        await uow.commit()
    assert len(_department_entries(await _read(sessions, number))) == 3


async def test_an_event_that_waited_for_the_request_sees_what_the_other_transaction_did(
    databases: DatabaseFactory,
) -> None:
    engine = create_engine(await databases.migrated(INTAKE.migrations_dir, "intake"))
    sessions = create_session_factory(engine)
    try:
        number = (await _registered(sessions)).request_no
        t = datetime.now(UTC)
        async with UnitOfWork(sessions) as first:
            await _handle(first, _assigned(number, t + timedelta(minutes=10)))
            # The appointment's transaction waits for the assignment's lock on the request...
            waiting = asyncio.create_task(_handle_alone(sessions, _appointment(number, t)))
            waiting_later = asyncio.create_task(
                _handle_alone(sessions, _appointment(number, t + timedelta(minutes=20)))
            )
            await _until_waiting(sessions, 2)
            await first.commit()  # ... until the assignment commits
        await asyncio.wait_for(asyncio.gather(waiting, waiting_later), 10)
    finally:
        request = await _read(sessions, number)
        await engine.dispose()
    entries = _department_entries(request)
    by_time = {at_: (status, details) for at_, _d, status, _s, details in entries}
    # Before the assignment: under the request's status then, the technician named anyway.
    assert by_time[t][0] == "received" and by_time[t][1]["technician_name"] == "李强"
    assert by_time[t + timedelta(minutes=20)][0] == "assigned"
    assert by_time[t + timedelta(minutes=20)][1]["technician_name"] == "李强"
    assert request.status.value == "assigned" and len(entries) == 3


async def _handle_alone(sessions: Sessions, event: EventSchema) -> None:
    async with UnitOfWork(sessions) as uow:
        await _handle(uow, event)
        await uow.commit()


async def _until_waiting(sessions: Sessions, count: int) -> None:
    """Until ``count`` sessions of this database wait for a lock."""
    for _ in range(500):
        async with sessions() as session:
            waiting = await session.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
            )
        if waiting == count:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{waiting} sessions wait for a lock, not {count}")
