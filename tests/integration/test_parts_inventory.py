"""Parts on the real PostgreSQL: the catalogue (announced on every change), stock and its
ledger, reservations from the nearest warehouse, backorders filled by priority then age,
expiry, release on cancellation. After every scenario the balances equal the ledger."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from services.parts.app import DEFINITION as PARTS
from services.parts.commands import reservations, stock
from services.parts.commands.catalogue import put_part, put_warehouse, seed_demo
from services.parts.db.models import ReservationLineRow, ReservationRow, StockRow
from services.parts.db.stockroom import Stockroom, ledger_problems
from services.parts.domain.catalogue import PartDefinition
from services.parts.domain.stock import WarehouseKind
from services.parts.events.handlers import (
    on_job_on_site,
    on_parts_requested,
    on_request_cancelled,
)
from shared.db.engine import create_engine, create_session_factory
from shared.db.messaging_tables import outbox
from shared.db.unit_of_work import UnitOfWork
from shared.events.registry import EventSchema
from shared.events.schemas.dispatch import JobOnSiteV1, PartsRequestedV1, RequestedPartV1
from shared.events.schemas.intake import RequestCancelledV1
from shared.messaging.outbox import envelope_for
from tests.support.databases import DatabaseFactory, migrated_on, migrated_sqlite

T0 = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)


@dataclass
class World:
    """A migrated parts database, and ways to act on it as the service would."""

    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self.sessions)

    async def work(self, action, now: datetime = T0, actor: str = "tester"):  # type: ignore[no-untyped-def]
        async with self.uow() as uow:
            result = await action(Stockroom(uow, now, actor))
            await uow.commit()
        return result

    async def handle(self, handler, event: EventSchema) -> None:  # type: ignore[no-untyped-def]
        async with self.uow() as uow:
            await handler(uow, event, envelope_for(event))
            await uow.commit()

    async def stock(self, part_no: str, warehouse_id: str) -> tuple[int, int]:
        async with self.sessions() as session:
            row = await session.get(StockRow, (part_no, warehouse_id))
            return (row.on_hand, row.reserved) if row else (0, 0)

    async def events(self, event_type: str) -> list[dict]:  # type: ignore[type-arg]
        async with self.sessions() as session:
            rows = await session.execute(
                select(outbox.c.envelope)
                .where(outbox.c.event_type == event_type)
                .order_by(outbox.c.id)
            )
            return [json.loads(r)["data"] for r in rows.scalars()]

    async def reservation(self, request_no: str) -> tuple[ReservationRow, list[ReservationLineRow]]:
        async with self.sessions() as session:
            row = (
                await session.execute(
                    select(ReservationRow).where(ReservationRow.request_no == request_no)
                )
            ).scalar_one()
            lines = (
                (
                    await session.execute(
                        select(ReservationLineRow)
                        .where(ReservationLineRow.reservation_id == row.reservation_id)
                        .order_by(ReservationLineRow.part_no)
                    )
                )
                .scalars()
                .all()
            )
            return row, list(lines)

    async def assert_ledger(self) -> None:
        async with self.sessions() as session:
            assert await ledger_problems(session) == []


async def make_world(url: str) -> World:
    engine = create_engine(url)
    return World(engine, create_session_factory(engine))


async def build_basics(world: World) -> None:
    """Central, two service centres (SP-SH, SP-BJ), the old-parts store, two parts."""
    async with world.uow() as uow:
        await put_warehouse(uow, "WH-C", WarehouseKind.CENTRAL, "中央仓库", None)
        await put_warehouse(uow, "WH-SH", WarehouseKind.SERVICE_CENTRE, "上海", "SP-SH")
        await put_warehouse(uow, "WH-BJ", WarehouseKind.SERVICE_CENTRE, "北京", "SP-BJ")
        await put_warehouse(uow, "WH-OLD", WarehouseKind.OLD_PARTS, "旧件库", None)
        for part_no, name, needs_return in (
            ("P-1001", "主控板", True),
            ("P-2002", "机械密封", False),
        ):
            await put_part(
                uow,
                PartDefinition(
                    part_no=part_no,
                    name=name,
                    fits_models=["WX-200"],
                    unit_cost="180.00",
                    list_price="320.00",
                    supplier_id="S-01",
                    return_required=needs_return,
                ),  # type: ignore[arg-type]
                T0,
            )
        await uow.commit()


@pytest.fixture(params=["postgresql", "sqlite"])
async def world(
    request: pytest.FixtureRequest, databases: DatabaseFactory, tmp_path: Path
) -> AsyncIterator[World]:
    # SQLite too: the embedded default must behave the same.
    url = await migrated_on(request.param, PARTS, databases, tmp_path)
    made = await make_world(url)
    await build_basics(made)
    yield made
    await made.assert_ledger()  # every scenario ends with balances equal to the ledger
    await made.engine.dispose()


def requested(
    request_no: str,
    lines: dict[str, int],
    point: str = "SP-SH",
    priority: str = "ordinary",
    at: datetime = T0,
) -> PartsRequestedV1:
    return PartsRequestedV1(
        request_no=request_no,
        service_point_id=point,
        technician_id="T-1",
        product_model="WX-200",
        priority=priority,
        needed_by=None,
        lines=[RequestedPartV1(part_no=p, quantity=q) for p, q in lines.items()],
        requested_at=at,
    )


async def receive(
    world: World, part_no: str, warehouse_id: str, quantity: int, at: datetime = T0
) -> int:
    return await world.work(lambda r: stock.receive(r, part_no, warehouse_id, quantity, "DN-1"), at)


async def test_catalogue_changes_are_announced_once_each(world: World) -> None:
    assert len(await world.events("parts.part.catalogued")) == 2
    seal = PartDefinition(
        part_no="P-2002",
        name="机械密封",
        fits_models=["WX-200"],
        unit_cost="180.00",
        list_price="320.00",
        supplier_id="S-01",
    )  # type: ignore[arg-type]
    async with world.uow() as uow:
        assert await put_part(uow, seal, T0) == "unchanged"
        dearer = seal.model_copy(update={"list_price": Decimal("350")})
        assert await put_part(uow, dearer, T0) == "updated"
        await uow.commit()
    announced = await world.events("parts.part.catalogued")
    assert len(announced) == 3 and announced[-1]["list_price"] in ("350", "350.00")


async def test_receipts_transfers_adjustments_and_scrap_keep_the_ledger(world: World) -> None:
    await receive(world, "P-1001", "WH-C", 10)
    await world.work(lambda r: stock.transfer(r, "P-1001", "WH-C", "WH-SH", 4, None))
    await world.work(lambda r: stock.adjust(r, "P-1001", "WH-SH", -1, "count found 3"))
    await world.work(lambda r: stock.scrap(r, "P-1001", "WH-C", 2, "water damage"))
    assert await world.stock("P-1001", "WH-C") == (4, 0)
    assert await world.stock("P-1001", "WH-SH") == (3, 0)
    from services.parts.commands.errors import Conflict

    with pytest.raises(Conflict):
        await world.work(lambda r: stock.scrap(r, "P-1001", "WH-SH", 4, "too many"))
    with pytest.raises(Conflict):
        await world.work(lambda r: stock.transfer(r, "P-1001", "WH-SH", "WH-C", 9, None))
    assert await world.stock("P-1001", "WH-SH") == (3, 0)


async def test_reservation_takes_the_service_centre_first_then_central_and_backorders_the_rest(
    world: World,
) -> None:
    await receive(world, "P-1001", "WH-SH", 2)
    await receive(world, "P-1001", "WH-C", 3)
    await world.handle(on_parts_requested, requested("SR-1", {"P-1001": 7, "P-2002": 1}))
    row, lines = await world.reservation("SR-1")
    assert row.status == "backordered" and row.warehouse_id == "WH-SH"
    assert row.expires_at is not None and row.expires_at > row.created_at
    assert [(x.part_no, x.reserved, x.backordered) for x in lines] == [
        ("P-1001", 5, 2),
        ("P-2002", 0, 1),
    ]
    assert await world.stock("P-1001", "WH-SH") == (5, 5)  # 3 moved over from central
    assert await world.stock("P-1001", "WH-C") == (0, 0)
    confirmed = await world.events("parts.reservation.confirmed")
    assert confirmed[0]["lines"] == [{"part_no": "P-1001", "quantity": 5, "warehouse_id": "WH-SH"}]
    backordered = await world.events("parts.reservation.backordered")
    assert backordered[0]["lines"] == [
        {"part_no": "P-1001", "quantity": 2},
        {"part_no": "P-2002", "quantity": 1},
    ]


async def test_backorders_are_filled_by_priority_then_age_as_stock_arrives(world: World) -> None:
    await world.handle(on_parts_requested, requested("SR-OLD", {"P-1001": 1}, at=T0))
    await world.handle(
        on_parts_requested, requested("SR-NEW", {"P-1001": 1}, at=T0 + timedelta(hours=1))
    )
    await world.handle(
        on_parts_requested,
        requested("SR-URGENT", {"P-1001": 1}, point="SP-BJ", priority="urgent", at=T0),
    )
    # A receipt at the Shanghai centre serves only Shanghai's jobs, oldest first.
    assert await receive(world, "P-1001", "WH-SH", 1) == 1
    assert (await world.reservation("SR-OLD"))[0].status == "confirmed"
    assert (await world.reservation("SR-NEW"))[0].status == "backordered"
    # Central stock serves every centre: the urgent Beijing job before the ordinary one.
    assert await receive(world, "P-1001", "WH-C", 1) == 1
    urgent, _ = await world.reservation("SR-URGENT")
    assert urgent.status == "confirmed"
    # Its 72 h hold starts when everything is there (the receipt, at T0 here).
    assert urgent.expires_at == T0 + timedelta(hours=72)
    assert await world.stock("P-1001", "WH-BJ") == (1, 1)
    assert await receive(world, "P-1001", "WH-C", 5) == 1
    statuses = [(await world.reservation(n))[0].status for n in ("SR-OLD", "SR-NEW", "SR-URGENT")]
    assert statuses == ["confirmed", "confirmed", "confirmed"]
    assert await world.stock("P-1001", "WH-C") == (4, 0)
    filled = [e["request_no"] for e in await world.events("parts.reservation.confirmed")]
    assert filled == ["SR-OLD", "SR-URGENT", "SR-NEW"]


async def test_reservations_expire_unless_the_job_is_in_progress_and_cancellation_releases(
    world: World,
) -> None:
    await receive(world, "P-1001", "WH-SH", 3)
    now = datetime.now(UTC)
    await world.handle(on_parts_requested, requested("SR-IDLE", {"P-1001": 1}, at=now))
    await world.handle(on_parts_requested, requested("SR-BUSY", {"P-1001": 1}, at=now))
    await world.handle(on_parts_requested, requested("SR-GONE", {"P-1001": 1}, at=now))
    await world.handle(
        on_job_on_site,
        JobOnSiteV1(request_no="SR-BUSY", technician_id="T-1", arrived_at=now,
                    arrival_due_at=None, late=False),
    )  # fmt: skip
    await world.handle(
        on_request_cancelled,
        RequestCancelledV1(request_no="SR-GONE", reason="customer", cancelled_at=now),
    )
    assert await world.stock("P-1001", "WH-SH") == (3, 2)
    # The hold runs from when parts handled the request (not from the test's clock, which a
    # loaded machine leaves seconds behind): 72 h, then the idle one expires, the busy never.
    idle, _ = await world.reservation("SR-IDLE")
    assert idle.expires_at is not None
    assert idle.expires_at - idle.created_at == timedelta(hours=72)
    assert await world.work(reservations.expire_due, idle.expires_at - timedelta(hours=1)) == []
    later = await world.work(reservations.expire_due, idle.expires_at + timedelta(seconds=1))
    assert len(later) == 1
    assert (await world.reservation("SR-IDLE"))[0].close_reason == "expired"
    assert (await world.reservation("SR-BUSY"))[0].status == "confirmed"
    assert await world.stock("P-1001", "WH-SH") == (3, 1)
    released = await world.events("parts.reservation.released")
    assert [(e["request_no"], e["reason"]) for e in released] == [
        ("SR-GONE", "cancelled"),
        ("SR-IDLE", "expired"),
    ]
    # A request that arrives after its cancellation reserves nothing.
    await world.handle(on_parts_requested, requested("SR-GONE", {"P-1001": 1}, at=now))
    assert await world.stock("P-1001", "WH-SH") == (3, 1)


async def test_a_stock_low_crossing_is_announced_once_and_lands_in_the_draft_plan(
    world: World,
) -> None:
    from services.parts.events.handlers import on_stock_low
    from shared.events.schemas.parts import StockLowV1

    await receive(world, "P-2002", "WH-SH", 5)
    await world.work(lambda r: stock.set_reorder_point(r, "P-2002", "WH-SH", 2, 6))
    for n in range(4):  # available 4, 3, 2 (crossing), 1
        await world.handle(on_parts_requested, requested(f"SR-{n}", {"P-2002": 1}))
    low = await world.events("parts.stock.low")
    assert [(e["part_no"], e["available"], e["reorder_quantity"]) for e in low] == [
        ("P-2002", 2, 6)
    ]
    await world.handle(on_stock_low, StockLowV1.model_validate(low[0]))
    await world.handle(on_stock_low, StockLowV1.model_validate(low[0]))  # once only
    from services.parts.commands.replenishment import plan_lines
    from services.parts.db.models import ReplenishmentPlanRow

    async with world.sessions() as session:
        plan = (await session.execute(select(ReplenishmentPlanRow))).scalar_one()
        assert (plan.warehouse_id, plan.status) == ("WH-SH", "draft")
        lines = await plan_lines(session, plan.plan_no)
    assert [(x.part_no, x.quantity, x.suggested) for x in lines] == [("P-2002", 6, True)]
    # A receipt that waiting jobs take at once never lifts the stock as others see it: no
    # recovery, no second event.
    await world.handle(on_parts_requested, requested("SR-B", {"P-2002": 5}))  # 1 held, 4 wait
    assert await receive(world, "P-2002", "WH-SH", 4) == 4
    assert await world.stock("P-2002", "WH-SH") == (9, 9)
    assert len(await world.events("parts.stock.low")) == 1
    # Back above the point and down again: a second crossing, a second event.
    await receive(world, "P-2002", "WH-SH", 5)
    await world.handle(on_parts_requested, requested("SR-9", {"P-2002": 3}))
    assert len(await world.events("parts.stock.low")) == 2
    assert (await world.events("parts.stock.low"))[1]["available"] == 2


async def test_the_demo_seed_is_idempotent(tmp_path: Path) -> None:
    fresh = await make_world(await migrated_sqlite(PARTS, tmp_path))
    try:
        first = await seed_demo(fresh.uow())
        assert "22 parts" in first and "8 warehouses" in first
        second = await seed_demo(fresh.uow())
        assert "0 parts" in second and "0 opening balances" in second
        assert await fresh.stock("P-1001", "WH-CENTRAL") == (40, 0)
        assert await fresh.stock("P-1001", "WH-GZ-HP") == (5, 0)
        assert await fresh.events("parts.stock.low") == []
        await fresh.assert_ledger()
    finally:
        await fresh.engine.dispose()


async def test_a_job_asking_again_gets_only_what_it_does_not_already_hold(world: World) -> None:
    await receive(world, "P-1001", "WH-SH", 3)
    await world.handle(on_parts_requested, requested("SR-R", {"P-1001": 2}))
    # Rescheduled: the same parts again, and one more.
    await world.handle(on_parts_requested, requested("SR-R", {"P-1001": 2}))
    await world.handle(on_parts_requested, requested("SR-R", {"P-1001": 4}))
    assert await world.stock("P-1001", "WH-SH") == (3, 3)
    async with world.sessions() as session:
        rows = (
            (
                await session.execute(
                    select(ReservationRow).where(ReservationRow.request_no == "SR-R")
                )
            )
            .scalars()
            .all()
        )
    assert len(rows) == 2  # the first, and one for the extra two (one reserved, one waiting)
    assert len(await world.events("parts.reservation.backordered")) == 1


async def test_a_submitted_plan_is_filled_by_central_transfers_and_supplier_receipts(
    world: World,
) -> None:
    from services.parts.commands import replenishment
    from services.parts.commands.errors import Conflict, NotFound
    from services.parts.db.models import ReplenishmentPlanRow

    async def plan_state(plan_no: str) -> tuple[str, list[tuple[str, int, int]]]:
        async with world.sessions() as session:
            plan = await session.get(ReplenishmentPlanRow, plan_no)
            assert plan is not None
            lines = await replenishment.plan_lines(session, plan_no)
            return plan.status, [(x.part_no, x.quantity, x.received) for x in lines]

    plan = await world.work(
        lambda r: replenishment.put_lines(r.session, "WH-SH", {"P-1001": 3, "P-2002": 2}, T0)
    )
    with pytest.raises(Conflict):  # a draft is not filled yet
        await world.work(lambda r: stock.receive(r, "P-1001", "WH-SH", 1, None, plan.plan_no))
    with pytest.raises(NotFound):
        await world.work(lambda r: replenishment.put_lines(r.session, "WH-SH", {"P-X": 1}, T0))
    await world.work(lambda r: replenishment.submit(r.session, plan.plan_no, "sc-1", T0))
    await receive(world, "P-1001", "WH-C", 5)
    await world.work(lambda r: stock.transfer(r, "P-1001", "WH-C", "WH-SH", 3, None, plan.plan_no))
    assert await plan_state(plan.plan_no) == ("submitted", [("P-1001", 3, 3), ("P-2002", 2, 0)])
    with pytest.raises(Conflict):  # for another warehouse
        await world.work(lambda r: stock.receive(r, "P-2002", "WH-BJ", 2, None, plan.plan_no))
    await world.work(lambda r: stock.receive(r, "P-2002", "WH-SH", 2, "DN-7", plan.plan_no))
    assert await plan_state(plan.plan_no) == ("filled", [("P-1001", 3, 3), ("P-2002", 2, 2)])
    assert await world.stock("P-1001", "WH-SH") == (3, 0)
    with pytest.raises(Conflict):  # filled: nothing more goes to it
        await world.work(lambda r: stock.receive(r, "P-2002", "WH-SH", 1, None, plan.plan_no))
