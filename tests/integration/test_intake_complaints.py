"""The complaints register: open with a cause, quality complaints to claims at once (and a
2 h clock if nobody decides), verification meets its clock, the result closes it; the
analysis report; bad input and roles."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from services.intake.app import DEFINITION as INTAKE
from services.intake.db.models import SlaClockRow
from shared.db.messaging_tables import outbox
from shared.settings import AuthSettings, BrokerSettings
from tests.support.databases import DatabaseFactory
from tests.support.services import RunningService, running_service
from tests.support.waiting import eventually

Headers = Callable[..., dict[str, str]]
REQUESTS = "/api/v1/service-requests"


@pytest.fixture
async def intake(
    databases: DatabaseFactory, broker: BrokerSettings, auth: AuthSettings, tmp_path: Path
) -> AsyncIterator[RunningService]:
    url = await databases.migrated(INTAKE.migrations_dir, "intake")
    async with running_service(
        INTAKE, url, broker, auth, secrets_key_file=tmp_path / "k", sla_check_seconds=0.1
    ) as service:
        yield service


async def _complaint_request(
    intake: RunningService, agent: dict[str, str], model: str = "WX-200", **extra: Any
) -> str:
    body = {
        "channel": "phone",
        "customer": {"name": "黄蓉", "phone": "13600001111", "region": "广州"},
        "product": {"model": model, "serial_no": f"{model}-CP"},
        "fault_description": "新机两周内三次漏水，要求退货",
        "request": "complaint",
        **extra,
    }
    answer = await intake.client.post(REQUESTS, json=body, headers=agent)
    assert answer.status_code == 201, answer.text
    return str(answer.json()["request_no"])


async def _published(intake: RunningService, routing_key: str) -> list[dict[str, Any]]:
    async with intake.runtime.sessions() as session:
        rows = await session.execute(
            select(outbox.c.envelope)
            .where(outbox.c.routing_key == routing_key)
            .order_by(outbox.c.id)
        )
        return [json.loads(e)["data"] for e in rows.scalars()]


async def _clocks(intake: RunningService, number: str, agent: dict[str, str]) -> dict[str, Any]:
    read = (await intake.client.get(f"{REQUESTS}/{number}", headers=agent)).json()
    return {c["target"]: c for c in read["sla"]}


async def test_a_quality_complaint_is_registered_passed_on_verified_and_resolved(
    intake: RunningService, staff_headers: Headers
) -> None:
    agent = staff_headers("intake_agent")
    number = await _complaint_request(intake, agent)
    clocks = await _clocks(intake, number, agent)
    assert set(clocks) == {
        "complaint_acknowledgement", "complaint_first_verification", "complaint_quality_report"
    }  # fmt: skip
    assert clocks["complaint_first_verification"]["basis"] == "working"

    def url(tail: str = "") -> str:
        return f"{REQUESTS}/{number}/complaint{tail}"

    opened = await intake.client.post(url(), json={"cause": "product_quality"}, headers=agent)
    assert opened.status_code == 201, opened.text
    complaint = opened.json()
    assert complaint["complaint_no"].startswith("CP-") and complaint["quality"] is True
    assert complaint["description"] == "新机两周内三次漏水，要求退货"
    assert complaint["reported_to_quality_at"] is not None
    [reported] = await _published(intake, "intake.complaint.quality_reported.v1")
    assert (reported["request_no"], reported["complaint_no"]) == (number, complaint["complaint_no"])
    assert (reported["product_model"], reported["cause"]) == ("WX-200", "product_quality")
    assert (await _clocks(intake, number, agent))["complaint_quality_report"]["status"] == "met"

    # Said again: not passed on twice; and only one register entry per request.
    again = await intake.client.post(
        url("/cause"), json={"cause": "product_quality"}, headers=agent
    )
    assert again.status_code == 200
    assert len(await _published(intake, "intake.complaint.quality_reported.v1")) == 1
    assert (
        await intake.client.post(url(), json={"cause": "other"}, headers=agent)
    ).status_code == 409

    early = await intake.client.post(url("/resolve"), json={"result": "退货"}, headers=agent)
    assert early.status_code == 409
    assert early.json()["allowed"] == ["add_step", "classify"]
    assert early.json()["status_now"] == "open"
    await intake.client.post(
        url("/steps"), json={"kind": "contact", "note": "已致电客户"}, headers=agent
    )
    verified = await intake.client.post(
        url("/steps"), json={"kind": "verification", "note": "经销商现场确认密封圈缺陷"},
        headers=agent,
    )  # fmt: skip
    assert verified.json()["status"] == "verified"
    assert [s["kind"] for s in verified.json()["steps"]] == ["contact", "verification"]
    assert (await _clocks(intake, number, agent))["complaint_first_verification"]["status"] == (
        "met"
    )
    resolved = await intake.client.post(
        url("/resolve"), json={"result": "更换新机，客户接受"}, headers=agent
    )
    assert resolved.json()["status"] == "resolved"
    assert resolved.json()["result"] == "更换新机，客户接受"
    late = await intake.client.post(
        url("/steps"), json={"kind": "note", "note": "x"}, headers=agent
    )
    assert late.status_code == 409 and late.json()["allowed"] == []

    read = (await intake.client.get(f"{REQUESTS}/{number}", headers=agent)).json()
    summaries = [e["summary"] for e in read["timeline"]]
    assert any(s.startswith("登记投诉 CP-") for s in summaries)
    assert "质量投诉已转质量部门（索赔）" in summaries
    assert summaries[-1] == "投诉处理结果：更换新机，客户接受"
    assert (await intake.client.get(url(), headers=staff_headers("auditor"))).json() == (
        resolved.json()
    )


async def test_another_cause_is_passed_on_only_when_reclassified_as_quality(
    intake: RunningService, staff_headers: Headers
) -> None:
    agent = staff_headers("intake_agent")
    number = await _complaint_request(intake, agent)
    opened = await intake.client.post(
        f"{REQUESTS}/{number}/complaint",
        json={"cause": "service_attitude", "description": "技师态度恶劣"},
        headers=agent,
    )
    assert opened.json()["quality"] is False and opened.json()["reported_to_quality_at"] is None
    assert await _published(intake, "intake.complaint.quality_reported.v1") == []
    # Deciding it is not quality meets the 2 h clock too.
    assert (await _clocks(intake, number, agent))["complaint_quality_report"]["status"] == "met"
    changed = await intake.client.post(
        f"{REQUESTS}/{number}/complaint/cause", json={"cause": "product_quality"}, headers=agent
    )
    assert changed.json()["quality"] is True
    [reported] = await _published(intake, "intake.complaint.quality_reported.v1")
    assert reported["description"] == "技师态度恶劣"


async def test_an_undecided_complaint_breaches_its_2_hour_clock(
    intake: RunningService, staff_headers: Headers
) -> None:
    agent = staff_headers("intake_agent")
    number = await _complaint_request(intake, agent)
    async with intake.runtime.sessions() as session:
        row = (
            await session.execute(
                select(SlaClockRow).where(
                    SlaClockRow.request_no == number,
                    SlaClockRow.target == "complaint_quality_report",
                )
            )
        ).scalar_one()
        assert row.due_at is not None
        row.started_at, row.due_at = (
            row.started_at - timedelta(hours=3),
            row.due_at - timedelta(hours=3),
        )
        await session.commit()
    breached = await eventually(
        lambda: _published(intake, "intake.sla.breached.v1"), lambda b: len(b) == 1
    )
    assert (breached[0]["request_no"], breached[0]["target"]) == (number, "quality_report")


async def test_refusals_bad_input_and_roles(intake: RunningService, staff_headers: Headers) -> None:
    agent = staff_headers("intake_agent")
    repair = await intake.client.post(
        REQUESTS,
        json={"channel": "phone", "customer": {"name": "甲", "phone": "13000000001"},
              "product": {"model": "WX-200", "serial_no": "S-R"}, "fault_description": "坏了",
              "request": "repair"},
        headers=agent,
    )  # fmt: skip
    not_complaint = await intake.client.post(
        f"{REQUESTS}/{repair.json()['request_no']}/complaint",
        json={"cause": "other"}, headers=agent,
    )  # fmt: skip
    assert not_complaint.status_code == 409
    number = await _complaint_request(intake, agent)
    url = f"{REQUESTS}/{number}/complaint"
    assert (await intake.client.get(url, headers=agent)).status_code == 404
    bad = await intake.client.post(url, json={"cause": "teleport", "extra": 1}, headers=agent)
    assert bad.status_code == 422
    assert {e["field"] for e in bad.json()["errors"]} == {"cause", "extra"}
    assert (
        await intake.client.post(url, json={"cause": "other", "description": "x" * 5001},
                                 headers=agent)
    ).status_code == 422  # fmt: skip
    assert (
        await intake.client.post(f"{url}/steps", json={"kind": "note", "note": ""}, headers=agent)
    ).status_code == 422
    missing = f"{REQUESTS}/SR-2026-999999/complaint"
    assert (
        await intake.client.post(missing, json={"cause": "other"}, headers=agent)
    ).status_code == 404
    assert (
        await intake.client.post(f"{missing}/steps", json={"kind": "note", "note": "x"},
                                 headers=agent)
    ).status_code == 404  # fmt: skip
    for role in ("auditor", "dispatcher"):
        assert (
            await intake.client.post(url, json={"cause": "other"}, headers=staff_headers(role))
        ).status_code == 403
    assert (
        await intake.client.get("/api/v1/complaints", headers=staff_headers("billing_clerk"))
    ).status_code == 403


async def test_analysis_counts_by_cause_model_and_month(
    intake: RunningService, staff_headers: Headers
) -> None:
    agent = staff_headers("intake_agent")
    for model, cause in [("WX-200", "product_quality"), ("WX-200", "charges"),
                         ("CK-50", "product_quality")]:  # fmt: skip
        number = await _complaint_request(intake, agent, model=model)
        await intake.client.post(
            f"{REQUESTS}/{number}/complaint", json={"cause": cause}, headers=agent
        )
    manager = staff_headers("manager")
    report = (await intake.client.get("/api/v1/complaints/analysis", headers=manager)).json()
    assert report["total"] == 3 and report["quality"] == 2
    assert report["by_cause"] == [
        {"key": "product_quality", "count": 2}, {"key": "charges", "count": 1}
    ]  # fmt: skip
    assert report["by_model"] == [{"key": "WX-200", "count": 2}, {"key": "CK-50", "count": 1}]
    assert [m["count"] for m in report["by_month"]] == [3]
    csv_answer: httpx.Response = await intake.client.get(
        "/api/v1/complaints/analysis?format=csv", headers=staff_headers("auditor")
    )
    assert csv_answer.headers["content-type"].startswith("text/csv")
    lines = csv_answer.text.splitlines()
    assert lines[0] == "dimension,key,count" and "model,CK-50,1" in lines
    future = await intake.client.get(
        "/api/v1/complaints/analysis",
        params={"received_from": "2099-01-01T00:00:00+00:00"},
        headers=manager,
    )
    assert future.json()["total"] == 0
    assert (
        await intake.client.get("/api/v1/complaints/analysis?received_from=yesterday",
                                headers=manager)
    ).status_code == 422  # fmt: skip
    listed = await intake.client.get(
        "/api/v1/complaints?cause=product_quality&product_model=WX-200", headers=manager
    )
    assert [c["cause"] for c in listed.json()] == ["product_quality"]
