"""Supplier recovery beyond the first issue: the assessment per failed unit, other losses
staff enter with a reason, a ruling after the recovery is final (a correction to make); the
claimant's dispute deadline; when a waiting claim's old part is due."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from prometheus_client import REGISTRY
from sqlalchemy import select, update

from services.claims.app import DEFINITION as CLAIMS
from services.claims.commands import adjudication, recovery
from services.claims.commands.desk import Desk
from services.claims.commands.errors import Conflict, Invalid
from services.claims.commands.loops import desk_pass
from services.claims.db.models import ClaimRow, RecoveryRow
from services.claims.db.reference import ReferenceData
from services.claims.db.repository import ClaimRepository
from services.claims.domain.claim import IllegalTransition
from services.claims.domain.policy import CataloguePart
from services.claims.events.handlers import on_core_received, on_supplier_chargeback
from services.claims.settings import ClaimsSettings
from shared.db.engine import create_engine
from shared.db.migrations import alembic_config
from shared.events.schemas.billing import SupplierChargebackIssuedV1
from shared.events.schemas.intake import ReplacedPartV1
from shared.events.schemas.parts import CoreReceivedV1
from shared.messaging.outbox import envelope_for
from shared.settings import AuthSettings, BrokerSettings
from tests.integration.test_claims_adjudication import (
    NOW,
    Headers,
    catalogued,
    claim_of,
    claims_service,
    dealer_work,
    published,
    send,
    set_up_pumps,
)
from tests.integration.test_claims_desk import DESK, claims_database, events, report
from tests.support.databases import DatabaseFactory


async def test_the_assessment_counts_each_failed_unit_and_staff_add_other_losses(
    databases: DatabaseFactory,
) -> None:
    async with claims_database(databases) as unit_of_work:
        two = [ReplacedPartV1(part_no="P-1001", quantity=2, old_part_serial="OP-9")]
        await report(unit_of_work, "SR-2026-930001", parts_replaced=two)
        await desk_pass(unit_of_work, DESK, NOW)
        [issued] = await events(unit_of_work, "claims.supplier_recovery.issued")
        assert issued["failed_units"] == 2
        assert Decimal(issued["assessment_per_unit"]) == Decimal("800.00")
        assert Decimal(issued["assessment"]) == Decimal("1600.00")
        # 2 × 350 parts + 180 labour + 30 travel + 2 × 800 assessment
        assert Decimal(issued["total"]) == Decimal("2510.00")
        number = issued["recovery_no"]

        uow = unit_of_work()
        async with uow:
            await recovery.enter_other_losses(
                uow, DESK, number, Decimal("250.00"), "production line stopped", "adj", NOW
            )
            row = await recovery.enter_other_losses(
                uow, DESK, number, Decimal("100.00"), "line stop, re-counted", "adj", NOW
            )
            await uow.commit()
        # Entering again replaces what was entered: it does not add up.
        assert (row.other, row.total) == (Decimal("100.00"), Decimal("2610.00"))

        await desk_pass(unit_of_work, DESK, NOW + timedelta(days=10))
        [final] = await events(unit_of_work, "claims.supplier_recovery.finalized")
        assert Decimal(final["total"]) == Decimal("2610.00")
        assert Decimal(final["other"]) == Decimal("100.00")
        assert final["other_reason"] == "line stop, re-counted (adj)"
        assert (final["failed_units"], Decimal(final["assessment"])) == (2, Decimal("1600.00"))

        uow = unit_of_work()
        async with uow:
            with pytest.raises(Conflict):
                await recovery.enter_other_losses(
                    uow, DESK, number, Decimal("1"), "too late", "adj", NOW
                )


async def test_a_disputed_recovery_ruled_on_keeps_the_assessment_per_unit(
    databases: DatabaseFactory,
) -> None:
    async with claims_database(databases) as unit_of_work:
        two = [ReplacedPartV1(part_no="P-1001", quantity=2, old_part_serial="OP-9")]
        await report(unit_of_work, "SR-2026-930101", parts_replaced=two)
        await desk_pass(unit_of_work, DESK, NOW)
        [issued] = await events(unit_of_work, "claims.supplier_recovery.issued")
        uow = unit_of_work()
        async with uow:
            await recovery.dispute_recovery(uow, issued["recovery_no"], "not us", NOW)
            ruled = await recovery.rule_on_recovery(
                uow, DESK, issued["recovery_no"], True, Decimal("600.00"), "re-verified", NOW
            )
            await uow.commit()
        assert (ruled.assessment_per_unit, ruled.assessment) == (
            Decimal("600.00"),
            Decimal("1200.00"),
        )
        assert ruled.total == Decimal("2110.00")


async def test_a_ruling_after_the_recovery_is_final_corrects_or_withdraws_it(
    databases: DatabaseFactory,
) -> None:
    async with claims_database(databases) as unit_of_work:
        await report(unit_of_work, "SR-2026-930201", serial_no="A")
        await report(unit_of_work, "SR-2026-930202", serial_no="B")
        await desk_pass(unit_of_work, DESK, NOW)
        refused, cut = (f"WC-{NOW.year}-00000{n}" for n in (1, 2))
        for claim_no in (refused, cut):
            uow = unit_of_work()
            async with uow:
                await adjudication.dispute(uow, claim_no, "disagree", NOW + timedelta(days=1))
                await uow.commit()
        # The suppliers did not dispute: their recoveries are final while the claimants'
        # disputes wait for a manager.
        await desk_pass(unit_of_work, DESK, NOW + timedelta(days=10))
        assert len(await events(unit_of_work, "claims.supplier_recovery.finalized")) == 2
        ruled_at = NOW + timedelta(days=11)
        uow = unit_of_work()
        async with uow:
            await adjudication.rule(uow, DESK, refused, [], "flooded", "mgr", ruled_at, ["CDR"])
            await adjudication.rule(
                uow,
                DESK,
                cut,
                [adjudication.LineDecision(2, Decimal("0"))],
                "labour was the dealer's own fault",
                "mgr",
                ruled_at,
            )
            await uow.commit()
            rows = (
                (await uow.session.execute(select(RecoveryRow).order_by(RecoveryRow.id)))
                .scalars()
                .all()
            )
        first, second = rows
        # The supplier is not at fault any more: withdrawn, and billing reverses its charge.
        assert first.state == "withdrawn" and first.correction_needed is None
        [withdrawn] = await events(unit_of_work, "claims.supplier_recovery.withdrawn")
        assert withdrawn["recovery_no"] == first.recovery_no
        assert withdrawn["was_final"] is True and withdrawn["part_nos"] == ["P-1001"]
        assert "flooded" in withdrawn["reason"] and refused in withdrawn["reason"]
        assert [h["action"] for h in first.history] == ["issued", "finalized", "withdrawn"]
        # The labour cut comes off the final recovery at once: corrected, not by hand.
        assert second.state == "finalized" and second.correction_needed is None
        assert second.total == Decimal("1180.00")
        [corrected] = await events(unit_of_work, "claims.supplier_recovery.corrected")
        assert corrected["recovery_no"] == second.recovery_no
        assert Decimal(corrected["previous_total"]) == Decimal("1360.00")
        assert Decimal(corrected["total"]) == Decimal("1180.00")
        assert Decimal(corrected["difference"]) == Decimal("-180.00")
        parts = ("material", "labour", "travel", "other", "assessment")
        assert [Decimal(corrected[k]) for k in parts] == [
            Decimal(x) for x in ("350.00", "0.00", "30.00", "0.00", "800.00")
        ]
        assert corrected["settle_by"] == "chargeback"
        assert "labour was the dealer's own fault" in corrected["reason"]
        assert corrected["corrected_at"].startswith(str(ruled_at.date()))
        last = second.history[-1]
        assert (last["action"], last["by"]) == ("corrected", "mgr")
        assert (last["previous_total"], last["total"], last["difference"]) == (
            "1360.00",
            "1180.00",
            "-180.00",
        )
        # Nothing else announced: no second finalization, no reissue of a final recovery.
        assert len(await events(unit_of_work, "claims.supplier_recovery.finalized")) == 2
        assert len(await events(unit_of_work, "claims.supplier_recovery.issued")) == 2


async def test_amounts_changed_before_final_issue_the_recovery_again(
    databases: DatabaseFactory,
) -> None:
    async with claims_database(databases) as unit_of_work:
        await report(unit_of_work, "SR-2026-930251")
        await desk_pass(unit_of_work, DESK, NOW)
        [first] = await events(unit_of_work, "claims.supplier_recovery.issued")
        number, claim_no = first["recovery_no"], first["claim_no"]
        later = NOW + timedelta(days=1)
        uow = unit_of_work()
        async with uow:
            await recovery.enter_other_losses(
                uow, DESK, number, Decimal("120.00"), "site cleaning", "adj", later
            )
            await adjudication.dispute(uow, claim_no, "labour was ours", later)
            await uow.commit()
        uow = unit_of_work()
        async with uow:
            await adjudication.rule(
                uow,
                DESK,
                claim_no,
                [adjudication.LineDecision(3, Decimal("0"))],
                "travel is the dealer's",
                "mgr",
                later,
            )
            await uow.commit()
        issued = await events(unit_of_work, "claims.supplier_recovery.issued")
        # Same number, same first issue and deadline; the latest carries the amounts.
        assert [e["recovery_no"] for e in issued] == [number] * 3
        assert {e["issued_at"] for e in issued} == {first["issued_at"]}
        assert {e["dispute_deadline"] for e in issued} == {first["dispute_deadline"]}
        assert [Decimal(e["total"]) for e in issued] == [
            Decimal("1360.00"),
            Decimal("1480.00"),
            Decimal("1450.00"),  # travel 30 off, the 120 staff entered kept
        ]
        assert (Decimal(issued[-1]["travel"]), Decimal(issued[-1]["other"])) == (
            Decimal("0.00"),
            Decimal("120.00"),
        )
        assert issued[1]["other_reason"] == "site cleaning (adj)"
        uow = unit_of_work()
        async with uow:
            row = (
                await uow.session.execute(
                    select(RecoveryRow).where(RecoveryRow.recovery_no == number)
                )
            ).scalar_one()
        assert [(h["action"], h["by"], h["total"]) for h in row.history] == [
            ("issued", "rules", "1360.00"),
            ("reissued", "adj", "1480.00"),
            ("reissued", "mgr", "1450.00"),
        ]
        assert "travel is the dealer's" in row.history[-1]["note"]
        assert await events(unit_of_work, "claims.supplier_recovery.corrected") == []
        # Final on the day after its deadline, with the latest amounts.
        await desk_pass(unit_of_work, DESK, NOW + timedelta(days=10))
        [final] = await events(unit_of_work, "claims.supplier_recovery.finalized")
        assert Decimal(final["total"]) == Decimal("1450.00")


async def test_a_recovery_withdrawn_before_final_says_so(databases: DatabaseFactory) -> None:
    async with claims_database(databases) as unit_of_work:
        await report(unit_of_work, "SR-2026-930261", serial_no="A")
        await report(unit_of_work, "SR-2026-930262", serial_no="B")
        await desk_pass(unit_of_work, DESK, NOW)
        upheld, refused = await events(unit_of_work, "claims.supplier_recovery.issued")
        uow = unit_of_work()
        async with uow:
            await recovery.dispute_recovery(uow, upheld["recovery_no"], "motor was fine", NOW)
            await recovery.rule_on_recovery(
                uow, DESK, upheld["recovery_no"], False, None, "test bench: no fault", NOW, "mgr"
            )
            await adjudication.dispute(uow, refused["claim_no"], "disagree", NOW)
            await uow.commit()
        uow = unit_of_work()
        async with uow:
            await adjudication.rule(
                uow, DESK, refused["claim_no"], [], "dropped by the customer", "mgr", NOW, ["CDR"]
            )
            await uow.commit()
        first, second = await events(unit_of_work, "claims.supplier_recovery.withdrawn")
        assert (first["recovery_no"], first["was_final"]) == (upheld["recovery_no"], False)
        assert first["reason"] == "the supplier's dispute was upheld: test bench: no fault"
        assert (second["recovery_no"], second["was_final"]) == (refused["recovery_no"], False)
        assert "dropped by the customer" in second["reason"]
        assert second["part_nos"] == ["P-1001"] and second["supplier_id"] == "S-01"
        # Withdrawn is the end: the clock finalises neither, nothing is reissued.
        await desk_pass(unit_of_work, DESK, NOW + timedelta(days=10))
        assert await events(unit_of_work, "claims.supplier_recovery.finalized") == []
        assert len(await events(unit_of_work, "claims.supplier_recovery.issued")) == 2


async def test_the_claimant_disputes_until_the_deadline_shown_on_the_claim(
    databases: DatabaseFactory,
) -> None:
    async with claims_database(databases) as unit_of_work:
        await report(unit_of_work, "SR-2026-930301", serial_no="A")
        await report(unit_of_work, "SR-2026-930302", serial_no="B")
        await desk_pass(unit_of_work, DESK, NOW)
        late, in_time = (f"WC-{NOW.year}-00000{n}" for n in (1, 2))
        deadline = NOW.date() + timedelta(days=30)
        approved = await events(unit_of_work, "claims.claim.approved")
        assert [a["dispute_deadline"] for a in approved] == [str(deadline)] * 2
        assert not any(a["final"] for a in approved)
        uow = unit_of_work()
        async with uow:
            claim = await ClaimRepository(uow.session).get(late)
            assert claim is not None and claim.dispute_deadline == deadline
            with pytest.raises(IllegalTransition) as refused:
                await adjudication.dispute(uow, late, "too late", NOW + timedelta(days=31))
            assert refused.value.allowed == []
            assert str(deadline) in str(refused.value)
            await adjudication.dispute(uow, in_time, "on the last day", NOW + timedelta(days=30))
            await uow.commit()
        uow = unit_of_work()
        async with uow:
            ruled = await adjudication.rule(uow, DESK, in_time, [], "stands", "mgr", NOW)
            await uow.commit()
        assert ruled.final and ruled.dispute_deadline is None


async def test_a_claim_waiting_for_its_old_part_shows_when_the_part_is_due(
    databases: DatabaseFactory,
) -> None:
    async with claims_database(databases) as unit_of_work:
        uow = unit_of_work()
        async with uow:
            await ReferenceData(uow.session).catalogue(
                CataloguePart("P-2002", "valve", Decimal("80.00"), Decimal("1"), "S-01", True, NOW)
            )
            await uow.commit()
        parts = [ReplacedPartV1(part_no="P-2002", quantity=1, old_part_serial="OP-7")]
        await report(unit_of_work, "SR-2026-930401", parts_replaced=parts)
        await desk_pass(unit_of_work, DESK, NOW)
        [waiting] = await events(unit_of_work, "claims.claim.waiting_for_part")
        repaired_on = (NOW - timedelta(days=1)).date()  # the dealer's completed_at
        assert waiting["due_on"] == str(repaired_on + timedelta(days=DESK.core_return_days))


async def test_a_waiting_claim_that_fails_does_not_hold_up_the_others(
    databases: DatabaseFactory,
) -> None:
    async with claims_database(databases) as unit_of_work:
        uow = unit_of_work()
        async with uow:
            await ReferenceData(uow.session).catalogue(
                CataloguePart("P-2002", "valve", Decimal("80.00"), Decimal("1"), "S-01", True, NOW)
            )
            await uow.commit()
        parts = [ReplacedPartV1(part_no="P-2002", quantity=1, old_part_serial="OP-7")]
        await report(unit_of_work, "SR-2026-930501", serial_no="A", parts_replaced=parts)
        await report(unit_of_work, "SR-2026-930502", serial_no="B", parts_replaced=parts)
        await desk_pass(unit_of_work, DESK, NOW)
        broken, fine = (f"WC-{NOW.year}-00000{n}" for n in (1, 2))
        uow = unit_of_work()
        async with uow:
            # A claim whose stored lines no longer make sense: the gate fails on it.
            await uow.session.execute(
                update(ClaimRow).where(ClaimRow.claim_no == broken).values(lines=[{"x": 1}])
            )
            for request_no in ("SR-2026-930501", "SR-2026-930502"):
                received = CoreReceivedV1(
                    request_no=request_no,
                    part_no="P-2002",
                    quantity=1,
                    serials=["OP-7"],
                    matched=True,
                    mismatches=[],
                    supplier_id="S-01",
                    received_at=NOW,
                )
                await on_core_received(uow, received, envelope_for(received))
            await uow.commit()

        def failures() -> float:
            value = REGISTRY.get_sample_value(
                "aftersales_claims_desk_failures_total", {"step": "old_part_gate"}
            )
            return value or 0.0

        before = failures()
        await desk_pass(unit_of_work, DESK, NOW)
        assert failures() == before + 1
        uow = unit_of_work()
        async with uow:
            rows = await uow.session.execute(select(ClaimRow.claim_no, ClaimRow.status))
            statuses = {claim_no: status for claim_no, status in rows}
        assert statuses == {broken: "waiting_for_part", fine: "approved"}
        # Still waiting: the next pass tries it again (and fails again, counted again).
        await desk_pass(unit_of_work, DESK, NOW)
        assert failures() == before + 2


async def test_other_losses_entered_on_a_claim_in_review_go_into_the_recovery(
    databases: DatabaseFactory,
) -> None:
    reviewing = Desk.from_settings(
        ClaimsSettings(close_months_automatically=False, review_threshold_amount=Decimal("1"))
    )
    async with claims_database(databases) as unit_of_work:
        await report(unit_of_work, "SR-2026-930601")
        await desk_pass(unit_of_work, reviewing, NOW)
        claim_no = f"WC-{NOW.year}-000001"
        uow = unit_of_work()
        async with uow:
            with pytest.raises(Invalid):
                await recovery.enter_claim_other_losses(
                    uow, reviewing, claim_no, "S-99", Decimal("10"), "not on the claim", "adj", NOW
                )
            before = await recovery.enter_claim_other_losses(
                uow,
                reviewing,
                claim_no,
                "S-01",
                Decimal("300.00"),
                "customer's line stopped",
                "adj",
                NOW,
            )
            await uow.commit()
        assert before is None  # nothing issued yet: kept on the claim
        uow = unit_of_work()
        async with uow:
            await adjudication.decide(uow, reviewing, claim_no, [], [], None, "adj", NOW)
            await uow.commit()
        [issued] = await events(unit_of_work, "claims.supplier_recovery.issued")
        assert Decimal(issued["other"]) == Decimal("300.00")
        assert issued["other_reason"] == "customer's line stopped (adj)"
        assert Decimal(issued["total"]) == Decimal("1660.00")  # 350 + 180 + 30 + 800 + 300
        uow = unit_of_work()
        async with uow:
            after = await recovery.enter_claim_other_losses(
                uow, reviewing, claim_no, "S-01", Decimal("50.00"), "re-counted", "mgr", NOW
            )
            await uow.commit()
        assert after is not None
        assert (after.other, after.total) == (Decimal("50.00"), Decimal("1410.00"))


async def test_staff_enter_other_losses_through_the_api_and_see_the_dispute_deadline(
    databases: DatabaseFactory, broker: BrokerSettings, auth: AuthSettings, staff_headers: Headers
) -> None:
    async with claims_service(
        databases, broker, auth, review_threshold_amount=Decimal("100")
    ) as claims:
        await set_up_pumps(claims, staff_headers("manager"))
        adjuster = staff_headers("claims_adjuster", subject="adj-1")
        await send(broker, catalogued("P-1001", "350.00", NOW, return_required=False))
        await send(broker, dealer_work("SR-2026-930701"))
        claim = await claim_of(claims, adjuster, "SR-2026-930701", "in_review")
        assert claim["dispute_deadline"] is None
        url = f"/api/v1/claims/{claim['claim_no']}"
        losses = {"supplier_id": "S-01", "amount": "300.00", "reason": "line stopped"}
        client = claims.client

        refused = await client.put(
            f"{url}/other-losses", json=losses, headers=staff_headers("auditor")
        )
        assert refused.status_code == 403
        bad = await client.put(
            f"{url}/other-losses", json={"supplier_id": "S-01", "amount": "-1"}, headers=adjuster
        )
        assert bad.status_code == 422
        assert {e["field"] for e in bad.json()["errors"]} == {"amount", "reason"}, bad.json()
        stranger = await client.put(
            f"{url}/other-losses", json={**losses, "supplier_id": "S-77"}, headers=adjuster
        )
        assert stranger.status_code == 422
        missing = await client.put(
            "/api/v1/claims/WC-2026-999999/other-losses", json=losses, headers=adjuster
        )
        assert missing.status_code == 404
        kept = await client.put(f"{url}/other-losses", json=losses, headers=adjuster)
        assert kept.status_code == 200, kept.text
        assert kept.json()["recovery"] is None

        decided = await client.post(f"{url}/decision", json={}, headers=adjuster)
        assert decided.status_code == 200, decided.text
        body = decided.json()
        decided_on = datetime.fromisoformat(body["decided_at"]).date()
        assert body["dispute_deadline"] == str(decided_on + timedelta(days=30))
        assert body["allowed_actions"] == ["dispute"]

        [issued] = (await client.get("/api/v1/recoveries", headers=adjuster)).json()
        assert Decimal(issued["other"]) == Decimal("300.00")
        assert issued["other_reason"] == "line stopped (adj-1)"
        assert issued["failed_units"] == 1 and issued["correction_needed"] is None
        recovery_url = f"/api/v1/recoveries/{issued['recovery_no']}/other-losses"
        changed = await client.put(
            recovery_url,
            json={"amount": "0", "reason": "customer's loss not proven"},
            headers=adjuster,
        )
        assert changed.status_code == 200, changed.text
        assert Decimal(changed.json()["total"]) == Decimal(issued["total"]) - Decimal("300.00")
        assert [h["action"] for h in changed.json()["history"]] == ["issued", "reissued"]
        assert changed.json()["history"][-1]["by"] == "adj-1"
        announced = await published(claims, "claims.supplier_recovery.issued")
        assert [Decimal(e["other"]) for e in announced] == [Decimal("300.00"), Decimal("0.00")]
        corrections = await client.get(
            "/api/v1/recoveries?correction_needed=true", headers=staff_headers("auditor")
        )
        assert corrections.status_code == 200 and corrections.json() == []

        # Once its deadline has passed undisputed, the decision stands: final, no dispute.
        yesterday = datetime.now(UTC).date() - timedelta(days=1)
        async with claims.runtime.sessions() as session:
            await session.execute(
                update(ClaimRow)
                .where(ClaimRow.claim_no == claim["claim_no"])
                .values(dispute_deadline=yesterday)
            )
            await session.commit()
        shown = (await client.get(url, headers=staff_headers("auditor"))).json()
        assert shown["final"] is True and shown["allowed_actions"] == []
        late = await client.post(f"{url}/dispute", json={"reason": "late"}, headers=adjuster)
        assert late.status_code == 409 and str(yesterday) in late.json()["detail"]
        too_big = await client.get("/api/v1/claims-setup/policies/99999999999", headers=adjuster)
        assert too_big.status_code == 422


async def test_an_auditor_reads_every_claims_route_and_changes_nothing(
    databases: DatabaseFactory, broker: BrokerSettings, auth: AuthSettings, staff_headers: Headers
) -> None:
    async with claims_service(databases, broker, auth) as claims:
        auditor = staff_headers("auditor")
        paths = (await claims.client.get("/openapi.json")).json()["paths"]
        reads = writes = 0
        for path, operations in paths.items():
            if not path.startswith("/api/"):
                continue
            concrete = (
                path.replace("{claim_no}", "WC-2026-000001")
                .replace("{recovery_no}", "RC-2026-000001")
                .replace("{policy_id}", "1")
                .replace("{code}", "X")
                .replace("{product_line}", "pumps")
                .replace("{supplier_id}", "S-01")
            )
            for method in operations:
                response = await claims.client.request(
                    method.upper(), concrete, json={}, headers=auditor
                )
                if method == "get":
                    # Allowed to read: found or not, never refused.
                    assert response.status_code in (200, 404), (path, response.status_code)
                    reads += 1
                else:
                    assert response.status_code == 403, (method, path, response.status_code)
                    writes += 1
        assert reads >= 15 and writes >= 15


def chargeback(number: str, reference: str, total: str, at: datetime) -> SupplierChargebackIssuedV1:
    return SupplierChargebackIssuedV1(
        chargeback_no=number,
        supplier_id="S-01",
        reference=reference,
        settle_by="chargeback",
        total=Decimal(total),
        currency="CNY",
        issued_at=at,
    )


@pytest.mark.parametrize("backend", ["postgresql", "sqlite"])
async def test_every_chargeback_of_a_recovery_is_kept_whatever_order_they_come_in(
    databases: DatabaseFactory, backend: str, tmp_path: Path
) -> None:
    """Billing charges a final recovery, then charges again (same recovery, a new chargeback)
    after a correction; the newer arrives first, both are replayed: both kept, the latest by
    issue time shown as the recovery's chargeback."""
    sqlite_in = tmp_path if backend == "sqlite" else None
    async with claims_database(databases, sqlite_in) as unit_of_work:
        await report(unit_of_work, "SR-2026-931001")
        await desk_pass(unit_of_work, DESK, NOW)
        await desk_pass(unit_of_work, DESK, NOW + timedelta(days=10))
        [final] = await events(unit_of_work, "claims.supplier_recovery.finalized")
        number = final["recovery_no"]
        first = chargeback("SC-2026-000001", number, "1360.00", NOW + timedelta(days=10))
        additional = chargeback("SC-2026-000007", number, "200.00", NOW + timedelta(days=12))
        disposal = chargeback("SC-2026-000003", "DP-2026-000001", "50.00", NOW)
        for event in (additional, first, additional, disposal, first):
            uow = unit_of_work()
            async with uow:
                await on_supplier_chargeback(uow, event, envelope_for(event))
                await uow.commit()

        uow = unit_of_work()
        async with uow:
            row = (
                await uow.session.execute(
                    select(RecoveryRow).where(RecoveryRow.recovery_no == number)
                )
            ).scalar_one()
        assert row.state == "billed" and row.chargeback_no == "SC-2026-000007"
        assert [(c["chargeback_no"], c["total"]) for c in row.chargebacks] == [
            ("SC-2026-000001", "1360.00"),
            ("SC-2026-000007", "200.00"),
        ]
        assert row.chargebacks[0]["issued_at"] == (NOW + timedelta(days=10)).isoformat()
        billed = [h for h in row.history if h["action"] == "billed"]
        assert [h["note"] for h in billed] == ["SC-2026-000007", "SC-2026-000001"]


