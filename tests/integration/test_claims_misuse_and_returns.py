"""Claims for misuse found on site (lifecycle §4) and for workshop returns (§5), on the real
RabbitMQ and PostgreSQL: diagnoses, completed jobs and returns replayed and out of order
open one claim per request, decided once, and the list finds it by request."""

from __future__ import annotations

from datetime import UTC, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from services.claims.commands.desk import Desk
from services.claims.commands.loops import desk_pass
from services.claims.db.models import ClaimRow
from services.claims.db.repository import ClaimRepository
from services.claims.events.handlers import (
    on_job_diagnosed,
    on_request_triaged,
    on_return_repaired,
)
from services.claims.settings import ClaimsSettings
from shared.db.messaging_tables import inbox
from shared.events.envelope import Envelope
from shared.events.registry import EventSchema
from shared.events.schemas.dispatch import JobDiagnosedV1
from shared.events.schemas.intake import RequestTriagedV2, ReturnPartV1, ReturnRepairedV1
from shared.events.schemas.parts import CoreReceivedV1
from shared.messaging.outbox import envelope_for
from shared.settings import AuthSettings, BrokerSettings
from tests.integration.test_claims_adjudication import (
    NOW,
    Headers,
    catalogued,
    claim_of,
    claims_service,
    job_completed,
    published,
    set_up_pumps,
)
from tests.integration.test_claims_desk import claims_database, events, report
from tests.support.broker import publish_envelopes
from tests.support.databases import DatabaseFactory
from tests.support.services import RunningService
from tests.support.waiting import eventually

DESK = Desk.from_settings(ClaimsSettings(close_months_automatically=False))


def diagnosed(request_no: str, **changes: Any) -> JobDiagnosedV1:
    values: dict[str, Any] = {
        "request_no": request_no,
        "technician_id": "T-1",
        "service_point_id": "SP-SH",
        "kind": "repair",
        "product_line": "pumps",
        "product_model": "WX-200",
        "serial_no": f"WX200-{request_no}",
        "purchase_date": (NOW - timedelta(days=100)).date(),
        "in_warranty": True,
        "dealer_id": None,
        "customer_name": "张伟",
        "cause": "misuse",
        "fault_code": "E42",
        "findings": "进水，外壳摔裂",
        "diagnosed_at": NOW - timedelta(hours=2),
    }
    values.update(changes)
    return JobDiagnosedV1(**values)


def return_repaired(request_no: str, **changes: Any) -> ReturnRepairedV1:
    values: dict[str, Any] = {
        "request_no": request_no,
        "return_no": f"RT-{request_no}",
        "product_model": "WX-200",
        "serial_no": f"WX200-{request_no}",
        "in_warranty": True,
        "cause": "quality_defect",
        "fault_code": "E42",
        "labour_hours": Decimal("1.50"),
        "parts_replaced": [ReturnPartV1(part_no="P-1001", quantity=1, old_part_serial="OP-5")],
        "repaired_by": "车间 王工",
        "repaired_at": NOW - timedelta(hours=1),
    }
    values.update(changes)
    return ReturnRepairedV1(**values)


def triaged(request_no: str, **changes: Any) -> RequestTriagedV2:
    values: dict[str, Any] = {
        "request_no": request_no,
        "kind": "return_for_repair",
        "severity": "ordinary",
        "visit_needed": False,
        "route": "dispatch",
        "channel": "phone",
        "product_line": "pumps",
        "product_model": "WX-200",
        "serial_no": f"WX200-{request_no}",
        "quantity": 1,
        "purchase_date": (NOW - timedelta(days=100)).date(),
        "in_warranty": True,
        "warranty_expires_on": None,
        "dealer_id": "D-0007",
        "customer_id": None,
        "customer_name": "张伟",
        "customer_phone": "13800000000",
        "address": None,
        "region": "上海",
        "latitude": None,
        "longitude": None,
        "fault_description": "不出水",
        "response_due_at": None,
        "triaged_at": NOW - timedelta(days=5),
    }
    values.update(changes)
    return RequestTriagedV2(**values)


