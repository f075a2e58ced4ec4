"""Request numbers have no gaps and no duplicates, also when many arrive at once."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from services.intake.app import DEFINITION as INTAKE
from services.intake.commands.registration import RegisterRequest, register_request
from services.intake.db.repository import ServiceRequestRepository
from services.intake.domain.service_request import Channel, Customer
from shared.db.engine import create_engine, create_session_factory
from shared.db.unit_of_work import UnitOfWork
from tests.support.databases import DatabaseFactory, migrated_on

COMMAND = RegisterRequest(
    channel=Channel.WEB,
    customer=Customer(name="李娜", phone="13700000000"),
    product_model="WX-200",
    serial_no="WX200-9",
    fault_description="噪音大",
)


@pytest.fixture(params=["postgresql", "sqlite"])
async def intake_database(
    request: pytest.FixtureRequest, databases: DatabaseFactory, tmp_path: Path
) -> str:
    return await migrated_on(request.param, INTAKE, databases, tmp_path)


async def test_concurrent_registrations_get_consecutive_numbers(intake_database: str) -> None:
    engine = create_engine(intake_database)
    sessions = create_session_factory(engine)
    try:
        registered = await asyncio.gather(
            *(register_request(UnitOfWork(sessions), COMMAND) for _ in range(40))
        )
    finally:
        await engine.dispose()
    numbers = sorted(r.request_no for r in registered)
    year = registered[0].received_at.year
    assert numbers == [f"SR-{year}-{n:06d}" for n in range(1, 41)]


async def test_a_rolled_back_registration_gives_its_number_back(intake_database: str) -> None:
    engine = create_engine(intake_database)
    sessions = create_session_factory(engine)
    try:
        first = await register_request(UnitOfWork(sessions), COMMAND)
        uow = UnitOfWork(sessions)
        async with uow:
            year = first.received_at.year
            taken = await ServiceRequestRepository(uow.session).next_number(year)
            assert taken.sequence == 2
            # Leaves without commit: a failed registration.
        second = await register_request(UnitOfWork(sessions), COMMAND)
    finally:
        await engine.dispose()
    assert first.request_no.endswith("000001")
    assert second.request_no.endswith("000002")
