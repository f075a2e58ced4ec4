"""A unit is never promised twice: 200 jobs asking at once for the last 10 units, handled by
two running parts instances on one PostgreSQL database, get exactly 10 units between them.
(Without the row lock on the stock balance, this run promised 134 units.)"""

from __future__ import annotations

from sqlalchemy import func, select

from services.parts.app import DEFINITION as PARTS
from services.parts.commands import stock
from services.parts.db.models import ReservationLineRow, ReservationRow
from shared.messaging.outbox import envelope_for
from shared.settings import AuthSettings, BrokerSettings
from tests.integration.test_parts_inventory import build_basics, make_world, requested
from tests.support.broker import publish_envelopes
from tests.support.databases import DatabaseFactory
from tests.support.services import running_service
from tests.support.waiting import eventually


async def test_200_concurrent_reservations_for_the_last_10_units_give_exactly_10(
    databases: DatabaseFactory, broker: BrokerSettings, auth: AuthSettings
) -> None:
    url = await databases.migrated(PARTS.migrations_dir, "parts")
    world = await make_world(url)
    try:
        await build_basics(world)
        # 4 at the Shanghai centre, 6 in central: the last 10 units anywhere.
        await world.work(lambda r: stock.receive(r, "P-1001", "WH-SH", 4, "DN-1"))
        await world.work(lambda r: stock.receive(r, "P-1001", "WH-C", 6, "DN-2"))
        async with (
            running_service(PARTS, url, broker, auth, monitor_seconds=3600) as first,
            running_service(PARTS, url, broker, auth, monitor_seconds=3600) as second,
        ):
            assert first.runtime.engine is not second.runtime.engine
            for instance in (first, second):
                await eventually(lambda i=instance: i.runtime.consumer.is_consuming, within=60)  # type: ignore[union-attr]
            await publish_envelopes(
                broker,
                [envelope_for(requested(f"SR-C{n:03d}", {"P-1001": 1})) for n in range(200)],
            )

            async def handled() -> int:
                async with world.sessions() as session:
                    return (
                        await session.execute(select(func.count()).select_from(ReservationRow))
                    ).scalar_one()

            await eventually(handled, lambda n: n == 200, within=300, interval=0.5,
                             what="200 reservations")  # fmt: skip
        async with world.sessions() as session:
            reserved, waiting = (
                await session.execute(
                    select(
                        func.sum(ReservationLineRow.reserved),
                        func.sum(ReservationLineRow.backordered),
                    )
                )
            ).one()
            confirmed = (
                await session.execute(
                    select(func.count()).where(ReservationRow.status == "confirmed")
                )
            ).scalar_one()
        assert (reserved, waiting, confirmed) == (10, 190, 10)
        assert await world.stock("P-1001", "WH-SH") == (10, 10)
        assert await world.stock("P-1001", "WH-C") == (0, 0)
        await world.assert_ledger()
    finally:
        await world.engine.dispose()