async def handled(
    claims: RunningService, broker: BrokerSettings, *sent: EventSchema | Envelope
) -> None:
    """Publish (an envelope twice is a redelivery, an event twice a replay under a new id),
    wait until claims has handled each and the desk has decided what they opened."""
    envelopes = [e if isinstance(e, Envelope) else envelope_for(e) for e in sent]
    await publish_envelopes(broker, envelopes)
    wanted = {str(e.id) for e in envelopes}

    async def seen() -> set[str]:
        async with claims.runtime.sessions() as session:
            rows = await session.execute(select(inbox.c.message_id))
            return set(rows.scalars())

    await eventually(seen, lambda ids: wanted <= ids, what="events handled")

    async def undecided() -> int:
        # The service's own desk may hold a claim this pass skips: wait for it too.
        await desk_pass(claims.runtime.unit_of_work, DESK)
        async with claims.runtime.sessions() as session:
            rows = await session.execute(
                select(ClaimRow.claim_no).where(ClaimRow.status == "submitted")
            )
            return len(rows.all())

    await eventually(undecided, lambda n: n == 0, what="claims decided")


async def by_request(
    claims: RunningService, headers: dict[str, str], request_no: str
) -> list[dict[str, Any]]:
    response = await claims.client.get(f"/api/v1/claims?request_no={request_no}", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


async def test_misuse_found_on_site_is_rejected_cdr_at_once_and_stays_one_claim(
    databases: DatabaseFactory, broker: BrokerSettings, auth: AuthSettings, staff_headers: Headers
) -> None:
    async with claims_service(databases, broker, auth) as claims:
        await set_up_pumps(claims, staff_headers("manager"))
        adjuster = staff_headers("claims_adjuster")
        await handled(claims, broker, catalogued("P-1001", "350.00", NOW, return_required=False))
        first = envelope_for(diagnosed("SR-2026-400001"))
        # Delivered twice and replayed: one claim.
        await handled(claims, broker, first, first, diagnosed("SR-2026-400001"))

        claim = await claim_of(claims, adjuster, "SR-2026-400001", "rejected")
        assert (claim["source"], claim["cause"]) == ("job", "misuse")
        assert claim["lines"] == [] and claim["reason_codes"] == ["CDR"]
        assert (claim["amount_claimed"], claim["amount_approved"]) == ("0.00", "0.00")
        assert claim["fault_description"] == "进水，外壳摔裂"
        verdicts = {r["rule"]: r["verdict"] for r in claim["rule_results"]}
        assert verdicts["cause"] == "failed" and verdicts["defect_found"] == "not_applicable"
        [rejected] = await published(claims, "claims.claim.rejected")
        assert (rejected["request_no"], rejected["source"], rejected["cause"]) == (
            "SR-2026-400001",
            "job",
            "misuse",
        )
        assert rejected["lines"] == [] and rejected["reason_codes"] == ["CDR"]
        assert Decimal(rejected["amount_claimed"]) == Decimal(rejected["amount_approved"]) == 0
        assert rejected["decided_by"] == "rules" and rejected["final"] is False

        # The customer accepted the quote and the paid repair was done (or the report says a
        # quality defect after all): the request keeps its one claim, decided as it was.
        await handled(
            claims,
            broker,
            job_completed("SR-2026-400001", cause="misuse"),
            job_completed("SR-2026-400001", cause="quality_defect"),
            diagnosed("SR-2026-400001"),
        )
        [only] = await by_request(claims, adjuster, "SR-2026-400001")
        assert only["claim_no"] == claim["claim_no"] and only["status"] == "rejected"
        assert len(await published(claims, "claims.claim.submitted")) == 1
        assert len(await published(claims, "claims.claim.rejected")) == 1
        assert await published(claims, "claims.supplier_recovery.issued") == []

        # Warranty not known at triage: the policy in force at purchase decides. Anything
        # but the customer's damage, or a unit out of warranty, opens nothing at diagnosis.
        await handled(
            claims,
            broker,
            diagnosed("SR-2026-400002", in_warranty=None),
            diagnosed(
                "SR-2026-400003",
                in_warranty=None,
                purchase_date=(NOW - timedelta(days=800)).date(),
            ),
            diagnosed("SR-2026-400004", in_warranty=None, purchase_date=None),
            diagnosed("SR-2026-400005", in_warranty=False),
            diagnosed("SR-2026-400006", cause="quality_defect"),
            diagnosed("SR-2026-400007", cause="human_damage"),
        )
        opened = (await claims.client.get("/api/v1/claims", headers=adjuster)).json()
        assert sorted(c["request_no"] for c in opened) == [
            "SR-2026-400001",
            "SR-2026-400002",
            "SR-2026-400007",
        ]
        assert {c["status"] for c in opened} == {"rejected"}
        for request_no in ("SR-2026-400003", "SR-2026-400006"):
            assert await by_request(claims, adjuster, request_no) == []

        # The completed job first (its report has the lines), the diagnosis after: one claim
        # with the repair's lines, all rejected CDR.
        await handled(
            claims,
            broker,
            job_completed("SR-2026-400011", cause="misuse"),
            job_completed("SR-2026-400012", cause="misuse", in_warranty=None),
        )
        await handled(claims, broker, diagnosed("SR-2026-400011"))
        [late] = await by_request(claims, adjuster, "SR-2026-400011")
        # Refused whole for CDR; the line the rules cut anyway keeps its own code.
        assert late["status"] == "rejected" and late["reason_codes"] == ["CDR", "ELH"]
        assert Decimal(late["amount_claimed"]) == Decimal("620.00")
        assert late["amount_approved"] == "0.00"
        [unknown] = await by_request(claims, adjuster, "SR-2026-400012")
        assert unknown["status"] == "rejected"  # in warranty by the policy: CDR
        # Misuse claims are no product failure: no quality alert counts them.
        figures = (await claims.client.get("/api/v1/claims-figures", headers=adjuster)).json()
        assert figures["reason_codes"]["CDR"] == 5
        bad = await claims.client.get("/api/v1/claims?request_no=" + "9" * 21, headers=adjuster)
        assert bad.status_code == 422


async def test_a_workshop_return_opens_a_claim_gated_by_its_old_part(
    databases: DatabaseFactory, broker: BrokerSettings, auth: AuthSettings, staff_headers: Headers
) -> None:
    async with claims_service(databases, broker, auth) as claims:
        await set_up_pumps(claims, staff_headers("manager"))
        adjuster = staff_headers("claims_adjuster")
        repaired = return_repaired("SR-2026-500001")
        await handled(
            claims,
            broker,
            catalogued("P-1001", "350.00", NOW),
            triaged("SR-2026-500001"),
            triaged("SR-2026-500002"),
        )
        await handled(
            claims,
            broker,
            repaired,
            repaired,
            return_repaired("SR-2026-500002", cause="misuse"),
            return_repaired("SR-2026-500003", in_warranty=False),
            return_repaired("SR-2026-500004", cause="wear"),
        )

        claim = await claim_of(claims, adjuster, "SR-2026-500001", "waiting_for_part")
        assert claim["source"] == "return"
        # Triage's facts: the purchase date for the warranty, the line for standard hours.
        assert (claim["product_line"], claim["dealer_id"]) == ("pumps", "D-0007")
        assert claim["purchase_date"] == str((NOW - timedelta(days=100)).date())
        assert [(x["kind"], x["amount_claimed"]) for x in claim["lines"]] == [
            ("part", "350.00"),
            ("labour", "180.00"),
        ]
        assert claim["parts"] == [{"part_no": "P-1001", "quantity": 1, "old_part_serial": "OP-5"}]
        [waiting] = await published(claims, "claims.claim.waiting_for_part")
        assert waiting["part_nos"] == ["P-1001"]

        # The workshop hands the old part in at parts: parts.core.received, as for a job.
        received = CoreReceivedV1(
            request_no="SR-2026-500001",
            part_no="P-1001",
            quantity=1,
            serials=["OP-5"],
            matched=True,
            mismatches=[],
            supplier_id="S-01",
            received_at=NOW,
        )
        await handled(claims, broker, received)
        approved = await claim_of(claims, adjuster, "SR-2026-500001", "approved")
        assert approved["amount_approved"] == "530.00"
        [decision] = await published(claims, "claims.claim.approved")
        assert decision["source"] == "return" and decision["reason_codes"] == []
        [issued] = await published(claims, "claims.supplier_recovery.issued")
        assert issued["request_no"] == "SR-2026-500001"
        assert Decimal(issued["travel"]) == Decimal("0.00")

        misused = await claim_of(claims, adjuster, "SR-2026-500002", "rejected")
        assert misused["source"] == "return" and misused["reason_codes"] == ["CDR"]
        for request_no in ("SR-2026-500003", "SR-2026-500004"):
            assert await by_request(claims, adjuster, request_no) == []
        listed = await claims.client.get("/api/v1/claims?source=return", headers=adjuster)
        assert [c["request_no"] for c in listed.json()] == ["SR-2026-500001", "SR-2026-500002"]
        assert len(await published(claims, "claims.claim.submitted")) == 2


async def test_a_return_reported_before_its_triage_gets_triages_facts(
    databases: DatabaseFactory,
) -> None:
    async with claims_database(databases) as unit_of_work:
        older, newer = (
            triaged("SR-2026-500101", triaged_at=NOW - timedelta(days=6), product_line="fans"),
            triaged("SR-2026-500101", triaged_at=NOW - timedelta(days=5)),
        )
        for event in (return_repaired("SR-2026-500101", in_warranty=None), newer, older):
            uow = unit_of_work()
            async with uow:
                if isinstance(event, ReturnRepairedV1):
                    await on_return_repaired(uow, event, envelope_for(event))
                else:
                    await on_request_triaged(uow, event, envelope_for(event))
                await uow.commit()
        await desk_pass(unit_of_work, DESK, NOW)
        [approved] = await events(unit_of_work, "claims.claim.approved")
        # The older triage, arriving last, changed nothing: the pumps' standard hours held.
        assert approved["source"] == "return"
        assert [Decimal(x["amount_approved"]) for x in approved["lines"]] == [
            Decimal("350.00"),
            Decimal("180.00"),
        ]
        assert approved["decided_at"].startswith(str(NOW.astimezone(UTC).date()))


async def test_a_misuse_claim_with_nothing_claimed_makes_no_later_claim_a_duplicate(
    databases: DatabaseFactory,
) -> None:
    """Misuse diagnosed on site opens a claim with no lines (rejected CDR, 0.00); a genuine
    repair of the same unit and fault days later is judged on its own, not as a duplicate.
    A genuine claim still makes the next one within the window a duplicate."""
    async with claims_database(databases) as unit_of_work:
        serial = "WX200-DUP-1"
        misuse = diagnosed(
            "SR-2026-600001", serial_no=serial, diagnosed_at=NOW - timedelta(days=10)
        )
        uow = unit_of_work()
        async with uow:
            await on_job_diagnosed(uow, misuse, envelope_for(misuse))
            await uow.commit()
        await desk_pass(unit_of_work, DESK, NOW)
        await report(
            unit_of_work, "SR-2026-600002", serial_no=serial, completed_at=NOW - timedelta(days=2)
        )
        await desk_pass(unit_of_work, DESK, NOW)
        await report(
            unit_of_work, "SR-2026-600003", serial_no=serial, completed_at=NOW - timedelta(days=1)
        )
        await desk_pass(unit_of_work, DESK, NOW)

        rejected = {e["request_no"]: e for e in await events(unit_of_work, "claims.claim.rejected")}
        assert rejected["SR-2026-600001"]["reason_codes"] == ["CDR"]
        assert Decimal(rejected["SR-2026-600001"]["amount_claimed"]) == 0
        [approved] = await events(unit_of_work, "claims.claim.approved")
        assert approved["request_no"] == "SR-2026-600002"
        assert approved["reason_codes"] == [] and Decimal(approved["amount_approved"]) > 0
        # The genuine claim before it makes the third a duplicate, naming only that one.
        assert rejected["SR-2026-600003"]["reason_codes"] == ["DUP"]
        uow = unit_of_work()
        async with uow:
            third = await ClaimRepository(uow.session).for_request("SR-2026-600003")
        assert third is not None
        [duplicate] = [r for r in third.rule_results if r["rule"] == "duplicate"]
        assert duplicate["verdict"] == "failed"
        assert approved["claim_no"] in duplicate["detail"]
        assert rejected["SR-2026-600001"]["claim_no"] not in duplicate["detail"]
