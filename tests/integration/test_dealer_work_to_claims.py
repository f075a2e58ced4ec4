"""A dealer's report of warranty work it already did opens one warranty claim in claims."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import httpx
from sqlalchemy import select

from services.claims.app import DEFINITION as CLAIMS
from services.intake.app import DEFINITION as INTAKE
from shared.db.messaging_tables import outbox
from shared.settings import AuthSettings, BrokerSettings
from tests.support.databases import DatabaseFactory
from tests.support.dealer_client import DealerClient, contract_report
from tests.support.services import running_service
from tests.support.waiting import eventually

Headers = Callable[..., dict[str, str]]


async def test_dealer_work_opens_one_claim_with_its_lines(
    databases: DatabaseFactory,
    broker: BrokerSettings,
    auth: AuthSettings,
    staff_headers: Headers,
    tmp_path: Path,
) -> None:
    intake_db = await databases.migrated(INTAKE.migrations_dir, "intake")
    claims_db = await databases.migrated(CLAIMS.migrations_dir, "claims")
    async with (
        running_service(CLAIMS, claims_db, broker, auth) as claims,
        running_service(INTAKE, intake_db, broker, auth, secrets_key_file=tmp_path / "k") as intake,
    ):
        made = await intake.client.post(
            "/api/v1/admin/dealers", json={"name": "上海服务站"}, headers=staff_headers("admin")
        )
        dealer = DealerClient(intake.client, made.json()["dealer_id"], made.json()["secret"])
        report = contract_report()
        report["work_done"]["labour_hours"] = "1.75"
        report["work_done"]["parts_replaced"].append({"part_no": "P-2002", "quantity": 2})
        created = await dealer.post_report(report, key="work-1")
        assert created.status_code == 201
        number = created.json()["request_no"]
        # The dealer's retry changes nothing downstream.
        assert (await dealer.post_report(report, key="work-1")).status_code == 201

        adjuster = staff_headers("claims_adjuster")

        async def in_review() -> httpx.Response:
            return await claims.client.get("/api/v1/claims?status=in_review", headers=adjuster)

        # No warranty policy, labour operation or catalogue entry is known here: the rules
        # cannot decide, and the claim waits for an adjuster.
        listed = await eventually(in_review, lambda a: len(a.json()) == 1, what="one claim")
        claim = listed.json()[0]
        assert claim["request_no"] == number
        assert claim["claim_no"].startswith("WC-") and claim["claim_no"].endswith("000001")
        assert claim["source"] == "dealer_report"
        assert claim["dealer_id"] == dealer.dealer_id
        assert claim["cause"] == "quality_defect"
        assert claim["in_warranty_at_intake"] is True
        assert Decimal(claim["labour_hours"]) == Decimal("1.75")
        assert Decimal(claim["travel_km"]) == Decimal("20")
        assert claim["parts"] == [
            {"part_no": "P-1001", "quantity": 1, "old_part_serial": "OP-77812"},
            {"part_no": "P-2002", "quantity": 2, "old_part_serial": None},
        ]
        one = await claims.client.get(f"/api/v1/claims/{claim['claim_no']}", headers=adjuster)
        assert {k: v for k, v in one.json().items() if k in claim} == claim
        assert [line["kind"] for line in one.json()["lines"]] == [
            "part",
            "part",
            "labour",
            "travel",
        ]
        assert one.json()["review_reasons"]
        assert one.json()["allowed_actions"] == ["decide", "rerun"]
        assert (
            await claims.client.get("/api/v1/claims/WC-2026-999999", headers=adjuster)
        ).status_code == 404
        assert (
            await claims.client.get("/api/v1/claims", headers=staff_headers("billing_clerk"))
        ).status_code == 403

        # A report without work done opens no claim.
        plain = contract_report("DLR-PLAIN")
        del plain["work_done"]
        assert (await dealer.post_report(plain, key="plain")).status_code == 201
        async with intake.runtime.sessions() as session:
            kinds = (await session.execute(select(outbox.c.event_type))).scalars().all()
        assert sorted(kinds).count("intake.dealer_work.reported") == 1
        assert sorted(kinds).count("intake.request.registered") == 2
