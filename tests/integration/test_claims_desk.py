"""The claims desk on PostgreSQL without the broker: several instances deciding at once,
supplier recovery disputes and rulings, an adjuster refusing a whole claim."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from services.claims.app import DEFINITION as CLAIMS
from services.claims.commands import adjudication, recovery
from services.claims.commands.desk import Desk
from services.claims.commands.errors import Conflict, Invalid
from services.claims.commands.loops import desk_pass
from services.claims.db.models import RecoveryRow
from services.claims.db.reference import ReferenceData
from services.claims.db.repository import ClaimRepository
from services.claims.domain.claim import ClaimStatus, IllegalTransition
from services.claims.domain.policy import CataloguePart, LabourOperation, Supplier, WarrantyPolicy
from services.claims.events.handlers import on_dealer_work_reported
from services.claims.settings import ClaimsSettings
from shared.db.engine import create_engine, create_session_factory
from shared.db.messaging_tables import outbox
from shared.db.unit_of_work import UnitOfWork
from shared.messaging.outbox import envelope_for
from tests.integration.test_claims_adjudication import NOW, dealer_work
from tests.support.databases import DatabaseFactory, migrated_sqlite

UnitOfWorkFactory = Callable[[], UnitOfWork]
DESK = Desk.from_settings(ClaimsSettings(close_months_automatically=False))


@asynccontextmanager
async def claims_database(
    databases: DatabaseFactory, sqlite_in: Path | None = None
) -> AsyncIterator[UnitOfWorkFactory]:
    url = (
        await migrated_sqlite(CLAIMS, sqlite_in)
        if sqlite_in is not None
        else await databases.migrated(CLAIMS.migrations_dir, "claims")
    )
    engine = create_engine(url)
    sessions = create_session_factory(engine)
    try:
        uow = UnitOfWork(sessions)
        async with uow:
            reference = ReferenceData(uow.session)
            await reference.add_policy(
                WarrantyPolicy("WX-200", NOW.date() - timedelta(days=3000), None, 12)
            )
            await reference.put_operation(
                LabourOperation("PMP-142", "pumps", "motor", Decimal("1.50"), "E42")
            )
            await reference.put_supplier(Supplier("S-01", "华东电机", Decimal("800.00"), 3))
            await reference.catalogue(
                CataloguePart(
                    "P-1001", "motor", Decimal("350.00"), Decimal("1"), "S-01", False, NOW
                )
            )
            await uow.commit()
        yield lambda: UnitOfWork(sessions)
    finally:
        await engine.dispose()


async def report(unit_of_work: UnitOfWorkFactory, request_no: str, **changes: Any) -> None:
    event = dealer_work(request_no, **changes)
    uow = unit_of_work()
    async with uow:
        await on_dealer_work_reported(uow, event, envelope_for(event))
        await uow.commit()


async def events(unit_of_work: UnitOfWorkFactory, event_type: str) -> list[dict[str, Any]]:
    uow = unit_of_work()
    async with uow:
        rows = await uow.session.execute(
            select(outbox.c.envelope).where(outbox.c.event_type == event_type).order_by(outbox.c.id)
        )
        return [json.loads(r)["data"] for r in rows.scalars()]


async def test_instances_deciding_at_once_decide_each_claim_once(
    databases: DatabaseFactory,
) -> None:
    async with claims_database(databases) as unit_of_work:
        for n in range(12):
            await report(unit_of_work, f"SR-2026-5000{n:02d}", serial_no=f"S-{n}")
        await asyncio.gather(*(desk_pass(unit_of_work, DESK) for _ in range(3)))
        submitted = await events(unit_of_work, "claims.claim.submitted")
        assert sorted(e["request_no"] for e in submitted) == [
            f"SR-2026-5000{n:02d}" for n in range(12)
        ]
        decided = await events(unit_of_work, "claims.claim.approved")
        assert len(decided) == 12, [e["request_no"] for e in decided]
        recoveries = await events(unit_of_work, "claims.supplier_recovery.issued")
        numbers = sorted(r["recovery_no"] for r in recoveries)
        # Twelve of one model and fault in a quarter: more than 10, one alert.
        assert len(await events(unit_of_work, "claims.quality_alert.raised")) == 1
        assert numbers == [f"RC-{NOW.year}-{n:06d}" for n in range(1, 13)]


@pytest.mark.parametrize("backend", ["postgresql", "sqlite"])
async def test_a_supplier_disputes_in_its_window_and_a_ruling_decides(
    databases: DatabaseFactory, backend: str, tmp_path: Path
) -> None:
    # SQLite too: the embedded database runs the same desk (no row locks to skip there).
    sqlite_in = tmp_path if backend == "sqlite" else None
    async with claims_database(databases, sqlite_in) as unit_of_work:
        await report(unit_of_work, "SR-2026-600001", serial_no="A")
        await report(unit_of_work, "SR-2026-600002", serial_no="B")
        await desk_pass(unit_of_work, DESK, NOW)
        first, second = await events(unit_of_work, "claims.supplier_recovery.issued")
        # S-01 has its own window of 3 calendar days.
        assert first["dispute_deadline"] == str(NOW.date() + timedelta(days=3))
        assert Decimal(first["total"]) == Decimal("350.00") + Decimal("180.00") + Decimal(
            "30.00"
        ) + Decimal("800.00")

        uow = unit_of_work()
        async with uow:
            await recovery.dispute_recovery(
                uow, first["recovery_no"], "part was fine", NOW + timedelta(days=3)
            )
            await uow.commit()
        uow = unit_of_work()
        async with uow:
            with pytest.raises(Conflict):
                await recovery.dispute_recovery(
                    uow, second["recovery_no"], "late", NOW + timedelta(days=4)
                )
        [disputed] = await events(unit_of_work, "claims.supplier_recovery.disputed")
        assert disputed["reason"] == "part was fine"

        # A disputed recovery is not finalised by the clock, only by the ruling.
        await desk_pass(unit_of_work, DESK, NOW + timedelta(days=10))
        finalized = await events(unit_of_work, "claims.supplier_recovery.finalized")
        assert [f["recovery_no"] for f in finalized] == [second["recovery_no"]]
        uow = unit_of_work()
        async with uow:
            ruled = await recovery.rule_on_recovery(
                uow, DESK, first["recovery_no"], True, Decimal("500.00"), "re-verified", NOW
            )
            await uow.commit()
        assert ruled.total == Decimal("1060.00")
        finalized = await events(unit_of_work, "claims.supplier_recovery.finalized")
        assert Decimal(finalized[-1]["total"]) == Decimal("1060.00")
        uow = unit_of_work()
        async with uow:
            with pytest.raises(Conflict):
                await recovery.rule_on_recovery(
                    uow, DESK, first["recovery_no"], False, None, "again", NOW
                )


async def test_an_adjuster_refuses_a_whole_claim_with_a_claim_level_code(
    databases: DatabaseFactory,
) -> None:
    async with claims_database(databases) as unit_of_work:
        await report(unit_of_work, "SR-2026-700001", cause="unknown")
        await desk_pass(unit_of_work, DESK, NOW)
        uow = unit_of_work()
        async with uow:
            [claim] = await ClaimRepository(uow.session).by_status(ClaimStatus.IN_REVIEW, 10)
        uow = unit_of_work()
        async with uow:
            with pytest.raises(Invalid):
                await adjudication.decide(uow, DESK, claim.claim_no, [], ["NDF"], None, "adj", NOW)
            with pytest.raises(Invalid):
                await adjudication.decide(uow, DESK, claim.claim_no, [], ["ELH"], "x", "adj", NOW)
        uow = unit_of_work()
        async with uow:
            decided = await adjudication.decide(
                uow, DESK, claim.claim_no, [], ["NDF"], "no fault on inspection", "adj", NOW
            )
            await uow.commit()
        assert decided.status is ClaimStatus.REJECTED
        assert decided.reason_codes == ["NDF"] and decided.amount_approved == 0
        [rejected] = await events(unit_of_work, "claims.claim.rejected")
        assert rejected["reason_codes"] == ["NDF"] and rejected["decided_by"] == "adj"
        assert await events(unit_of_work, "claims.supplier_recovery.issued") == []


async def test_a_claim_the_rules_fail_on_is_set_aside_for_an_adjuster(
    databases: DatabaseFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with claims_database(databases) as unit_of_work:
        await report(unit_of_work, "SR-2026-800001", serial_no="A")
        await report(unit_of_work, "SR-2026-800002", serial_no="B")
        real = adjudication.adjudicate_claim
        broken = {f"WC-{NOW.year}-000001"}

        async def failing(uow: UnitOfWork, desk: Desk, claim_no: str, now: datetime) -> None:
            if claim_no in broken:
                raise RuntimeError("boom")
            await real(uow, desk, claim_no, now)

        monkeypatch.setattr("services.claims.commands.loops.adjudicate_claim", failing)
        await desk_pass(unit_of_work, DESK, datetime.now(UTC))
        uow = unit_of_work()
        async with uow:
            claims = ClaimRepository(uow.session)
            aside = await claims.get(f"WC-{NOW.year}-000001")
            other = await claims.get(f"WC-{NOW.year}-000002")
        assert aside is not None and aside.status is ClaimStatus.IN_REVIEW
        assert "boom" in aside.review_reasons[0]
        assert other is not None and other.status is ClaimStatus.APPROVED
        # Once the fault is fixed the adjuster runs the rules again; it is announced then.
        monkeypatch.undo()
        uow = unit_of_work()
        async with uow:
            await adjudication.rerun(uow, aside.claim_no, "adj", NOW)
            await uow.commit()
        await desk_pass(unit_of_work, DESK, datetime.now(UTC))
        submitted = await events(unit_of_work, "claims.claim.submitted")
        assert sorted(e["claim_no"] for e in submitted) == [aside.claim_no, other.claim_no]


async def test_the_month_closes_by_itself_once_it_is_over(databases: DatabaseFactory) -> None:
    desk = Desk.from_settings(ClaimsSettings(close_months_automatically=True))
    async with claims_database(databases) as unit_of_work:
        await report(unit_of_work, "SR-2026-900001", serial_no="A")
        await desk_pass(unit_of_work, desk, NOW)
        assert await events(unit_of_work, "claims.settlement.closed") == []
        next_month = (NOW.replace(day=1) + timedelta(days=32)).replace(day=1)
        await desk_pass(unit_of_work, desk, next_month)
        await desk_pass(unit_of_work, desk, next_month + timedelta(hours=1))
        closed = await events(unit_of_work, "claims.settlement.closed")
        assert [(c["party"], c["party_id"], c["period"]) for c in closed] == [
            ("dealer", "D-0001", NOW.strftime("%Y-%m"))
        ]
        assert Decimal(closed[0]["total"]) == Decimal("560.00")
        assert [i["request_no"] for i in closed[0]["items"]] == ["SR-2026-900001"]


async def test_an_adjuster_runs_the_rules_again_once_the_policy_is_known(
    databases: DatabaseFactory,
) -> None:
    async with claims_database(databases) as unit_of_work:
        await report(unit_of_work, "SR-2026-910001", product_model="WX-300")
        await desk_pass(unit_of_work, DESK, NOW)
        uow = unit_of_work()
        async with uow:
            [claim] = await ClaimRepository(uow.session).by_status(ClaimStatus.IN_REVIEW, 10)
            assert "no warranty policy for WX-300" in claim.review_reasons[0]
            await ReferenceData(uow.session).add_policy(
                WarrantyPolicy("WX-300", NOW.date() - timedelta(days=3000), None, 12)
            )
            await adjudication.rerun(uow, claim.claim_no, "adj", NOW)
            await uow.commit()
        uow = unit_of_work()
        async with uow:
            with pytest.raises(IllegalTransition):
                await adjudication.rerun(uow, claim.claim_no, "adj", NOW)
        await desk_pass(unit_of_work, DESK, NOW)
        uow = unit_of_work()
        async with uow:
            again = await ClaimRepository(uow.session).get(claim.claim_no)
        assert again is not None and again.status is ClaimStatus.APPROVED
        assert [h["to"] for h in again.history] == ["in_review", "submitted", "approved"]
        assert len(await events(unit_of_work, "claims.claim.submitted")) == 1


async def test_a_ruling_changes_what_the_supplier_owes_until_it_is_final(
    databases: DatabaseFactory,
) -> None:
    async with claims_database(databases) as unit_of_work:
        await report(unit_of_work, "SR-2026-920001", serial_no="A")
        await report(unit_of_work, "SR-2026-920002", serial_no="B")
        await desk_pass(unit_of_work, DESK, NOW)
        cut, refused = (f"WC-{NOW.year}-00000{n}" for n in (1, 2))
        for claim_no in (cut, refused):
            uow = unit_of_work()
            async with uow:
                await adjudication.dispute(uow, claim_no, "disagree", NOW)
                await uow.commit()
        uow = unit_of_work()
        async with uow:
            await adjudication.rule(
                uow,
                DESK,
                cut,
                [adjudication.LineDecision(2, Decimal("0"))],
                "labour was the dealer's own fault",
                "mgr",
                NOW,
            )
            await adjudication.rule(
                uow,
                DESK,
                refused,
                [],
                "unit was flooded",
                "mgr",
                NOW,
                ["CDR"],
            )
            await uow.commit()
            rows = await uow.session.execute(select(RecoveryRow).order_by(RecoveryRow.id))
            first, second = rows.scalars().all()
        assert (first.state, first.labour, first.total) == (
            "issued",
            Decimal("0.00"),
            Decimal("1180.00"),  # 350 parts + 30 travel + 800 assessment
        )
        assert second.state == "withdrawn"
        [rejected] = await events(unit_of_work, "claims.claim.rejected")
        assert rejected["reason_codes"] == ["CDR"] and rejected["final"] is True
        await desk_pass(unit_of_work, DESK, NOW + timedelta(days=10))
        [finalized] = await events(unit_of_work, "claims.supplier_recovery.finalized")
        assert Decimal(finalized["total"]) == Decimal("1180.00")
