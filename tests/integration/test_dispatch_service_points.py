"""A triaged request's arrival due time is measured from the service points kept in the
process (no read per event); a point added or moved afterwards is used: at once when this
process made the change, within ``FINGERPRINT_SECONDS`` when another instance did."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.dispatch.app import DEFINITION as DISPATCH
from services.dispatch.commands.intake_jobs import due_for
from services.dispatch.db import staff
from services.dispatch.db.staff import ServicePoints, forget_candidates
from services.dispatch.domain.staffing import ServicePointIn
from services.dispatch.settings import DispatchSettings
from shared.db.engine import create_engine, create_session_factory
from shared.db.unit_of_work import UnitOfWork
from tests.support.databases import DatabaseFactory

# A request in Pudong: ~35 km from Songjiang's point (a suburb one), ~2 km from Pudong's.
AT = (31.24, 121.52)


@pytest.fixture
async def engine(databases: DatabaseFactory) -> AsyncIterator[AsyncEngine]:
    url = await databases.migrated(DISPATCH.migrations_dir, "dispatch")
    engine = create_engine(url)
    forget_candidates()  # staff cached by another test's database
    yield engine
    forget_candidates()
    await engine.dispose()


async def test_a_service_point_added_after_the_points_were_kept_is_used(
    engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    sessions = create_session_factory(engine)
    settings = DispatchSettings()
    now = datetime.now(UTC)

    async def target() -> str:
        async with UnitOfWork(sessions) as uow:
            return (await due_for(uow, settings, *AT, "上海", now)).target

    async with UnitOfWork(sessions) as uow:
        point = ServicePointIn(
            id="SP-SJ", name="松江服务站", region="上海", zone="suburb",
            latitude=31.0320, longitude=121.2270,
        )  # fmt: skip
        await ServicePoints(uow.session).put(point, now)
        await uow.commit()
    assert await target() == "suburb"
    assert await target() == "suburb"  # kept

    # Added by this process: used at once.
    async with UnitOfWork(sessions) as uow:
        point = ServicePointIn(
            id="SP-PD", name="浦东服务站", region="上海", zone="city",
            latitude=31.2304, longitude=121.5440,
        )  # fmt: skip
        await ServicePoints(uow.session).put(point, now)
        await uow.commit()
    assert await target() == "city"

    # Moved by another instance (straight into the database): used once the fingerprint is
    # read again.
    monkeypatch.setattr(staff, "FINGERPRINT_SECONDS", 0.0)
    async with sessions() as session:
        await session.execute(
            text(
                "UPDATE service_points SET latitude = 39.9, longitude = 116.4,"
                " updated_at = :later WHERE id = 'SP-PD'"
            ),
            {"later": datetime.now(UTC)},
        )
        await session.commit()
    assert await target() == "suburb"
