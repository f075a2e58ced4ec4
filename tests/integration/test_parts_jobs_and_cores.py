"""Issue to the technician, consumption confirmed by the job's completion, return of unused
parts; old parts expected back, checked on receipt, reported overdue once; suppliers' 5 days
to collect; the reconciliation report. Balances equal the ledger after every scenario."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from services.parts.app import DEFINITION as PARTS
from services.parts.commands import cores, emergencies, reservations, stock
from services.parts.commands.errors import Conflict
from services.parts.commands.reports import reconciliation, reorder_advice
from services.parts.db.models import (
    CoreReceiptRow,
    EmergencyRow,
    ExpectedReturnRow,
    SupplierCollectionRow,
)
from services.parts.events.handlers import (
    on_job_completed,
    on_job_on_site,
    on_parts_requested,
    on_request_cancelled,
    on_return_repaired,
    on_supplier_recovery_issued,
    on_supplier_recovery_withdrawn,
)
from shared.events.schemas.claims import SupplierRecoveryIssuedV1, SupplierRecoveryWithdrawnV1
from shared.events.schemas.dispatch import JobCompletedV1, JobOnSiteV1, RemovedPartV1, UsedPartV1
from shared.events.schemas.intake import RequestCancelledV1, ReturnPartV1, ReturnRepairedV1
from tests.integration.test_parts_inventory import World, build_basics, make_world, requested
from tests.support.databases import DatabaseFactory

NOW = datetime.now(UTC)


@pytest.fixture
async def world(databases: DatabaseFactory) -> AsyncIterator[World]:
    made = await make_world(await databases.migrated(PARTS.migrations_dir, "parts"))
    await build_basics(made)
    await made.work(lambda r: stock.receive(r, "P-1001", "WH-SH", 5, "DN-1"))
    await made.work(lambda r: stock.receive(r, "P-2002", "WH-SH", 5, "DN-2"))
    yield made
    await made.assert_ledger()
    await made.engine.dispose()


def completed(
    request_no: str,
    used: dict[str, int],
    removed: list[tuple[str, int, list[str]]] = (),  # type: ignore[assignment]
    in_warranty: bool | None = True,
) -> JobCompletedV1:
    return JobCompletedV1(
        request_no=request_no, technician_id="T-1", technician_name="王强",
        service_point_id="SP-SH", region="上海", kind="repair", product_line="pumps",
        product_model="WX-200", serial_no="WX200-1", purchase_date=None,
        in_warranty=in_warranty, dealer_id=None, customer_name="张伟", findings="主控板烧毁",
        work_done="更换主控板", cause="quality_defect", fault_code="E01", result="repaired",
        labour_minutes=60, travel_km=Decimal("12"),
        parts_used=[UsedPartV1(part_no=p, quantity=q, serials=[]) for p, q in used.items()],
        old_parts_removed=[RemovedPartV1(part_no=p, quantity=q, serials=s) for p, q, s in removed],
        repeat_repair=False, arrived_at=NOW, completed_at=NOW, signed_by="张伟", signed_at=NOW,
    )  # fmt: skip


async def test_issue_consume_and_return_follow_the_parts_to_the_job_and_back(
    world: World,
) -> None:
    await world.handle(on_parts_requested, requested("SR-1", {"P-1001": 1, "P-2002": 3}))
    reservation, _ = await world.reservation("SR-1")
    issued = await world.work(lambda r: reservations.issue(r, reservation.reservation_id, None))
    assert [(x.part_no, x.quantity) for x in issued] == [("P-1001", 1), ("P-2002", 3)]
    assert await world.stock("P-2002", "WH-SH") == (2, 0)
    with pytest.raises(Conflict):  # nothing left to issue
        await world.work(lambda r: reservations.issue(r, reservation.reservation_id, None))
    # Only 2 seals were fitted; the third comes back.
    await world.handle(on_job_completed, completed("SR-1", {"P-1001": 1, "P-2002": 2}))
    consumed = (await world.events("parts.consumed"))[0]
    assert [(x["part_no"], x["quantity"], x["warehouse_id"]) for x in consumed["lines"]] == [
        ("P-1001", 1, "WH-SH"), ("P-2002", 2, "WH-SH"),
    ]  # fmt: skip
    assert Decimal(consumed["lines"][0]["unit_cost"]) == Decimal("180.00")
    assert consumed["lines"][0]["supplier_id"] == "S-01"
    with pytest.raises(Conflict):
        await world.work(lambda r: reservations.return_unused(r, "SR-1", "P-2002", 2, None))
    with pytest.raises(Conflict):  # another technician's parts
        await world.work(lambda r: reservations.return_unused(r, "SR-1", "P-2002", 1, "T-9"))
    await world.work(lambda r: reservations.return_unused(r, "SR-1", "P-2002", 1, "T-1"))
    assert await world.stock("P-2002", "WH-SH") == (3, 0)
    issued_events = await world.events("parts.issued")
    assert issued_events[0]["technician_id"] == "T-1"


async def test_completion_consumes_reserved_parts_never_issued_and_releases_the_rest(
    world: World,
) -> None:
    await world.handle(on_parts_requested, requested("SR-2", {"P-1001": 2}))
    await world.handle(on_job_completed, completed("SR-2", {"P-1001": 1, "P-2002": 1}))
    assert await world.stock("P-1001", "WH-SH") == (4, 0)  # 1 fitted, 1 released
    assert await world.stock("P-2002", "WH-SH") == (4, 0)  # taken from the shelf
    released = await world.events("parts.reservation.released")
    assert [(e["reason"], e["lines"][0]["quantity"]) for e in released] == [("returned", 1)]
    # The same completion again (a redelivery under another id) changes nothing.
    await world.handle(on_job_completed, completed("SR-2", {"P-1001": 1, "P-2002": 1}))
    assert len(await world.events("parts.consumed")) == 1


async def test_old_parts_under_warranty_are_expected_checked_and_reported_overdue_once(
    world: World,
) -> None:
    removed = [("P-1001", 1, ["OP-1"]), ("P-2002", 1, [])]  # the seal needs no return
    await world.handle(on_job_completed, completed("SR-3", {}, removed))
    await world.handle(on_job_completed, completed("SR-4", {}, [("P-1001", 2, ["A", "B"])]))
    await world.handle(
        on_job_completed, completed("SR-5", {}, [("P-1001", 1, [])], in_warranty=False)
    )
    async with world.sessions() as session:
        expected = (
            (await session.execute(select(ExpectedReturnRow).order_by(ExpectedReturnRow.id)))
            .scalars()
            .all()
        )
    assert [(e.request_no, e.part_no) for e in expected] == [("SR-3", "P-1001"), ("SR-4", "P-1001")]
    assert abs((expected[0].due_at - expected[0].created_at) - timedelta(days=15)) < timedelta(
        seconds=1
    )
    good = await world.work(lambda r: cores.receive_core(r, "SR-3", "P-1001", 1, ["OP-1"]))
    assert good.matched
    bad = await world.work(lambda r: cores.receive_core(r, "SR-4", "P-1001", 1, ["A", "Z"]))
    assert bad.mismatches == [
        "quantity 1 received, 2 expected",
        "serial Z was not reported by the job",
        "serial B reported by the job is missing",
    ]
    assert await world.stock("P-1001", "WH-OLD") == (2, 0)
    received = await world.events("parts.core.received")
    assert [(e["request_no"], e["matched"]) for e in received] == [("SR-3", True), ("SR-4", False)]
    # SR-4 still owes one part: overdue after 15 days, reported once.
    assert await world.work(cores.report_overdue, expected[1].created_at + timedelta(days=14)) == 0
    assert (
        await world.work(
            cores.report_overdue, expected[1].created_at + timedelta(days=15, minutes=1)
        )
        == 1
    )
    assert await world.work(cores.report_overdue, expected[1].created_at + timedelta(days=16)) == 0
    overdue = await world.events("parts.core.overdue")
    assert [(e["request_no"], e["quantity_expected"], e["quantity_received"]) for e in overdue] == [
        ("SR-4", 2, 1)
    ]


def recovery(no: str, request_no: str) -> SupplierRecoveryIssuedV1:
    return SupplierRecoveryIssuedV1(
        recovery_no=no, supplier_id="S-01", claim_no="WC-2026-000001", request_no=request_no,
        part_nos=["P-1001"], material=Decimal("180"), labour=Decimal("100"), travel=Decimal("0"),
        other=Decimal("0"), assessment=Decimal("500"), total=Decimal("780"), currency="CNY",
        dispute_deadline=NOW.date(), issued_at=NOW,
    )  # fmt: skip


async def test_a_supplier_has_5_days_to_collect_then_the_parts_are_disposed_at_its_cost(
    world: World,
) -> None:
    for request_no in ("SR-6", "SR-7"):
        await world.handle(on_job_completed, completed(request_no, {}, [("P-1001", 1, [])]))
        await world.work(lambda r, n=request_no: cores.receive_core(r, n, "P-1001", 1, []))
    await world.handle(on_supplier_recovery_issued, recovery("SR-REC-1", "SR-6"))
    await world.handle(on_supplier_recovery_issued, recovery("SR-REC-1", "SR-6"))  # once
    await world.handle(on_supplier_recovery_issued, recovery("SR-REC-2", "SR-7"))
    async with world.sessions() as session:
        collections = (
            (
                await session.execute(
                    select(SupplierCollectionRow).order_by(SupplierCollectionRow.collection_no)
                )
            )
            .scalars()
            .all()
        )
    assert len(collections) == 2
    first, second = collections
    start = second.notified_at
    assert second.due_at - start == timedelta(days=5)
    # The first supplier collects in time; the second does not.
    await world.work(
        lambda r: cores.mark_collected(r, first.collection_no), start + timedelta(days=2)
    )
    cost = Decimal("50.00")
    assert (
        await world.work(
            lambda r: cores.dispose_uncollected(r, cost), start + timedelta(days=4, hours=23)
        )
        == 0
    )
    assert (
        await world.work(
            lambda r: cores.dispose_uncollected(r, cost), start + timedelta(days=5, seconds=1)
        )
        == 1
    )
    assert (
        await world.work(lambda r: cores.dispose_uncollected(r, cost), start + timedelta(days=9))
        == 0
    )
    charged = await world.events("parts.supplier_disposal.charged")
    assert len(charged) == 1
    assert charged[0]["supplier_id"] == "S-01" and Decimal(charged[0]["amount"]) == Decimal("50.00")
    assert charged[0]["lines"] == [{"part_no": "P-1001", "quantity": 1}]
    assert await world.stock("P-1001", "WH-OLD") == (0, 0)
    with pytest.raises(Conflict):
        await world.work(lambda r: cores.mark_collected(r, second.collection_no))


async def test_an_approved_emergency_jumps_the_backorder_queue_and_its_shipment_is_announced(
    world: World,
) -> None:
    # SR-Q holds all 5 and its technician is on site; SR-W waits for 2.
    await world.handle(on_parts_requested, requested("SR-Q", {"P-1001": 5}))
    await world.handle(
        on_job_on_site,
        JobOnSiteV1(request_no="SR-Q", technician_id="T-1", arrived_at=NOW,
                    arrival_due_at=None, late=False),
    )  # fmt: skip
    await world.handle(on_parts_requested, requested("SR-W", {"P-1001": 2}))
    made = await world.work(
        lambda r: emergencies.request_emergency(r, "SR-EM", "SP-SH", {"P-1001": 2}, "产线停机"),
        actor="wh-1",
    )
    with pytest.raises(Conflict):  # not approved yet
        await world.work(lambda r: emergencies.ship(r, made.emergency_no, "顺丰", "SF1"))
    approved = await world.work(
        lambda r: emergencies.decide(r, made.emergency_no, True, timedelta(hours=72)),
        actor="mgr-1",
    )
    assert approved.status == "approved"
    # Nothing free, and a job in progress keeps its parts: the emergency waits, first in line.
    await world.work(lambda r: stock.receive(r, "P-1001", "WH-C", 1, "DN-9"))
    emergency_reservation, lines = await world.reservation("SR-EM")
    assert emergency_reservation.status == "backordered" and lines[0].reserved == 1
    with pytest.raises(Conflict):  # still waits for one
        await world.work(lambda r: emergencies.ship(r, made.emergency_no, "顺丰", "SF1"))
    await world.work(lambda r: stock.receive(r, "P-1001", "WH-SH", 3, "DN-10"))
    assert (await world.reservation("SR-EM"))[0].status == "confirmed"
    waiting, waiting_lines = await world.reservation("SR-W")
    assert waiting.status == "confirmed" and waiting_lines[0].reserved == 2
    # A second emergency takes from SR-W (not started) rather than wait.
    second = await world.work(
        lambda r: emergencies.request_emergency(r, "SR-EM3", "SP-SH", {"P-1001": 1}, "停机")
    )
    await world.work(lambda r: emergencies.decide(r, second.emergency_no, True, timedelta(72)))
    assert (await world.reservation("SR-EM3"))[0].status == "confirmed"
    waiting, waiting_lines = await world.reservation("SR-W")
    assert waiting.status == "backordered"
    assert (waiting_lines[0].reserved, waiting_lines[0].backordered) == (1, 1)
    taken = [
        e for e in await world.events("parts.reservation.released") if e["reason"] == "emergency"
    ]
    assert [(e["request_no"], e["lines"][0]["quantity"]) for e in taken] == [("SR-W", 1)]
    assert (await world.reservation("SR-Q"))[1][0].reserved == 5
    shipped = await world.work(lambda r: emergencies.ship(r, made.emergency_no, "顺丰", "SF1"))
    assert shipped.status == "shipped"
    event = (await world.events("parts.emergency.shipped"))[0]
    assert (event["carrier"], event["tracking_no"], event["approved_by"]) == (
        "顺丰",
        "SF1",
        "mgr-1",
    )
    assert event["warehouse_id"] == "WH-SH" and event["lines"] == [
        {"part_no": "P-1001", "quantity": 2}
    ]
    with pytest.raises(Conflict):
        await world.work(lambda r: emergencies.decide(r, made.emergency_no, False, timedelta(1)))
    # A cancelled job's emergency that was not shipped yet is cancelled with it.
    other = await world.work(
        lambda r: emergencies.request_emergency(r, "SR-EM2", "SP-SH", {"P-2002": 1}, "停机")
    )
    await world.handle(
        on_request_cancelled,
        RequestCancelledV1(request_no="SR-EM2", reason="customer", cancelled_at=NOW),
    )
    async with world.sessions() as session:
        cancelled = await session.get(EmergencyRow, other.emergency_no)
        assert cancelled is not None and cancelled.status == "cancelled"


async def test_reconciliation_shows_issued_consumed_returned_and_still_out(world: World) -> None:
    # The period is the day up to now (taken here: NOW was taken at import, maybe long ago).
    since = datetime.now(UTC) - timedelta(days=1)
    await world.handle(on_parts_requested, requested("SR-8", {"P-2002": 3}))
    await world.handle(on_parts_requested, requested("SR-9", {"P-2002": 2}))
    # Issued and returned now (not at T0), inside the report's period whatever the day.
    for request_no in ("SR-8", "SR-9"):
        reservation, _ = await world.reservation(request_no)
        await world.work(
            lambda r, x=reservation.reservation_id: reservations.issue(r, x, "T-1"),
            datetime.now(UTC),
        )
    await world.handle(on_job_completed, completed("SR-8", {"P-2002": 1}))
    await world.work(
        lambda r: reservations.return_unused(r, "SR-8", "P-2002", 1, None), datetime.now(UTC)
    )
    async with world.sessions() as session:
        report = await reconciliation(
            session, "WH-SH", since, datetime.now(UTC) + timedelta(seconds=1)
        )
        old = await reconciliation(session, "WH-SH", since - timedelta(days=400), since)
    assert [(p.part_no, p.issued, p.consumed, p.returned, p.still_out) for p in report.parts] == [
        ("P-2002", 5, 1, 1, 3)
    ]
    assert old.parts == []
    async with world.sessions() as session:
        advice = await reorder_advice(
            session, "WH-SH", since, datetime.now(UTC) + timedelta(seconds=1),
            lead_days=7, cover_days=30,
        )  # fmt: skip
    # One seal used in a day: 14 as the reorder point, 30 to order; the board unused.
    assert [(a.part_no, a.consumed, a.reorder_point, a.reorder_quantity) for a in advice] == [
        ("P-1001", 0, 0, 1), ("P-2002", 1, 14, 30),
    ]  # fmt: skip


async def test_the_monitor_expires_reports_and_counts_in_one_pass(world: World) -> None:
    from prometheus_client import REGISTRY

    from services.parts.commands.monitor import count_gauges, run_due_work

    await world.work(lambda r: stock.set_reorder_point(r, "P-2002", "WH-SH", 5, 10))
    await world.handle(on_parts_requested, requested("SR-M", {"P-1001": 6}))  # 5 held, 1 waits
    await world.handle(on_parts_requested, requested("SR-L", {"P-2002": 1}))  # all there
    await world.handle(on_job_completed, completed("SR-N", {}, [("P-1001", 1, [])]))
    later = datetime.now(UTC) + timedelta(days=16)
    done = await run_due_work(world.uow(), later, Decimal("50.00"))
    # The one waiting for stock does not expire; its hold starts once it is filled.
    assert done == {"expired": 1, "overdue": 1, "disposed": 0}
    assert (await world.reservation("SR-L"))[0].close_reason == "expired"
    assert (await world.reservation("SR-M"))[0].status == "backordered"
    await count_gauges(world.uow(), later)

    def gauge(name: str, **labels: str) -> float | None:
        return REGISTRY.get_sample_value(name, labels)

    assert gauge("aftersales_parts_below_reorder_point") == 1  # P-2002 at WH-SH: 5 <= 5
    assert gauge("aftersales_parts_reservations", state="closed") == 1
    assert gauge("aftersales_parts_reservations", state="backordered") == 1
    assert gauge("aftersales_parts_backordered_units", priority="ordinary") == 1
    assert gauge("aftersales_parts_cores_overdue") == 1


async def test_a_technician_fits_parts_from_their_own_van_before_the_centres_shelf(
    world: World,
) -> None:
    from services.parts.commands.catalogue import put_warehouse
    from services.parts.domain.stock import WarehouseKind

    async with world.uow() as uow:
        await put_warehouse(uow, "VAN-T1", WarehouseKind.VAN, "王强的车", None, "T-1")
        for refused in (
            ("VAN-X", WarehouseKind.VAN, "无主", None, None),  # a van names its technician
            ("VAN-T1B", WarehouseKind.VAN, "第二辆", None, "T-1"),  # one van per technician
            ("WH-Y", WarehouseKind.CENTRAL, "中央", None, "T-2"),  # only a van has one
        ):
            with pytest.raises(Conflict):
                await put_warehouse(uow, *refused)
        await uow.commit()
    await world.work(lambda r: stock.transfer(r, "P-2002", "WH-SH", "VAN-T1", 2, "van fill"))
    # SR-V0 holds 2 of the centre's 3 seals and waits for 4 boards: stock put in a van
    # is its technician's own and serves no queue.
    await world.handle(on_parts_requested, requested("SR-V0", {"P-2002": 2, "P-1001": 9}))
    assert await world.work(lambda r: stock.receive(r, "P-1001", "VAN-T1", 1, "DN-V")) == 0
    assert await world.stock("P-1001", "VAN-T1") == (1, 0)
    # T-1 fits three seals nobody reserved for the job: two from the van, then the centre's
    # last free one from its shelf.
    await world.handle(on_job_completed, completed("SR-V", {"P-2002": 3}))
    assert await world.stock("P-2002", "VAN-T1") == (0, 0)
    assert await world.stock("P-2002", "WH-SH") == (2, 2)
    consumed = (await world.events("parts.consumed"))[0]
    assert [(x["warehouse_id"], x["quantity"]) for x in consumed["lines"]] == [
        ("VAN-T1", 2), ("WH-SH", 1),
    ]  # fmt: skip


async def test_a_dealers_warranty_work_expects_its_old_parts_back_too(world: World) -> None:
    from services.parts.events.handlers import on_dealer_work_reported
    from shared.events.schemas.intake import DealerWorkReportedV1, ReplacedPartV1

    def reported(request_no: str, cause: str, serials: list[str | None]) -> DealerWorkReportedV1:
        return DealerWorkReportedV1(
            request_no=request_no, dealer_id="D-1", dealer_report_no="DR-1",
            product_model="WX-200", product_line="pumps", serial_no="WX200-9",
            purchase_date=None, in_warranty=True, warranty_expires_on=None,
            fault_description="不启动", fault_code=None, fault_occurred_at=None,
            completed_at=NOW, technician_name=None, labour_hours=Decimal("1"),
            travel_km=Decimal("0"), cause=cause,
            parts_replaced=[ReplacedPartV1(part_no="P-1001", quantity=1, old_part_serial=s)
                            for s in serials],
        )  # fmt: skip

    await world.handle(on_dealer_work_reported, reported("SR-D1", "quality_defect", ["A", "B"]))
    await world.handle(on_dealer_work_reported, reported("SR-D1", "quality_defect", ["A", "B"]))
    await world.handle(on_dealer_work_reported, reported("SR-D2", "misuse", [None]))
    async with world.sessions() as session:
        expected = (await session.execute(select(ExpectedReturnRow))).scalars().all()
    assert [(e.request_no, e.quantity_expected, e.serials_expected) for e in expected] == [
        ("SR-D1", 2, ["A", "B"])
    ]
    good = await world.work(lambda r: cores.receive_core(r, "SR-D1", "P-1001", 2, ["B", "A"]))
    assert good.matched


def withdrawn(no: str, request_no: str) -> SupplierRecoveryWithdrawnV1:
    return SupplierRecoveryWithdrawnV1(
        recovery_no=no, supplier_id="S-01", claim_no="WC-2026-000001", request_no=request_no,
        part_nos=["P-1001"], reason="供应商申诉成立", was_final=False, withdrawn_at=NOW,
    )  # fmt: skip


async def test_a_withdrawn_recovery_closes_the_collection_notice_and_keeps_the_old_part(
    world: World,
) -> None:
    await world.handle(on_job_completed, completed("SR-W1", {}, [("P-1001", 1, [])]))
    await world.work(lambda r: cores.receive_core(r, "SR-W1", "P-1001", 1, []))
    await world.handle(on_supplier_recovery_issued, recovery("SR-REC-W1", "SR-W1"))
    await world.handle(on_supplier_recovery_withdrawn, withdrawn("SR-REC-W1", "SR-W1"))
    await world.handle(on_supplier_recovery_withdrawn, withdrawn("SR-REC-W1", "SR-W1"))  # replay
    # Heard out of order: the withdrawal first, then the notice it cancels.
    await world.handle(on_supplier_recovery_withdrawn, withdrawn("SR-REC-W2", "SR-W2"))
    await world.handle(on_supplier_recovery_issued, recovery("SR-REC-W2", "SR-W2"))
    async with world.sessions() as session:
        collections = (
            await session.execute(
                select(SupplierCollectionRow).order_by(SupplierCollectionRow.recovery_no)
            )
        ).scalars().all()  # fmt: skip
    assert [(c.recovery_no, c.status) for c in collections] == [
        ("SR-REC-W1", "withdrawn"), ("SR-REC-W2", "withdrawn"),
    ]  # fmt: skip
    assert all(c.closed_at is not None for c in collections)
    # Nothing to collect or dispose of: the old part stays in the old-parts store.
    assert (
        await world.work(
            lambda r: cores.dispose_uncollected(r, Decimal("50")), NOW + timedelta(days=9)
        )
        == 0
    )
    assert await world.events("parts.supplier_disposal.charged") == []
    assert await world.stock("P-1001", "WH-OLD") == (1, 0)
    with pytest.raises(Conflict):
        await world.work(lambda r: cores.mark_collected(r, collections[0].collection_no))


async def test_a_workshop_repair_of_a_unit_sent_in_expects_its_old_parts(world: World) -> None:
    def repaired(request_no: str, cause: str) -> ReturnRepairedV1:
        return ReturnRepairedV1(
            request_no=request_no, return_no="RR-2026-000001", product_model="WX-200",
            serial_no="WX200-5", in_warranty=True, cause=cause, fault_code="E31",
            labour_hours=Decimal("1.5"), repaired_by="ws", repaired_at=NOW,
            parts_replaced=[ReturnPartV1(part_no="P-1001", quantity=1, old_part_serial="OLD-7")],
        )  # fmt: skip

    await world.handle(on_return_repaired, repaired("SR-R1", "quality_defect"))
    await world.handle(on_return_repaired, repaired("SR-R1", "quality_defect"))  # replayed
    await world.handle(on_return_repaired, repaired("SR-R2", "misuse"))
    async with world.sessions() as session:
        expected = (await session.execute(select(ExpectedReturnRow))).scalars().all()
    assert [(e.request_no, e.quantity_expected, e.serials_expected) for e in expected] == [
        ("SR-R1", 1, ["OLD-7"])
    ]
    handed_in = await world.work(lambda r: cores.receive_core(r, "SR-R1", "P-1001", 1, ["OLD-7"]))
    assert handed_in.matched
    [received] = await world.events("parts.core.received")
    assert (received["request_no"], received["matched"]) == ("SR-R1", True)


async def test_an_old_part_handed_in_before_the_job_was_heard_of_is_matched_when_it_is(
    world: World,
) -> None:
    early = await world.work(lambda r: cores.receive_core(r, "SR-E1", "P-1001", 1, ["OLD-E"]))
    assert not early.matched and "no old part P-1001 is expected" in early.mismatches[0]
    await world.handle(on_job_completed, completed("SR-E1", {}, [("P-1001", 1, ["OLD-E"])]))
    await world.handle(on_job_completed, completed("SR-E1", {}, [("P-1001", 1, ["OLD-E"])]))
    async with world.sessions() as session:
        [expected] = (await session.execute(select(ExpectedReturnRow))).scalars().all()
        [receipt] = (await session.execute(select(CoreReceiptRow))).scalars().all()
    assert (expected.status, expected.quantity_received, expected.serials_received) == (
        "received", 1, ["OLD-E"],
    )  # fmt: skip
    assert (receipt.matched, receipt.mismatches) == (True, [])
    # Claims hears the mismatch, then the match (once, although the job was replayed).
    told = await world.events("parts.core.received")
    assert [(e["request_no"], e["matched"]) for e in told] == [("SR-E1", False), ("SR-E1", True)]
    # Nothing is overdue: the part is back.
    assert await world.work(cores.report_overdue, NOW + timedelta(days=30)) == 0
    assert await world.stock("P-1001", "WH-OLD") == (1, 0)