@pytest.mark.parametrize("backend", ["postgresql", "sqlite"])
async def test_a_recovery_billed_before_chargebacks_were_kept_keeps_its_chargeback(
    databases: DatabaseFactory, backend: str, tmp_path: Path
) -> None:
    url = (
        await databases.create("claims")
        if backend == "postgresql"
        else f"sqlite+aiosqlite:///{tmp_path / 'claims.db'}"
    )
    await asyncio.to_thread(
        command.upgrade, alembic_config(CLAIMS.migrations_dir, url), "claims_0007"
    )
    engine = create_engine(url)
    finalized_at = datetime(2026, 12, 6, 0, 5, tzinfo=UTC)
    # The table as claims_0007 left it.
    before = sa.table(
        "supplier_recoveries",
        *(sa.column(c.name, c.type) for c in RecoveryRow.__table__.c if c.name != "chargebacks"),
    )
    try:
        async with engine.begin() as connection:
            for recovery_no, chargeback_no in (
                ("RC-2026-000001", "SC-2026-000009"),
                ("RC-2026-000002", None),
            ):
                await connection.execute(
                    before.insert().values(
                        recovery_no=recovery_no,
                        supplier_id="S-01",
                        claim_no=f"WC-2026-00000{recovery_no[-1]}",
                        request_no="SR-2026-000001",
                        product_model="WX-200",
                        part_nos=["P-1001"],
                        material=Decimal("350.00"),
                        labour=Decimal("0"),
                        travel=Decimal("0"),
                        other=Decimal("0"),
                        assessment=Decimal("800.00"),
                        total=Decimal("1150.00"),
                        state="billed" if chargeback_no else "issued",
                        issued_at=finalized_at - timedelta(days=6),
                        dispute_deadline=finalized_at.date(),
                        finalized_at=finalized_at if chargeback_no else None,
                        settle_by="chargeback",
                        chargeback_no=chargeback_no,
                        failed_units=1,
                        other_entered=Decimal("0"),
                        history=[],
                    )
                )
        await asyncio.to_thread(command.upgrade, alembic_config(CLAIMS.migrations_dir, url), "head")
        async with engine.connect() as connection:
            rows = await connection.execute(
                select(RecoveryRow.recovery_no, RecoveryRow.chargebacks).order_by(RecoveryRow.id)
            )
            kept = dict(rows.all())
    finally:
        await engine.dispose()
    assert kept == {
        "RC-2026-000001": [
            {
                "chargeback_no": "SC-2026-000009",
                "total": "1150.00",
                "settle_by": "chargeback",
                "issued_at": finalized_at.isoformat(),
            }
        ],
        "RC-2026-000002": [],
    }


