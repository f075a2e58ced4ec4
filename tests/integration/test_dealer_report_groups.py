"""Dealer reports arriving together are registered together (one transaction, one lock of
the number counter), each still answered, numbered and published as if alone."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.intake.app import DEFINITION as INTAKE
from services.intake.commands.dealer_report_queue import DealerReportQueue
from services.intake.commands.dealers import (
    DealerAnswer,
    DealerReport,
    IdempotencyKey,
    submit_dealer_reports,
)
from services.intake.commands.errors import Conflict
from services.intake.commands.registration import RegisterRequest
from services.intake.db.models import CustomerRow, ProductModelRow, ServiceRequestRow, UnitRow
from services.intake.domain.service_request import Channel, Customer, CustomerAsks, Severity
from services.intake.domain.triage import TriageRules, parse_channels
from shared.db.engine import create_engine, create_session_factory
from shared.db.messaging_tables import outbox
from shared.db.unit_of_work import UnitOfWork
from tests.support.databases import DatabaseFactory, migrated_on
from tests.support.metrics import sample

TRIAGE = TriageRules(channels=parse_channels("dealer"))
DAY = timedelta(hours=24)


def _answer(request: Any) -> dict[str, Any]:
    return {
        "request_no": request.request_no,
        "dealer_report_no": request.dealer_report_no,
        "purchase_date": request.purchase_date and request.purchase_date.isoformat(),
        "in_warranty": request.in_warranty,
        "customer_id": request.customer_id,
    }


def report(
    n: int,
    key: str | None = None,
    report_no: str | None = None,
    serial_no: str | None = None,
    phone: str | None = None,
    dealer_id: str = "D0001",
) -> DealerReport:
    return DealerReport(
        key=IdempotencyKey(dealer_id, key or f"key-{n}", f"body-{n}", DAY),
        command=RegisterRequest(
            channel=Channel.DEALER,
            customer=Customer(name=f"客户{n}", phone=phone or f"1390000{n:04d}", region="上海"),
            product_model="WX-200",
            serial_no=serial_no or f"WX200-G{n}",
            fault_description="不制冷",
            customer_asks=CustomerAsks.REPAIR,
            severity=Severity.ORDINARY,
            dealer_id=dealer_id,
            dealer_report_no=report_no or f"R-{n}",
            actor=f"dealer:{dealer_id}",
        ),
        correlation_id=f"corr-{n}-{uuid.uuid4().hex[:6]}",
    )


@dataclass
class Intake:
    sessions: async_sessionmaker[AsyncSession]

    def unit_of_work(self) -> UnitOfWork:
        return UnitOfWork(self.sessions)

    async def submit(self, reports: list[DealerReport]) -> list[DealerAnswer | Conflict]:
        return await submit_dealer_reports(self.unit_of_work, reports, _answer, 12, TRIAGE)

    async def scalar(self, statement: Any) -> Any:
        async with self.sessions() as session:
            return (await session.execute(statement)).scalar_one()

    async def numbers(self) -> list[str]:
        async with self.sessions() as session:
            found = await session.execute(
                select(ServiceRequestRow.request_no).order_by(ServiceRequestRow.request_no)
            )
            return list(found.scalars())


@pytest.fixture(params=["postgresql", "sqlite"])
async def intake_url(
    request: pytest.FixtureRequest, databases: DatabaseFactory, tmp_path: Path
) -> str:
    return await migrated_on(request.param, INTAKE, databases, tmp_path)


@pytest.fixture
async def intake(intake_url: str) -> AsyncIterator[Intake]:
    engine = create_engine(intake_url)
    sessions = create_session_factory(engine)
    async with sessions() as session:
        # A known model, so that the rules triage the reports (and dispatch would get them).
        session.add(
            ProductModelRow(model="WX-200", name="水泵", product_line="pumps", warranty_months=12)
        )
        await session.commit()
    try:
        yield Intake(sessions)
    finally:
        await engine.dispose()


def _created(outcome: DealerAnswer | Conflict) -> DealerAnswer:
    assert isinstance(outcome, DealerAnswer), outcome
    assert outcome.status_code == 201 and not outcome.replayed
    return outcome


def _sequence(request_no: str) -> int:
    return int(request_no.rsplit("-", 1)[1])


async def test_a_group_numbers_its_reports_in_arrival_order_each_with_its_own_events(
    intake: Intake,
) -> None:
    # Reports of one unit and one customer among them: registered once each, in one group.
    reports = [report(n, serial_no="WX200-SAME" if n % 3 == 0 else None) for n in range(12)]
    for n in (5, 7):
        same_person = Customer("王芳", "13911112222", region="北京")
        reports[n] = replace(reports[n], command=replace(reports[n].command, customer=same_person))

    outcomes = await intake.submit(reports)

    numbers = [_created(outcome).body["request_no"] for outcome in outcomes]
    assert [_sequence(n) for n in numbers] == list(range(1, 13))
    assert [o.body["dealer_report_no"] for o in outcomes] == [f"R-{n}" for n in range(12)]  # type: ignore[union-attr]
    assert await intake.scalar(select(func.count()).select_from(UnitRow)) == 9
    assert await intake.scalar(select(func.count()).select_from(CustomerRow)) == 11
    async with intake.sessions() as session:
        rows = (await session.execute(select(outbox.c.envelope, outbox.c.correlation_id))).all()
    # Every event carries the correlation of the HTTP request that brought its report.
    correlation_of = {r.command.dealer_report_no: r.correlation_id for r in reports}
    request_of = dict(zip(numbers, (r.command.dealer_report_no for r in reports), strict=True))
    kinds: dict[str, set[str]] = {}
    for envelope_json, correlation_id in rows:
        envelope = json.loads(envelope_json)
        request_no = envelope["data"]["request_no"]
        assert correlation_id == envelope["correlation_id"]
        assert correlation_id == correlation_of[request_of[request_no]]
        kinds.setdefault(request_no, set()).add(envelope["type"])
    assert kinds == {n: {"intake.request.registered", "intake.request.triaged"} for n in numbers}


async def test_a_repeat_and_a_reused_report_number_in_the_group_are_answered_as_alone(
    intake: Intake,
) -> None:
    first = report(1)
    repeat = report(1)  # the same key and body, sent again before the first was answered
    reused = report(2, report_no="R-1")  # another key, the first one's report number
    other = report(3)

    outcomes = await intake.submit([first, repeat, reused, other])

    created = _created(outcomes[0])
    assert isinstance(outcomes[1], DealerAnswer) and outcomes[1].replayed
    assert outcomes[1].body == created.body
    assert isinstance(outcomes[2], Conflict) and "R-1" in str(outcomes[2])
    assert _sequence(_created(outcomes[3]).body["request_no"]) == 2
    assert [_sequence(n) for n in await intake.numbers()] == [1, 2]


async def test_a_number_taken_before_fails_the_group_and_the_others_still_get_theirs(
    intake: Intake,
) -> None:
    (earlier,) = await intake.submit([report(0, report_no="R-TAKEN")])
    _created(earlier)
    group = [report(n) for n in range(1, 6)]
    group[2] = report(3, report_no="R-TAKEN")  # under a new key: claimed, then the insert fails

    outcomes = await intake.submit(group)

    assert isinstance(outcomes[2], Conflict)
    created = [_sequence(_created(o).body["request_no"]) for i, o in enumerate(outcomes) if i != 2]
    assert created == [2, 3, 4, 5]  # no number lost to the failed group
    assert [_sequence(n) for n in await intake.numbers()] == [1, 2, 3, 4, 5]
    # The refused report's key was not kept: the dealer can send it corrected under it.
    fixed = replace(group[2], command=replace(group[2].command, dealer_report_no="R-3"))
    (again,) = await intake.submit([fixed])
    assert _sequence(_created(again).body["request_no"]) == 6


async def test_two_instances_taking_reports_at_once_give_consecutive_numbers(
    intake_url: str,
) -> None:
    engines = [create_engine(intake_url), create_engine(intake_url)]
    groups_before = sample("aftersales_intake_dealer_report_group_size_count")
    reports_before = sample("aftersales_intake_dealer_report_group_size_sum")
    try:
        queues = [
            DealerReportQueue(
                Intake(create_session_factory(engine)).unit_of_work, _answer, 12, TRIAGE, 16, 3
            )
            for engine in engines
        ]
        # Units and customers shared across the instances, so their groups lock the same rows.
        reports = [
            report(n, serial_no=f"WX200-S{n % 7}", phone=f"1380000{n % 5:04d}") for n in range(80)
        ]
        outcomes = await asyncio.gather(*(queues[n % 2].submit(r) for n, r in enumerate(reports)))
    finally:
        for engine in engines:
            await engine.dispose()
    numbers = sorted(_sequence(o.body["request_no"]) for o in outcomes)
    assert numbers == list(range(1, 81))
    groups = sample("aftersales_intake_dealer_report_group_size_count") - groups_before
    registered = sample("aftersales_intake_dealer_report_group_size_sum") - reports_before
    assert registered == 80
    assert groups < 80  # they were registered in groups, not one by one


async def test_a_dealer_who_hangs_up_still_has_the_report_registered(
    databases: DatabaseFactory,
) -> None:
    url = await databases.migrated(INTAKE.migrations_dir, "intake")
    engine = create_engine(url)
    intake = Intake(create_session_factory(engine))
    queue = DealerReportQueue(intake.unit_of_work, _answer, 12, TRIAGE, 16, 3)
    (first,) = await intake.submit([report(0)])  # the year's counter row exists from now on
    _created(first)
    holder = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"))
    try:
        # Hold the year's number so the report's registration waits in its transaction.
        holder_transaction = holder.transaction()
        await holder_transaction.start()
        await holder.execute("SELECT * FROM request_number_counters FOR UPDATE")
        caller = asyncio.create_task(queue.submit(report(1)))
        await _until_waiting_on_a_lock(holder)
        caller.cancel()
        with pytest.raises(asyncio.CancelledError):
            await caller
        await holder_transaction.rollback()
        for _ in range(100):
            if len(await intake.numbers()) == 2:
                break
            await asyncio.sleep(0.05)
        assert [_sequence(n) for n in await intake.numbers()] == [1, 2]
        async with intake.sessions() as session:
            stored = await session.execute(
                text("SELECT status_code FROM dealer_idempotency_keys WHERE key = 'key-1'")
            )
            assert stored.scalar_one() == 201
    finally:
        await holder.close()
        await engine.dispose()


async def _until_waiting_on_a_lock(connection: asyncpg.Connection) -> None:
    for _ in range(200):
        waiting = await connection.fetchval(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        if waiting:
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the registration never waited for the number")


def _told(n: int, serial_no: str, bought: date | None, customer: Customer) -> DealerReport:
    base = report(n, serial_no=serial_no)
    command = replace(base.command, purchase_date=bought, customer=customer)
    return replace(base, command=command)


async def test_a_group_leaves_units_and_customers_as_one_report_after_another_would(
    databases: DatabaseFactory, tmp_path: Path
) -> None:
    """The same reports, registered as one group and one by one, leave the same rows and get
    the same answers, also when a unit or a person comes up twice in the group."""
    old_friend = Customer("李娜", "13700000001", address="旧地址", region="上海")
    seventh = Customer("周七", "13700000002")
    lat, lon = Decimal("23.1"), Decimal("113.2")
    earlier = [
        _told(0, "WX200-KNOWN", None, old_friend),
        _told(1, "WX200-DATED", date(2026, 1, 5), Customer("赵六", "13700000009")),
    ]
    group = [
        _told(2, "WX200-NEW", None, seventh),
        _told(3, "WX200-NEW", date(2026, 2, 1), replace(seventh, region="广州")),
        _told(4, "WX200-KNOWN", date(2026, 3, 1), replace(old_friend, address="新地址")),
        _told(5, "WX200-DATED", date(2025, 1, 1), replace(old_friend, address=None)),
        _told(6, "WX200-OTHER", date(2026, 4, 1), replace(seventh, latitude=lat, longitude=lon)),
    ]  # fmt: skip

    async def registered(url: str, one_by_one: bool) -> tuple[list[Any], list[Any], list[Any]]:
        engine = create_engine(url)
        intake = Intake(create_session_factory(engine))
        try:
            for r in earlier:
                await intake.submit([r])
            if one_by_one:
                answers = [(await intake.submit([r]))[0] for r in group]
            else:
                answers = await intake.submit(group)
            async with intake.sessions() as session:
                units = (
                    await session.execute(
                        select(UnitRow.serial_no, UnitRow.purchase_date).order_by(UnitRow.serial_no)
                    )
                ).all()
                people = (
                    await session.execute(
                        select(
                            CustomerRow.id,
                            CustomerRow.name,
                            CustomerRow.phone,
                            CustomerRow.address,
                            CustomerRow.region,
                            CustomerRow.latitude,
                            CustomerRow.longitude,
                        ).order_by(CustomerRow.id)
                    )
                ).all()
            return [_created(a).body for a in answers], units, people
        finally:
            await engine.dispose()

    together = await registered(await databases.migrated(INTAKE.migrations_dir, "intake"), False)
    alone = await registered(await databases.migrated(INTAKE.migrations_dir, "intake"), True)
    assert together == alone
    bodies, units, people = together
    assert dict(units)["WX200-NEW"] == date(2026, 2, 1)  # the first report had no date
    assert dict(units)["WX200-DATED"] == date(2026, 1, 5)  # a known date stays
    dates = [b["purchase_date"] for b in bodies]
    assert dates == [None, "2026-02-01", "2026-03-01", "2026-01-05", "2026-04-01"]
    assert len({b["customer_id"] for b in bodies}) == 2
    by_name = {person.name: person for person in people}
    assert by_name["李娜"].address == "新地址"
    assert (by_name["周七"].region, by_name["周七"].latitude) == ("广州", 23.1)


async def test_a_group_of_repeats_only_gets_the_stored_answers(intake: Intake) -> None:
    first, second = await intake.submit([report(1), report(2)])
    again = await intake.submit([report(2), report(1)])

    assert [(a.status_code, a.replayed) for a in again] == [(201, True), (201, True)]  # type: ignore[union-attr]
    assert [a.body for a in again] == [_created(second).body, _created(first).body]  # type: ignore[union-attr]
    assert [_sequence(n) for n in await intake.numbers()] == [1, 2]
