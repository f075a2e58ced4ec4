"""Claims on the real RabbitMQ and PostgreSQL: events from dispatch, parts, intake and billing
(replayed and out of order) open, decide and settle claims; staff review, dispute and rule."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
from sqlalchemy import select

from services.claims.app import DEFINITION as CLAIMS
from services.claims.commands import settlements
from services.claims.commands.desk import Desk
from services.claims.commands.loops import desk_pass
from services.claims.settings import ClaimsSettings
from shared.db.messaging_tables import outbox
from shared.events.registry import EventSchema
from shared.events.schemas.billing import DealerStatementIssuedV1, SupplierChargebackIssuedV1
from shared.events.schemas.dispatch import (
    JobCompletedV1,
    RemovedPartV1,
    RepeatRepairFlaggedV1,
    UsedPartV1,
)
from shared.events.schemas.intake import (
    ComplaintQualityReportedV1,
    DealerWorkReportedV1,
    ReplacedPartV1,
)
from shared.events.schemas.parts import (
    CoreOverdueV1,
    CoreReceivedV1,
    EmergencyShippedV1,
    PartCataloguedV1,
)
from shared.messaging.outbox import envelope_for
from shared.settings import AuthSettings, BrokerSettings
from tests.support.broker import publish_envelopes
from tests.support.databases import DatabaseFactory
from tests.support.services import RunningService, running_service
from tests.support.waiting import eventually

Headers = Callable[..., dict[str, str]]
NOW = datetime.now(UTC)


@asynccontextmanager
async def claims_service(
    databases: DatabaseFactory, broker: BrokerSettings, auth: AuthSettings, **overrides: Any
) -> AsyncIterator[RunningService]:
    url = await databases.migrated(CLAIMS.migrations_dir, "claims")
    async with running_service(
        CLAIMS, url, broker, auth, adjudicate_every_seconds=0.1, **overrides
    ) as claims:
        await eventually(lambda: claims.runtime.consumer.is_consuming)  # type: ignore[union-attr]
        yield claims


async def send(broker: BrokerSettings, *events: EventSchema) -> None:
    await publish_envelopes(broker, [envelope_for(e) for e in events])


async def published(claims: RunningService, event_type: str) -> list[dict[str, Any]]:
    async with claims.runtime.sessions() as session:
        rows = await session.execute(
            select(outbox.c.envelope).where(outbox.c.event_type == event_type).order_by(outbox.c.id)
        )
        return [json.loads(r)["data"] for r in rows.scalars()]


async def set_up_pumps(claims: RunningService, manager: dict[str, str]) -> None:
    client = claims.client
    policy = {
        "product_model": "WX-200",
        "effective_from": "2020-01-01",
        "period_months": 12,
        "travel_cap_km": "100",
    }
    assert (
        await client.post("/api/v1/claims-setup/policies", json=policy, headers=manager)
    ).status_code == 201
    operation = {
        "product_line": "pumps",
        "description": "更换电机",
        "standard_hours": "1.50",
        "fault_code": "E42",
    }
    made = await client.put(
        "/api/v1/claims-setup/operations/PMP-142", json=operation, headers=manager
    )
    assert made.status_code == 201
    rate = {"hourly_rate": "120.00", "per_km_rate": "1.50"}
    assert (
        await client.put("/api/v1/claims-setup/labour-rates/pumps", json=rate, headers=manager)
    ).status_code == 200
    supplier = {"name": "华东电机", "assessment_per_unit": "800.00"}
    assert (
        await client.put("/api/v1/claims-setup/suppliers/S-01", json=supplier, headers=manager)
    ).status_code == 200


def catalogued(part_no: str, price: str, changed_at: datetime, **changes: Any) -> PartCataloguedV1:
    values: dict[str, Any] = {
        "part_no": part_no,
        "name": f"part {part_no}",
        "fits_models": ["WX-200"],
        "unit_cost": Decimal("100"),
        "list_price": Decimal(price),
        "supplier_id": "S-01",
        "genuine": True,
        "return_required": True,
        "changed_at": changed_at,
    }
    values.update(changes)
    return PartCataloguedV1(**values)


def job_completed(request_no: str, **changes: Any) -> JobCompletedV1:
    values: dict[str, Any] = {
        "request_no": request_no,
        "technician_id": "T-1",
        "technician_name": "李强",
        "service_point_id": "SP-SH",
        "region": "上海",
        "kind": "repair",
        "product_line": "pumps",
        "product_model": "WX-200",
        "serial_no": f"WX200-{request_no}",
        "purchase_date": (NOW - timedelta(days=100)).date(),
        "in_warranty": True,
        "dealer_id": None,
        "customer_name": "张伟",
        "findings": "电机烧毁",
        "work_done": "更换电机",
        "cause": "quality_defect",
        "fault_code": "E42",
        "result": "repaired",
        "labour_minutes": 120,
        "travel_km": Decimal("20"),
        "parts_used": [UsedPartV1(part_no="P-1001", quantity=1, serials=["N-1"])],
        "old_parts_removed": [RemovedPartV1(part_no="P-1001", quantity=1, serials=["OP-1"])],
        "repeat_repair": False,
        "arrived_at": NOW - timedelta(hours=3),
        "completed_at": NOW - timedelta(hours=1),
        "signed_by": "张伟",
        "signed_at": NOW - timedelta(hours=1),
    }
    values.update(changes)
    return JobCompletedV1(**values)


def dealer_work(request_no: str, **changes: Any) -> DealerWorkReportedV1:
    values: dict[str, Any] = {
        "request_no": request_no,
        "dealer_id": "D-0001",
        "dealer_report_no": f"DLR-{request_no}",
        "product_model": "WX-200",
        "product_line": "pumps",
        "serial_no": f"WX200-{request_no}",
        "purchase_date": (NOW - timedelta(days=100)).date(),
        "in_warranty": True,
        "warranty_expires_on": None,
        "fault_description": "开机无反应",
        "fault_code": "E42",
        "fault_occurred_at": None,
        "completed_at": NOW - timedelta(days=1),
        "technician_name": "王工",
        "labour_hours": Decimal("1.50"),
        "travel_km": Decimal("20"),
        "cause": "quality_defect",
        "parts_replaced": [ReplacedPartV1(part_no="P-1001", quantity=1, old_part_serial="OP-9")],
    }
    values.update(changes)
    return DealerWorkReportedV1(**values)


def core_received(request_no: str, matched: bool = True) -> CoreReceivedV1:
    return CoreReceivedV1(
        request_no=request_no,
        part_no="P-1001",
        quantity=1,
        serials=["OP-1"],
        matched=matched,
        mismatches=[] if matched else ["serial OP-X instead of OP-1"],
        supplier_id="S-01",
        received_at=NOW,
    )


async def claim_of(
    claims: RunningService, headers: dict[str, str], request_no: str, status: str
) -> dict[str, Any]:
    async def probe() -> httpx.Response:
        return await claims.client.get("/api/v1/claims", headers=headers)

    def reached(response: httpx.Response) -> bool:
        return any(c["request_no"] == request_no and c["status"] == status for c in response.json())

    listed = await eventually(probe, reached, what=f"{request_no} {status}")
    found = next(c for c in listed.json() if c["request_no"] == request_no)
    detail = await claims.client.get(f"/api/v1/claims/{found['claim_no']}", headers=headers)
    return detail.json()  # type: ignore[no-any-return]


async def test_a_job_claim_with_its_old_part_back_first_is_approved_and_charges_the_supplier(
    databases: DatabaseFactory, broker: BrokerSettings, auth: AuthSettings, staff_headers: Headers
) -> None:
    async with claims_service(databases, broker, auth) as claims:
        await set_up_pumps(claims, staff_headers("manager"))
        adjuster = staff_headers("claims_adjuster")
        # The newer catalogue entry arrives before an older one, the old part before the job,
        # and the job twice: one claim, priced at the newer list price.
        await send(broker, catalogued("P-1001", "350.00", NOW))
        await send(broker, catalogued("P-1001", "999.00", NOW - timedelta(days=1)))
        await send(broker, core_received("SR-2026-100001"))
        job = job_completed("SR-2026-100001")
        await send(broker, job, job)
        # Out of warranty (misuse there too) or worn out: paid service, no claim.
        await send(
            broker,
            job_completed("SR-2026-100002", in_warranty=False),
            job_completed("SR-2026-100003", cause="wear"),
            job_completed("SR-2026-100004", cause="misuse", in_warranty=False),
        )

        claim = await claim_of(claims, adjuster, "SR-2026-100001", "partially_approved")
        assert claim["source"] == "job"
        assert [(x["kind"], x["amount_claimed"], x["amount_approved"]) for x in claim["lines"]] == [
            ("part", "350.00", "350.00"),
            ("labour", "240.00", "180.00"),
            ("travel", "30.00", "30.00"),
        ]
        assert claim["lines"][1]["reason_codes"] == ["ELH"]
        assert claim["reason_codes"] == ["ELH", "PWA"]
        assert Decimal(claim["amount_approved"]) == Decimal("560.00")
        verdicts = {r["rule"]: r["verdict"] for r in claim["rule_results"]}
        assert verdicts["in_warranty"] == "passed" and verdicts["labour_hours:2"] == "failed"
        assert verdicts["old_part:1"] == "passed"
        assert [h["to"] for h in claim["history"]] == ["partially_approved"]

        listed = (await claims.client.get("/api/v1/claims", headers=adjuster)).json()
        assert [c["request_no"] for c in listed] == ["SR-2026-100001"]
        [submitted] = await published(claims, "claims.claim.submitted")
        assert Decimal(submitted["amount_claimed"]) == Decimal("620.00")
        [decision] = await published(claims, "claims.claim.partially_approved")
        assert decision["reason_codes"] == ["ELH", "PWA"] and decision["final"] is False
        assert [Decimal(x["amount_approved"]) for x in decision["lines"]] == [
            Decimal("350.00"),
            Decimal("180.00"),
            Decimal("30.00"),
        ]

        # The supplier owes parts, labour, travel and its assessment; it may dispute 5 days.
        [issued] = await published(claims, "claims.supplier_recovery.issued")
        assert Decimal(issued["total"]) == Decimal("1360.00")
        # From the day it was issued, not the test's start: a run can cross midnight.
        issued_on = datetime.fromisoformat(issued["issued_at"]).date()
        assert issued["dispute_deadline"] == str(issued_on + timedelta(days=5))
        recovery_no = issued["recovery_no"]
        shown = (
            await claims.client.get(f"/api/v1/recoveries/{recovery_no}", headers=adjuster)
        ).json()
        assert shown["state"] == "issued" and shown["may_dispute_now"] is True
        assert shown["final_on"] == str(issued_on + timedelta(days=6))

        # Day 5 it is still open; on day 6 it is final and goes to billing.
        desk = Desk.from_settings(ClaimsSettings(close_months_automatically=False))
        await desk_pass(claims.runtime.unit_of_work, desk, NOW + timedelta(days=5))
        assert await published(claims, "claims.supplier_recovery.finalized") == []
        await desk_pass(claims.runtime.unit_of_work, desk, NOW + timedelta(days=6))
        [finalized] = await published(claims, "claims.supplier_recovery.finalized")
        assert finalized["recovery_no"] == recovery_no and finalized["settle_by"] == "chargeback"
        late = await claims.client.post(
            f"/api/v1/recoveries/{recovery_no}/dispute", json={"reason": "late"}, headers=adjuster
        )
        assert late.status_code == 409

        # The month it became final closes for the supplier (the job claim has no dealer to
        # reimburse). That month may not have begun on the real clock, which the API's close
        # reads, so the close runs as the desk would on the day; the list shows it.
        final_day = NOW + timedelta(days=6)
        period = final_day.strftime("%Y-%m")
        manager = staff_headers("manager")
        async with claims.runtime.unit_of_work() as uow:
            closed_numbers = await settlements.close_month(uow, desk, period, final_day)
            await uow.commit()
        assert len(closed_numbers) == 1
        listed = await claims.client.get(f"/api/v1/settlements?period={period}", headers=manager)
        [settlement] = listed.json()
        assert settlement["settlement_no"] == closed_numbers[0]
        assert (settlement["party"], settlement["party_id"]) == ("supplier", "S-01")
        assert Decimal(settlement["total"]) == Decimal("1360.00")
        async with claims.runtime.unit_of_work() as uow:
            assert await settlements.close_month(uow, desk, period, final_day) == []
        assert len(await published(claims, "claims.settlement.closed")) == 1

        chargeback = SupplierChargebackIssuedV1(
            chargeback_no="CB-2026-000001",
            supplier_id="S-01",
            reference=recovery_no,
            settle_by="chargeback",
            total=Decimal("1360.00"),
            currency="CNY",
            issued_at=NOW,
        )
        await send(broker, chargeback, chargeback)

        async def billed() -> dict[str, Any]:
            response = await claims.client.get(
                f"/api/v1/recoveries/{recovery_no}", headers=adjuster
            )
            return response.json()  # type: ignore[no-any-return]

        shown = await eventually(billed, lambda r: r["state"] == "billed", what="billed")
        assert shown["chargeback_no"] == "CB-2026-000001"
        assert shown["chargebacks"] == [
            {
                "chargeback_no": "CB-2026-000001",
                "total": "1360.00",
                "settle_by": "chargeback",
                "issued_at": NOW.isoformat().replace("+00:00", "Z"),
            }
        ]

        cost = (
            await claims.client.get(
                "/api/v1/claims-figures/warranty-cost?by=supplier", headers=adjuster
            )
        ).json()
        decided_in = datetime.fromisoformat(claim["decided_at"]).strftime("%Y-%m")
        assert cost == [{"month": decided_in, "supplier": "S-01", "amount": "350.00"}]
        figures = (
            await claims.client.get("/api/v1/claims-figures", headers=staff_headers("auditor"))
        ).json()
        assert figures["claims_by_status_and_source"]["partially_approved"]["job"] == 1
        assert figures["approval_ratio"] == "1.0000"
        assert figures["reason_codes"]["ELH"] == 1
        assert figures["recoveries_by_state"]["billed"] == 1
        metrics = (await claims.client.get("/metrics")).text
        for name in (
            'aftersales_claims_claims{source="job",status="submitted"}',
            "aftersales_claims_approval_ratio",
            "aftersales_claims_approved_amount",
            'aftersales_claims_reason_codes{reason_code="ELH"}',
            'aftersales_claims_supplier_recoveries{state="issued"}',
            "aftersales_claims_quality_alerts",
        ):
            assert name in metrics, name


async def test_a_dealer_claim_waits_for_its_old_part_and_is_rejected_when_it_is_overdue(
    databases: DatabaseFactory, broker: BrokerSettings, auth: AuthSettings, staff_headers: Headers
) -> None:
    async with claims_service(databases, broker, auth) as claims:
        await set_up_pumps(claims, staff_headers("manager"))
        adjuster = staff_headers("claims_adjuster")
        await send(broker, catalogued("P-1001", "350.00", NOW))
        await send(broker, dealer_work("SR-2026-200001"), dealer_work("SR-2026-200002"))
        await claim_of(claims, adjuster, "SR-2026-200001", "waiting_for_part")
        await claim_of(claims, adjuster, "SR-2026-200002", "waiting_for_part")
        waiting = await published(claims, "claims.claim.waiting_for_part")
        assert sorted(w["request_no"] for w in waiting) == ["SR-2026-200001", "SR-2026-200002"]
        assert waiting[0]["part_nos"] == ["P-1001"]

        overdue = CoreOverdueV1(
            request_no="SR-2026-200001",
            part_no="P-1001",
            quantity_expected=1,
            quantity_received=0,
            due_on=NOW,
            at=NOW,
        )
        await send(broker, overdue, overdue)
        await send(broker, core_received("SR-2026-200002"))
        rejected = await claim_of(claims, adjuster, "SR-2026-200001", "rejected")
        assert rejected["reason_codes"] == ["PNR"]
        assert Decimal(rejected["amount_approved"]) == 0
        approved = await claim_of(claims, adjuster, "SR-2026-200002", "approved")
        assert [h["to"] for h in approved["history"]] == ["waiting_for_part", "approved"]
        # A late receipt does not undo the rejection.
        await send(broker, core_received("SR-2026-200001"))
        [event] = await published(claims, "claims.claim.rejected")
        assert event["reason_codes"] == ["PNR"] and event["dealer_id"] == "D-0001"
        assert len(await published(claims, "claims.claim.approved")) == 1

        pnr = await claims.client.get("/api/v1/claims?reason_code=PNR", headers=adjuster)
        assert [c["request_no"] for c in pnr.json()] == ["SR-2026-200001"]
        by_supplier = await claims.client.get(
            "/api/v1/claims?supplier_id=S-01&status=approved", headers=adjuster
        )
        assert [c["request_no"] for c in by_supplier.json()] == ["SR-2026-200002"]

        def requests(response: httpx.Response) -> list[str]:
            return sorted(c["request_no"] for c in response.json())

        get = claims.client.get
        assert requests(await get("/api/v1/claims?source=dealer_report", headers=adjuster)) == [
            "SR-2026-200001",
            "SR-2026-200002",
        ]
        assert requests(await get("/api/v1/claims?source=job", headers=adjuster)) == []
        assert len(requests(await get("/api/v1/claims?dealer_id=D-0001", headers=adjuster))) == 2
        assert requests(await get("/api/v1/claims?product_model=CK-50", headers=adjuster)) == []
        assert (
            len(
                requests(
                    await get("/api/v1/claims?min_amount=560&max_amount=560", headers=adjuster)
                )
            )
            == 2
        )
        assert requests(await get("/api/v1/claims?min_amount=561", headers=adjuster)) == []
        bad = await get("/api/v1/claims?reason_code=XYZ&min_amount=-1", headers=adjuster)
        assert bad.status_code == 422
        assert {e["field"] for e in bad.json()["errors"]} == {
            "query.reason_code",
            "query.min_amount",
        }

        period = NOW.strftime("%Y-%m")
        by_model = await get("/api/v1/claims-figures/warranty-cost?by=model", headers=adjuster)
        assert by_model.json() == [{"month": period, "model": "WX-200", "amount": "560.00"}]
        by_dealer = await get("/api/v1/claims-figures/warranty-cost?by=dealer", headers=adjuster)
        assert by_dealer.json() == [{"month": period, "dealer": "D-0001", "amount": "560.00"}]

        # The dealer's month: its approved claim is reimbursed; billing's statement settles it.
        manager = staff_headers("manager")
        closed = await claims.client.post(
            "/api/v1/settlements", json={"period": NOW.strftime("%Y-%m")}, headers=manager
        )
        dealer = next(s for s in closed.json() if s["party"] == "dealer")
        assert dealer["party_id"] == "D-0001" and Decimal(dealer["total"]) == Decimal("560.00")
        statement = DealerStatementIssuedV1(
            statement_no="DS-1",
            settlement_no=dealer["settlement_no"],
            dealer_id="D-0001",
            period=dealer["period"],
            total=Decimal("560.00"),
            currency="CNY",
            issued_at=NOW,
        )
        await send(broker, statement, statement)

        async def statements() -> list[Any]:
            response = await claims.client.get("/api/v1/settlements?party=dealer", headers=adjuster)
            return [s["statement_no"] for s in response.json()]

        await eventually(statements, lambda s: s == ["DS-1"], what="statement recorded")


async def test_review_override_needs_a_reason_and_a_dispute_is_ruled_once(
    databases: DatabaseFactory, broker: BrokerSettings, auth: AuthSettings, staff_headers: Headers
) -> None:
    async with claims_service(
        databases, broker, auth, review_threshold_amount=Decimal("100")
    ) as claims:
        await set_up_pumps(claims, staff_headers("manager"))
        adjuster = staff_headers("claims_adjuster", subject="adj-1")
        await send(broker, catalogued("P-1001", "350.00", NOW, return_required=False))
        await send(broker, dealer_work("SR-2026-300001", cause="unknown"))
        claim = await claim_of(claims, adjuster, "SR-2026-300001", "in_review")
        assert any("cause" in r for r in claim["review_reasons"])
        queue = (await claims.client.get("/api/v1/claims/review-queue", headers=adjuster)).json()
        assert [c["claim_no"] for c in queue] == [claim["claim_no"]]
        url = f"/api/v1/claims/{claim['claim_no']}"

        auditor = staff_headers("auditor")
        assert (await claims.client.get(url, headers=auditor)).status_code == 200
        refused = await claims.client.post(f"{url}/decision", json={}, headers=auditor)
        assert refused.status_code == 403
        no_reason = await claims.client.post(
            f"{url}/decision",
            json={"lines": [{"line_no": 3, "amount_approved": "0"}]},
            headers=adjuster,
        )
        assert no_reason.status_code == 422
        assert no_reason.json()["errors"][0]["field"] == "reason"
        too_much = await claims.client.post(
            f"{url}/decision",
            json={"lines": [{"line_no": 1, "amount_approved": "9999"}], "reason": "x"},
            headers=adjuster,
        )
        assert too_much.status_code == 422
        assert (
            await claims.client.post(
                f"{url}/ruling", json={"reason": "x"}, headers=staff_headers("manager")
            )
        ).status_code == 409

        decided = await claims.client.post(
            f"{url}/decision",
            json={
                "lines": [{"line_no": 3, "amount_approved": "0", "reason_codes": ["EXC"]}],
                "reason": "travel was not needed: workshop repair",
            },
            headers=adjuster,
        )
        assert decided.status_code == 200, decided.text
        body = decided.json()
        assert body["status"] == "partially_approved" and body["decided_by"] == "adj-1"
        assert body["reason_codes"] == ["EXC", "PWA"]
        assert body["allowed_actions"] == ["dispute"]

        disputed = await claims.client.post(
            f"{url}/dispute", json={"reason": "we drove 20 km"}, headers=adjuster
        )
        assert disputed.json()["status"] == "disputed"
        again = await claims.client.post(
            f"{url}/dispute", json={"reason": "again"}, headers=adjuster
        )
        assert again.status_code == 409 and again.json()["allowed"] == ["rule"]
        assert (
            await claims.client.post(f"{url}/ruling", json={"reason": "x"}, headers=adjuster)
        ).status_code == 403
        ruled = await claims.client.post(
            f"{url}/ruling",
            json={
                "lines": [{"line_no": 3, "amount_approved": "30.00"}],
                "reason": "travel confirmed",
            },
            headers=staff_headers("manager", subject="mgr-1"),
        )
        assert ruled.status_code == 200, ruled.text
        final = ruled.json()
        assert final["status"] == "approved" and final["final"] is True
        assert final["allowed_actions"] == []
        third = await claims.client.post(
            f"{url}/dispute", json={"reason": "more"}, headers=adjuster
        )
        assert third.status_code == 409
        assert len(await published(claims, "claims.claim.disputed")) == 1
        [approved] = await published(claims, "claims.claim.approved")
        assert approved["final"] is True and approved["decided_by"] == "mgr-1"
        # The cause was never established as a quality defect: no supplier is charged.
        assert await published(claims, "claims.supplier_recovery.issued") == []


async def test_quality_watch_and_register(
    databases: DatabaseFactory, broker: BrokerSettings, auth: AuthSettings, staff_headers: Headers
) -> None:
    async with claims_service(databases, broker, auth, quality_alert_threshold=2) as claims:
        adjuster = staff_headers("claims_adjuster")
        # The repeat-repair flag arrives before the claim it concerns.
        flag = RepeatRepairFlaggedV1(
            request_no="SR-2026-400003",
            serial_no="X",
            product_model="WX-200",
            fault_code="E42",
            previous_request_no="SR-2026-400001",
            previous_completed_at=NOW - timedelta(days=10),
            completed_at=NOW,
        )
        await send(broker, flag, flag)
        reports = [dealer_work(f"SR-2026-40000{i}", serial_no=f"S-{i}") for i in range(1, 5)]
        await send(broker, *reports)
        for report in reports:
            await claim_of(claims, adjuster, report.request_no, "in_review")
        alerts = await published(claims, "claims.quality_alert.raised")
        # Once, however many more come; the count is what was known when it passed.
        [alert] = alerts
        assert (alert["product_model"], alert["fault_code"], alert["threshold"]) == (
            "WX-200",
            "E42",
            2,
        )
        assert alert["count"] > 2
        listed = (await claims.client.get("/api/v1/quality/alerts", headers=adjuster)).json()
        assert len(listed) == 1 and listed[0]["quarter"].startswith(str(NOW.year))
        flagged = await claim_of(claims, adjuster, "SR-2026-400003", "in_review")
        assert flagged["repeat_repair"] is True

        complaint = ComplaintQualityReportedV1(
            request_no="SR-2026-400009",
            complaint_no="CP-1",
            product_model="WX-200",
            product_line="pumps",
            serial_no="S-9",
            dealer_id=None,
            description="水泵漏水",
            cause=None,
            received_at=NOW,
            reported_at=NOW,
        )
        shipped = EmergencyShippedV1(
            request_no="SR-2026-400010",
            emergency_no="EM-1",
            warehouse_id="W-C",
            service_point_id="SP-SH",
            lines=[],
            carrier="顺丰",
            tracking_no="SF123",
            approved_by="mgr-1",
            shipped_at=NOW,
        )
        await send(broker, complaint, shipped, complaint, shipped)

        async def register() -> list[Any]:
            response = await claims.client.get("/api/v1/quality/reports", headers=adjuster)
            return sorted(r["kind"] for r in response.json())

        await eventually(
            register,
            lambda kinds: kinds == ["complaint", "emergency_shipment", "repeat_repair"],
            what="quality register",
        )


async def test_reference_data_api_and_the_demo_seed(
    databases: DatabaseFactory, broker: BrokerSettings, auth: AuthSettings, staff_headers: Headers
) -> None:
    async with claims_service(databases, broker, auth) as claims:
        client = claims.client
        manager, adjuster = staff_headers("manager"), staff_headers("claims_adjuster")
        assert "claims:" in await CLAIMS.seed_demo(claims.runtime.unit_of_work())  # type: ignore[misc]
        await CLAIMS.seed_demo(claims.runtime.unit_of_work())  # type: ignore[misc]
        policies = (await client.get("/api/v1/claims-setup/policies", headers=adjuster)).json()
        assert sorted((p["product_model"], p["period_months"]) for p in policies) == [
            ("CK-50", 24),
            ("WX-200", 12),
            ("WX-300", 12),
        ]
        suppliers = (await client.get("/api/v1/claims-setup/suppliers", headers=adjuster)).json()
        assert [(s["supplier_id"], s["assessment_per_unit"]) for s in suppliers] == [
            ("S-01", "800.00")
        ]
        operations = (await client.get("/api/v1/claims-setup/operations", headers=adjuster)).json()
        assert len(operations) == 4

        bad = await client.post(
            "/api/v1/claims-setup/policies",
            json={"product_model": "", "effective_from": "x", "period_months": -1},
            headers=manager,
        )
        assert bad.status_code == 422
        assert {e["field"] for e in bad.json()["errors"]} >= {
            "product_model",
            "effective_from",
            "period_months",
        }
        assert (
            await client.post("/api/v1/claims-setup/policies", json={}, headers=adjuster)
        ).status_code == 403
        policy_id = policies[0]["id"]
        changed = {**policies[0], "period_months": 18}
        del changed["id"]
        put = await client.put(
            f"/api/v1/claims-setup/policies/{policy_id}", json=changed, headers=manager
        )
        assert put.json()["period_months"] == 18
        assert (
            await client.delete(f"/api/v1/claims-setup/policies/{policy_id}", headers=manager)
        ).status_code == 204
        assert (
            await client.get(f"/api/v1/claims-setup/policies/{policy_id}", headers=adjuster)
        ).status_code == 404
        low = await client.put(
            "/api/v1/claims-setup/suppliers/S-02",
            json={"name": "x", "assessment_per_unit": "100"},
            headers=manager,
        )
        assert low.status_code == 422
        assert date.today().year >= 2026


async def test_every_claims_route_needs_a_token(
    databases: DatabaseFactory, broker: BrokerSettings, auth: AuthSettings
) -> None:
    async with claims_service(databases, broker, auth) as claims:
        paths = (await claims.client.get("/openapi.json")).json()["paths"]
        checked = 0
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
                response = await claims.client.request(method.upper(), concrete, json={})
                assert response.status_code == 401, (method, path, response.status_code)
                checked += 1
        assert checked >= 25
