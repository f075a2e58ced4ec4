"""What intake announces: triage in v1 and v2 (with the customer's position), remote
resolution, closing and surveys; and the customers' records that give the position."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from services.intake.app import DEFINITION as INTAKE
from services.intake.db.models import ProductModelRow
from shared.db.messaging_tables import outbox
from shared.settings import AuthSettings, BrokerSettings
from tests.support.databases import DatabaseFactory
from tests.support.services import RunningService, running_service

Headers = Callable[..., dict[str, str]]
REQUESTS = "/api/v1/service-requests"
CUSTOMERS = "/api/v1/customers"


@pytest.fixture
async def intake(
    databases: DatabaseFactory, broker: BrokerSettings, auth: AuthSettings, tmp_path: Path
) -> AsyncIterator[RunningService]:
    url = await databases.migrated(INTAKE.migrations_dir, "intake")
    async with running_service(INTAKE, url, broker, auth, secrets_key_file=tmp_path / "k") as s:
        async with s.runtime.sessions() as session:
            session.add(
                ProductModelRow(
                    model="WX-200", name="WX-200 水泵", product_line="pumps",
                    warranty_months=12, covers_parts=True, covers_labour=True,
                    covers_travel=True,
                )
            )  # fmt: skip
            await session.commit()
        yield s


async def published(intake: RunningService, routing_key: str) -> list[dict[str, Any]]:
    async with intake.runtime.sessions() as session:
        rows = await session.execute(
            select(outbox.c.envelope)
            .where(outbox.c.routing_key == routing_key)
            .order_by(outbox.c.id)
        )
        return [json.loads(envelope)["data"] for envelope in rows.scalars()]


async def test_customer_record_with_a_position(
    intake: RunningService, staff_headers: Headers
) -> None:
    agent = staff_headers("intake_agent")
    body = {"name": "陈静", "phone": "13700000000", "other_phones": ["021-5555 0000"],
            "address": "上海市徐汇区漕溪北路 1 号", "region": "上海",
            "latitude": "31.1880", "longitude": "121.4365"}  # fmt: skip
    made = await intake.client.post(CUSTOMERS, json=body, headers=agent)
    assert made.status_code == 201, made.text
    record = made.json()
    assert made.headers["Location"] == f"{CUSTOMERS}/{record['customer_id']}"
    assert (Decimal(record["latitude"]), Decimal(record["longitude"])) == (
        Decimal("31.188"),
        Decimal("121.4365"),
    )
    assert record["other_phones"] == ["021-5555 0000"]

    moved = await intake.client.patch(
        f"{CUSTOMERS}/{record['customer_id']}",
        json={
            "address": "上海市浦东新区世纪大道 100 号",
            "latitude": 31.2354,
            "longitude": 121.5055,
        },
        headers=agent,
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["name"] == "陈静" and moved.json()["address"].startswith("上海市浦东")
    assert Decimal(moved.json()["latitude"]) == Decimal("31.2354")
    read = await intake.client.get(
        f"{CUSTOMERS}/{record['customer_id']}", headers=staff_headers("auditor")
    )
    assert read.json() == moved.json()

    # Bad input: half a position, out of range, wrong types; the wrong people; nobody.
    half = await intake.client.post(CUSTOMERS, json={**body, "longitude": None}, headers=agent)
    assert half.status_code == 422
    wrong = await intake.client.post(
        CUSTOMERS, json={**body, "latitude": 91, "phone": "abc"}, headers=agent
    )
    assert wrong.status_code == 422
    assert {e["field"] for e in wrong.json()["errors"]} >= {"latitude", "phone"}
    assert (
        await intake.client.patch(f"{CUSTOMERS}/1", json={"name": 5}, headers=agent)
    ).status_code == 422
    assert (
        await intake.client.post(CUSTOMERS, json=body, headers=staff_headers("auditor"))
    ).status_code == 403
    assert (
        await intake.client.post(CUSTOMERS, json=body, headers=staff_headers("dispatcher"))
    ).status_code == 403
    assert (await intake.client.get(f"{CUSTOMERS}/999999", headers=agent)).status_code == 404
    assert (
        await intake.client.patch(f"{CUSTOMERS}/999999", json={"name": "x"}, headers=agent)
    ).status_code == 404


async def test_triage_is_published_in_v2_only_with_the_position(
    intake: RunningService, staff_headers: Headers
) -> None:
    agent = staff_headers("intake_agent")
    body = {
        "channel": "phone",
        "customer": {"name": "周杰", "phone": "13812345678", "address": "北京市海淀区中关村",
                     "region": "北京", "latitude": 39.9834, "longitude": 116.3162},
        "product": {"model": "WX-200", "serial_no": "WX200-V2-1"},
        "purchase_date": "2026-06-01",
        "fault_description": "水泵不出水",
        "request": "repair",
        "quantity": 2,
    }  # fmt: skip
    created = await intake.client.post(REQUESTS, json=body, headers=agent)
    assert created.status_code == 201, created.text
    number = created.json()["request_no"]
    customer_id = created.json()["customer"]["customer_id"]
    assert customer_id is not None
    triaged = await intake.client.post(
        f"{REQUESTS}/{number}/triage", json={"kind": "repair", "severity": "urgent"}, headers=agent
    )
    assert triaged.json()["status"] == "handed_to_dispatch"

    # v1 is no longer published: dispatch reads it only for events sent before the switch.
    assert await published(intake, "intake.request.triaged.v1") == []
    [v2] = await published(intake, "intake.request.triaged.v2")
    assert v2["request_no"] == number
    assert v2["response_due_at"] is not None
    assert (Decimal(v2["latitude"]), Decimal(v2["longitude"])) == (
        Decimal("39.9834"),
        Decimal("116.3162"),
    )
    assert v2["customer_id"] == str(customer_id)
    assert (v2["channel"], v2["quantity"], v2["purchase_date"]) == ("phone", 2, "2026-06-01")
    assert (v2["product_line"], v2["in_warranty"], v2["warranty_expires_on"]) == (
        "pumps",
        True,
        "2027-06-01",
    )
    assert v2["fault_description"] == "水泵不出水" and v2["dealer_id"] is None

    # Without a position the event still goes, with none.
    plain = {**body, "customer": {"name": "吴磊", "phone": "13811111111", "region": "北京"}}
    other = (await intake.client.post(REQUESTS, json=plain, headers=agent)).json()["request_no"]
    await intake.client.post(
        f"{REQUESTS}/{other}/triage", json={"kind": "repair", "severity": "ordinary"}, headers=agent
    )
    v2s = await published(intake, "intake.request.triaged.v2")
    assert [(e["request_no"], e["latitude"]) for e in v2s][-1] == (other, None)
    half = {**body, "customer": {**body["customer"], "latitude": None}}
    assert (await intake.client.post(REQUESTS, json=half, headers=agent)).status_code == 422


async def test_remote_resolution_closing_and_survey_are_announced(
    intake: RunningService, staff_headers: Headers
) -> None:
    agent = staff_headers("intake_agent")
    body = {
        "channel": "web",
        "customer": {"name": "郑爽", "phone": "13922222222"},
        "product": {"model": "WX-200", "serial_no": "WX200-R-1"},
        "fault_description": "如何调节压力？",
        "request": "consultation",
    }
    number = (await intake.client.post(REQUESTS, json=body, headers=agent)).json()["request_no"]
    await intake.client.post(f"{REQUESTS}/{number}/acknowledge", headers=agent)
    await intake.client.post(
        f"{REQUESTS}/{number}/resolve-remotely", json={"note": "电话指导调压"}, headers=agent
    )
    await intake.client.post(f"{REQUESTS}/{number}/close", headers=agent)
    await intake.client.post(
        f"{REQUESTS}/{number}/survey", json={"score": 5, "comment": "很满意"}, headers=agent
    )

    [resolved] = await published(intake, "intake.request.resolved_remotely.v1")
    assert (resolved["request_no"], resolved["resolution"]) == (number, "电话指导调压")
    assert resolved["product_model"] == "WX-200"
    [closed] = await published(intake, "intake.request.closed.v1")
    assert closed["request_no"] == number
    [survey] = await published(intake, "intake.survey.recorded.v1")
    assert (survey["request_no"], survey["score"], survey["comment"]) == (number, 5, "很满意")