async def test_a_supplier_disputes_through_the_api_and_a_manager_rules(
    databases: DatabaseFactory, broker: BrokerSettings, auth: AuthSettings, staff_headers: Headers
) -> None:
    async with claims_service(databases, broker, auth) as claims:
        await set_up_pumps(claims, staff_headers("manager"))
        adjuster, manager = staff_headers("claims_adjuster"), staff_headers("manager")
        await send(broker, catalogued("P-1001", "350.00", NOW, return_required=False))
        await send(broker, dealer_work("SR-2026-932001"))
        await claim_of(claims, adjuster, "SR-2026-932001", "approved")
        [recovery_row] = (await claims.client.get("/api/v1/recoveries", headers=adjuster)).json()
        url = f"/api/v1/recoveries/{recovery_row['recovery_no']}"
        # From the day it was issued, not the test's start: a run can cross midnight.
        issued_on = datetime.fromisoformat(recovery_row["issued_at"]).date()
        assert recovery_row["dispute_deadline"] == str(issued_on + timedelta(days=5))
        assert recovery_row["final_on"] == str(issued_on + timedelta(days=6))

        disputed = await claims.client.post(
            f"{url}/dispute", json={"reason": "motor was misused"}, headers=adjuster
        )
        assert disputed.status_code == 200, disputed.text
        assert disputed.json()["state"] == "disputed"
        assert disputed.json()["may_dispute_now"] is False
        again = await claims.client.post(f"{url}/dispute", json={"reason": "x"}, headers=adjuster)
        assert again.status_code == 409 and again.json()["allowed"] == ["rule"]
        out_of_range = await claims.client.post(
            f"{url}/ruling",
            json={"upheld": True, "assessment": "2500", "reason": "x"},
            headers=manager,
        )
        assert out_of_range.status_code == 422
        ruled = await claims.client.post(
            f"{url}/ruling",
            json={"upheld": True, "assessment": "600.00", "reason": "re-verified: motor fault"},
            headers=manager,
        )
        assert ruled.status_code == 200, ruled.text
        body = ruled.json()
        assert body["state"] == "finalized" and body["ruling"] == "re-verified: motor fault"
        assert Decimal(body["assessment"]) == Decimal("600.00")
        [dispute_event] = await published(claims, "claims.supplier_recovery.disputed")
        assert dispute_event["reason"] == "motor was misused"
        [finalized] = await published(claims, "claims.supplier_recovery.finalized")
        assert Decimal(finalized["assessment"]) == Decimal("600.00")
        assert Decimal(finalized["total"]) == Decimal(body["total"])
