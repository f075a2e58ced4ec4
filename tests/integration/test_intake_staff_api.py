"""The staff API as a whole: registration refuses bad input field by field and keeps any text
literally, every route checks roles (auditors only read), and reopening is bounded by its
setting."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from services.intake.app import DEFINITION as INTAKE
from shared.settings import AuthSettings, BrokerSettings
from tests.support.databases import DatabaseFactory
from tests.support.services import RunningService, running_service

Headers = Callable[..., dict[str, str]]
REQUESTS = "/api/v1/service-requests"
PROBLEM = "application/problem+json"
REOPEN_WINDOW_SECONDS = 3.0


@pytest.fixture
async def intake(
    databases: DatabaseFactory, broker: BrokerSettings, auth: AuthSettings, tmp_path: Path
) -> AsyncIterator[RunningService]:
    url = await databases.migrated(INTAKE.migrations_dir, "intake")
    async with running_service(
        INTAKE,
        url,
        broker,
        auth,
        secrets_key_file=tmp_path / "k",
        reopen_window_days=REOPEN_WINDOW_SECONDS / 86400,
    ) as service:
        yield service


def _body(**changes: Any) -> dict[str, Any]:
    return {
        "channel": "phone",
        "customer": {"name": "周杰", "phone": "13600000000", "region": "广州"},
        "product": {"model": "CK-50", "serial_no": "CK50-STAFF-1"},
        "fault_description": "压缩机过热报警",
        **changes,
    }


async def test_registration_refuses_bad_input_and_keeps_any_text(
    intake: RunningService, staff_headers: Headers
) -> None:
    agent = staff_headers("intake_agent")

    async def register(body: Any) -> Any:
        return await intake.client.post(REQUESTS, json=body, headers=agent)

    # Every channel the intake department takes.
    for channel in ("phone", "walk_in", "web", "email"):
        made = await register(_body(channel=channel))
        assert made.status_code == 201, made.text
        assert made.json()["channel"] == channel

    missing = await register({})
    assert missing.status_code == 422 and missing.headers["content-type"] == PROBLEM
    assert {e["field"] for e in missing.json()["errors"]} >= {
        "channel",
        "customer",
        "product",
        "fault_description",
    }

    wrong = await register(
        _body(
            channel="fax",
            request="teleport",
            severity="critical",
            customer={"name": 7, "phone": ["13600000000"]},
            product={"model": None},
            quantity="two",
            purchase_date="yesterday",
            fault_occurred_at="2026-11-20T08:30:00",  # no offset: not a moment in time
        )
    )
    assert wrong.status_code == 422 and wrong.headers["content-type"] == PROBLEM
    assert {e["field"] for e in wrong.json()["errors"]} >= {
        "channel",
        "request",
        "severity",
        "customer.name",
        "customer.phone",
        "product.model",
        "product.serial_no",
        "quantity",
        "purchase_date",
        "fault_occurred_at",
    }

    huge = await register(
        _body(
            fault_description="漏" * 5001,
            customer={"name": "张" * 201, "phone": "1" * 51, "address": "路" * 501},
            fault_code="E" * 51,
        )
    )
    assert huge.status_code == 422
    assert {e["field"] for e in huge.json()["errors"]} >= {
        "fault_description",
        "customer.name",
        "customer.phone",
        "customer.address",
        "fault_code",
    }
    a_megabyte = await register(_body(fault_description="x" * 1_100_000))
    assert a_megabyte.status_code in (413, 422)

    for not_an_object in (b"{not json", b"[1, 2]", b'"text"'):
        answer = await intake.client.post(
            REQUESTS, content=not_an_object, headers={**agent, "content-type": "application/json"}
        )
        assert answer.status_code == 422, not_an_object

    # SQL-looking and Chinese text is only text: stored and shown back as given.
    sql = "'; DROP TABLE service_requests; --"
    kept = await register(
        _body(
            fault_description=f"{sql} 机器不制冷，显示E42",
            customer={
                "name": "Robert'); DROP TABLE customers;--",
                "phone": "13600000001",
                "address": "广州市天河区珠江新城 8 号",
                "region": "广州",
            },
        )
    )
    assert kept.status_code == 201, kept.text
    read = await intake.client.get(f"{REQUESTS}/{kept.json()['request_no']}", headers=agent)
    assert read.json()["fault_description"] == f"{sql} 机器不制冷，显示E42"
    assert read.json()["customer"]["name"] == "Robert'); DROP TABLE customers;--"
    assert read.json()["customer"]["address"] == "广州市天河区珠江新城 8 号"

    # Bad path values are 404 or 422, never a 500.
    for number in ("SR-2026-999999", "'; DROP TABLE x; --", "销售单"):
        answer = await intake.client.get(f"{REQUESTS}/{number}", headers=agent)
        assert answer.status_code in (404, 422), number


# Values for path parameters: the checks must answer before anything is looked up.
PATH_VALUES = {
    "request_no": "SR-2026-000001",
    "dealer_id": "D0001",
    "secret_id": "1",
    "customer_id": "1",
    "serial_no": "WX200-1",
    "model": "WX-200",
}
PUBLIC = {"/api/v1/surveys/{token}"}  # the one-time survey link: the link is the key


def _staff_routes(intake: RunningService) -> list[tuple[str, str]]:
    # From the published schema: it lists every route of every router the service mounts.
    routes = []
    for template, operations in intake.app.openapi()["paths"].items():
        if not template.startswith("/api/v1/") or template.startswith("/api/v1/dealer/"):
            continue
        if template in PUBLIC:
            continue
        path = re.sub(r"\{(\w+)\}", lambda m: PATH_VALUES.get(m[1], "x"), template)
        routes.extend((method.upper(), path) for method in sorted(operations))
    return routes


async def test_every_staff_route_checks_roles_and_auditors_only_read(
    intake: RunningService, staff_headers: Headers
) -> None:
    routes = _staff_routes(intake)
    assert len(routes) >= 40  # every router is mounted

    async def status(method: str, path: str, headers: dict[str, str]) -> int:
        answer = await intake.client.request(method, path, headers=headers)
        return answer.status_code

    unknown = [(m, p) for m, p in routes if await status(m, p, {}) != 401]
    assert unknown == [], "answer without a token"
    outsiders = staff_headers("dispatcher", "technician", "parts_clerk")
    outside = [(m, p) for m, p in routes if await status(m, p, outsiders) != 403]
    assert outside == [], "answer other departments"

    auditor = staff_headers("auditor")
    answers = await asyncio.gather(*(status(m, p, auditor) for m, p in routes))
    refused_reads = [r for r, s in zip(routes, answers, strict=True) if r[0] == "GET" and s == 403]
    allowed_writes = [r for r, s in zip(routes, answers, strict=True) if r[0] != "GET" and s != 403]
    assert refused_reads == [], "auditors read everything"
    assert allowed_writes == [], "auditors change nothing"


async def test_reopen_only_within_the_window_setting(
    intake: RunningService, staff_headers: Headers
) -> None:
    agent = staff_headers("intake_agent")
    made = await intake.client.post(REQUESTS, json=_body(), headers=agent)
    number = made.json()["request_no"]

    async def act(action: str, payload: dict[str, Any] | None = None) -> Any:
        return await intake.client.post(
            f"{REQUESTS}/{number}/{action}", json=payload, headers=agent
        )

    assert (await act("acknowledge")).status_code == 200
    assert (await act("triage", {"kind": "consultation", "severity": "consultation"})).json()[
        "status"
    ] == "triaged"
    assert (await act("resolve-remotely", {"note": "电话指导"})).status_code == 200
    assert (await act("close")).json()["status"] == "closed"
    reopened = await act("reopen", {"reason": "客户再次来电"})
    assert reopened.status_code == 200 and reopened.json()["status"] == "acknowledged"

    assert (await act("resolve-remotely", {"note": "再次指导"})).status_code == 200
    assert (await act("close")).json()["status"] == "closed"
    await asyncio.sleep(REOPEN_WINDOW_SECONDS + 0.5)
    late = await act("reopen", {"reason": "太晚了"})
    assert late.status_code == 409 and late.headers["content-type"] == PROBLEM
    assert late.json()["status_now"] == "closed"
    assert late.json()["allowed"] == []
    assert (await act("reopen", {"reason": ""})).status_code == 422
