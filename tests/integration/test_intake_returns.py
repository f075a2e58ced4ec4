"""Return-for-repair through the staff API: every step in order, a failed inspection back to
repair, events for arrival, inspection and shipping, 409 for steps out of order."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from services.intake.app import DEFINITION as INTAKE
from shared.db.messaging_tables import outbox
from shared.settings import AuthSettings, BrokerSettings
from tests.support.databases import DatabaseFactory
from tests.support.services import RunningService, running_service

Headers = Callable[..., dict[str, str]]
REQUESTS = "/api/v1/service-requests"


@pytest.fixture
async def intake(
    databases: DatabaseFactory, broker: BrokerSettings, auth: AuthSettings, tmp_path: Path
) -> AsyncIterator[RunningService]:
    url = await databases.migrated(INTAKE.migrations_dir, "intake")
    async with running_service(INTAKE, url, broker, auth, secrets_key_file=tmp_path / "k") as s:
        yield s


async def _published(intake: RunningService, routing_key: str) -> list[dict[str, Any]]:
    async with intake.runtime.sessions() as session:
        rows = await session.execute(
            select(outbox.c.envelope)
            .where(outbox.c.routing_key == routing_key)
            .order_by(outbox.c.id)
        )
        return [json.loads(e)["data"] for e in rows.scalars()]


async def _request(intake: RunningService, agent: dict[str, str]) -> str:
    body = {
        "channel": "walk_in",
        "customer": {"name": "林黛玉", "phone": "13500002222", "region": "上海"},
        "product": {"model": "CK-50", "serial_no": "CK50-RR-1"},
        "purchase_date": "2026-05-01",
        "fault_description": "压缩机不启动，客户寄回维修",
    }
    number = (await intake.client.post(REQUESTS, json=body, headers=agent)).json()["request_no"]
    triaged = await intake.client.post(
        f"{REQUESTS}/{number}/triage",
        json={"kind": "return_for_repair", "severity": "ordinary", "visit_needed": False},
        headers=agent,
    )
    assert triaged.json()["status"] == "triaged", triaged.text
    return str(number)


REPAIR = {
    "cause": "quality_defect", "fault_code": "E31", "labour_hours": "1.5",
    "parts_replaced": [{"part_no": "P-1001", "quantity": 1, "old_part_serial": "OLD-77"}],
}  # fmt: skip


async def test_a_unit_goes_through_repair_and_back_to_the_customer(
    intake: RunningService, staff_headers: Headers
) -> None:
    agent = staff_headers("intake_agent")
    number = await _request(intake, agent)
    url = f"{REQUESTS}/{number}/return"

    async def step(tail: str, body: dict[str, Any] | None = None) -> httpx.Response:
        return await intake.client.post(f"{url}{tail}", json=body, headers=agent)

    received = await step("", {"condition": "外壳轻微划痕", "accessories": ["电源线", "说明书"]})
    assert received.status_code == 201, received.text
    assert received.json()["return_no"].startswith("RR-")
    assert received.json()["status"] == "received"
    assert (await step("", {"condition": "again"})).status_code == 409

    refused = await step("/ship", {"carrier": "顺丰", "tracking_no": "SF100"})
    assert refused.status_code == 409
    assert refused.json()["allowed"] == ["store"] and refused.json()["status_now"] == "received"

    assert (await step("/store", {"location": "维修仓 A-01-03"})).json()["status"] == "stored"
    assert (await step("/send-to-repair")).json()["status"] == "in_repair"
    failed = await step("/inspect", {"passed": False, "notes": "仍有异响"})
    assert failed.json()["status"] == "in_repair" and failed.json()["repair_rounds"] == 2
    assert (await step("/inspect", {"passed": True})).status_code == 422  # no repair report
    passed = await step("/inspect", {"passed": True, "repair": REPAIR})
    assert passed.json()["status"] == "passed_inspection", passed.text
    assert passed.json()["repair"]["cause"] == "quality_defect"
    shipped = await step(
        "/ship", {"carrier": "顺丰", "tracking_no": "SF1234567890", "shipping_cost": "25.00"}
    )
    assert shipped.json()["status"] == "shipped"
    confirmed = await step("/confirm-receipt")
    assert confirmed.json()["status"] == "receipt_confirmed"
    assert confirmed.json()["confirmed_at"] is not None
    assert [h["status"] for h in confirmed.json()["history"]] == [
        "stored", "in_repair", "in_repair", "passed_inspection", "shipped", "receipt_confirmed",
    ]  # fmt: skip
    assert (await step("/store", {"location": "B"})).json()["allowed"] == []

    [arrived] = await _published(intake, "intake.return.received.v1")
    assert (arrived["request_no"], arrived["return_no"]) == (number, received.json()["return_no"])
    assert arrived["accessories"] == ["电源线", "说明书"] and arrived["in_warranty"] is True
    inspections = await _published(intake, "intake.return.inspected.v1")
    assert [(i["passed"], i["notes"]) for i in inspections] == [(False, "仍有异响"), (True, None)]
    [repaired] = await _published(intake, "intake.return.repaired.v1")
    assert (repaired["return_no"], repaired["in_warranty"], repaired["cause"]) == (
        received.json()["return_no"], True, "quality_defect",
    )  # fmt: skip
    assert Decimal(repaired["labour_hours"]) == Decimal("1.5")
    assert repaired["parts_replaced"] == [
        {"part_no": "P-1001", "quantity": 1, "old_part_serial": "OLD-77"}
    ]
    assert repaired["repaired_by"] == "tester"
    [sent] = await _published(intake, "intake.return.shipped.v1")
    assert (sent["carrier"], sent["tracking_no"]) == ("顺丰", "SF1234567890")
    assert Decimal(sent["shipping_cost"]) == Decimal("25.00")

    # The request: repaired once the unit passed inspection, so it can be closed.
    read = (await intake.client.get(f"{REQUESTS}/{number}", headers=agent)).json()
    assert read["status"] == "repaired"
    assert read["timeline"][-1]["summary"] == "客户确认收货"
    assert (await intake.client.post(f"{REQUESTS}/{number}/close", headers=agent)).json()[
        "status"
    ] == "closed"
    listed = await intake.client.get(
        "/api/v1/returns?status=receipt_confirmed", headers=staff_headers("auditor")
    )
    assert [r["request_no"] for r in listed.json()] == [number]


async def test_bad_input_missing_requests_and_roles(
    intake: RunningService, staff_headers: Headers
) -> None:
    agent = staff_headers("intake_agent")
    number = await _request(intake, agent)
    url = f"{REQUESTS}/{number}/return"
    assert (await intake.client.get(url, headers=agent)).status_code == 404
    assert (
        await intake.client.post(f"{url}/store", json={"location": "A"}, headers=agent)
    ).status_code == 404
    bad = await intake.client.post(url, json={"accessories": "电源线", "x": 1}, headers=agent)
    assert bad.status_code == 422
    assert {e["field"] for e in bad.json()["errors"]} >= {"condition", "accessories", "x"}
    await intake.client.post(url, json={"condition": "完好"}, headers=agent)
    await intake.client.post(f"{url}/store", json={"location": "A"}, headers=agent)
    await intake.client.post(f"{url}/send-to-repair", headers=agent)
    for repair in (
        {**REPAIR, "cause": "bad luck"},
        {**REPAIR, "labour_hours": "-1"},
        {**REPAIR, "parts_replaced": [{"part_no": "P-1", "quantity": 0}]},
    ):
        answer = await intake.client.post(
            f"{url}/inspect", json={"passed": True, "repair": repair}, headers=agent
        )
        assert answer.status_code == 422, repair
    await intake.client.post(
        f"{url}/inspect", json={"passed": True, "repair": REPAIR}, headers=agent
    )
    for shipment in (
        {"carrier": "顺丰", "tracking_no": "'; DROP TABLE returns;--"},
        {"carrier": "顺丰", "tracking_no": "SF1", "shipping_cost": "-1"},
        {"carrier": "", "tracking_no": "SF1"},
    ):
        answer = await intake.client.post(f"{url}/ship", json=shipment, headers=agent)
        assert answer.status_code == 422, shipment
    assert (
        await intake.client.post(f"{url}/inspect", json={"passed": "maybe"}, headers=agent)
    ).status_code == 422
    for role in ("auditor", "dispatcher"):
        assert (
            await intake.client.post(f"{url}/confirm-receipt", headers=staff_headers(role))
        ).status_code == 403
    assert (
        await intake.client.post(
            f"{REQUESTS}/SR-2026-999999/return", json={"condition": "x"}, headers=agent
        )
    ).status_code == 404
