"""SLA clocks on requests: started at receipt on the right target, met by an agent, paused
while the customer is awaited, breached once, listed when due soon."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from services.intake.app import DEFINITION as INTAKE
from services.intake.db.models import ServiceRequestRow, SlaClockRow
from shared.db.messaging_tables import outbox
from shared.settings import AuthSettings, BrokerSettings
from tests.support.databases import DatabaseFactory
from tests.support.metrics import sample
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


async def _register(
    intake: RunningService, headers: dict[str, str], **extra: Any
) -> dict[str, Any]:
    body = {
        "channel": "phone",
        "customer": {"name": "钱多多", "phone": "13100000000", "region": "上海"},
        "product": {"model": "WX-200", "serial_no": "WX200-SLA"},
        "fault_description": "压力不足",
        **extra,
    }
    answer = await intake.client.post(REQUESTS, json=body, headers=headers)
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def _at(value: str) -> datetime:
    return datetime.fromisoformat(value)


async def test_urgent_request_gets_a_30_minute_clock_met_by_the_agent(
    intake: RunningService, staff_headers: Headers
) -> None:
    agent = staff_headers("intake_agent")
    created = await _register(intake, agent, severity="urgent")
    [clock] = created["sla"]
    assert clock["target"] == "response_urgent" and clock["status"] == "running"
    assert _at(clock["due_at"]) == _at(created["received_at"]) + timedelta(minutes=30)

    number = created["request_no"]
    acknowledged = await intake.client.post(f"{REQUESTS}/{number}/acknowledge", headers=agent)
    [clock] = acknowledged.json()["sla"]
    assert clock["status"] == "met" and clock["met_at"] is not None


async def test_the_first_answer_is_measured_once(
    intake: RunningService, staff_headers: Headers
) -> None:
    agent = staff_headers("intake_agent")
    name = "aftersales_intake_response_seconds_count"
    before = sample(name, target="response_ordinary")
    number = (await _register(intake, agent, severity="ordinary"))["request_no"]
    await _age_clock(intake, number, timedelta(minutes=10))
    async with intake.runtime.sessions() as session:
        # As if received ten minutes ago: the measure runs from receipt.
        row = await session.get(ServiceRequestRow, await _row_id(intake, number))
        assert row is not None
        row.received_at -= timedelta(minutes=10)
        await session.commit()
    total_before = sample("aftersales_intake_response_seconds_sum", target="response_ordinary")
    await intake.client.post(f"{REQUESTS}/{number}/acknowledge", headers=agent)
    assert sample(name, target="response_ordinary") == before + 1
    took = sample("aftersales_intake_response_seconds_sum", target="response_ordinary")
    assert 600 <= took - total_before < 660
    # Neither a refused step nor a later one is a first answer.
    assert (
        await intake.client.post(f"{REQUESTS}/{number}/acknowledge", headers=agent)
    ).status_code == 409
    await intake.client.post(
        f"{REQUESTS}/{number}/triage", json={"kind": "repair", "severity": "urgent"}, headers=agent
    )
    assert sample(name, target="response_ordinary") == before + 1


async def _row_id(intake: RunningService, number: str) -> int:
    async with intake.runtime.sessions() as session:
        return int(
            (
                await session.execute(
                    select(ServiceRequestRow.id).where(ServiceRequestRow.request_no == number)
                )
            ).scalar_one()
        )


async def test_triage_moves_the_clock_to_the_target_of_the_new_severity(
    intake: RunningService, staff_headers: Headers
) -> None:
    agent = staff_headers("intake_agent")
    created = await _register(intake, agent)  # no severity: an ordinary fault, 2 hours
    assert created["sla"][0]["target"] == "response_ordinary"
    assert _at(created["sla"][0]["due_at"]) == _at(created["received_at"]) + timedelta(hours=2)
    triaged = await intake.client.post(
        f"{REQUESTS}/{created['request_no']}/triage",
        json={"kind": "repair", "severity": "urgent"},
        headers=agent,
    )
    [clock] = triaged.json()["sla"]
    # Counted from receipt, not from the triage; and the agent's triage answered it.
    assert clock["target"] == "response_urgent"
    assert _at(clock["started_at"]) == _at(created["received_at"])
    assert clock["status"] == "met"


async def test_waiting_on_the_customer_stops_the_clock_visibly(
    intake: RunningService, staff_headers: Headers
) -> None:
    agent = staff_headers("intake_agent")
    created = await _register(intake, agent, severity="ordinary")
    number = created["request_no"]
    first_due = _at(created["sla"][0]["due_at"])

    waiting = await intake.client.post(
        f"{REQUESTS}/{number}/wait-for-customer", json={"reason": "等客户发铭牌照片"}, headers=agent
    )
    assert waiting.status_code == 200, waiting.text
    [clock] = waiting.json()["sla"]
    assert clock["status"] == "paused" and clock["due_at"] is None
    assert clock["paused_since"] is not None
    assert waiting.json()["timeline"][-1]["summary"] == "等待客户：等客户发铭牌照片"
    again = await intake.client.post(
        f"{REQUESTS}/{number}/wait-for-customer", json={"reason": "x"}, headers=agent
    )
    assert again.status_code == 409

    answered = await intake.client.post(f"{REQUESTS}/{number}/customer-answered", headers=agent)
    [clock] = answered.json()["sla"]
    assert clock["status"] == "running" and clock["paused_total_seconds"] > 0
    # The due time moved by exactly the time spent waiting.
    assert _at(clock["due_at"]) == first_due + timedelta(seconds=clock["paused_total_seconds"])
    assert (
        await intake.client.post(f"{REQUESTS}/{number}/customer-answered", headers=agent)
    ).status_code == 409


async def _age_clock(intake: RunningService, number: str, by: timedelta) -> None:
    """Move a clock into the past, as if the request had been received ``by`` ago."""
    async with intake.runtime.sessions() as session:
        row = (
            await session.execute(select(SlaClockRow).where(SlaClockRow.request_no == number))
        ).scalar_one()
        assert row.due_at is not None
        row.started_at, row.due_at = row.started_at - by, row.due_at - by
        await session.commit()


async def test_a_clock_past_due_is_breached_once_counted_and_listed(
    intake: RunningService, staff_headers: Headers
) -> None:
    agent = staff_headers("intake_agent")
    late = await _register(intake, agent, severity="urgent")
    soon = await _register(intake, agent, severity="urgent")
    relaxed = await _register(intake, agent, severity="consultation")
    before = sample("aftersales_intake_sla_breaches_total", target="response_urgent")
    await _age_clock(intake, late["request_no"], timedelta(hours=1))

    async def clock_of(number: str) -> dict[str, Any]:
        answer: httpx.Response = await intake.client.get(f"{REQUESTS}/{number}", headers=agent)
        return dict(answer.json()["sla"][0])

    breached = await eventually(
        lambda: clock_of(late["request_no"]), lambda c: c["breached_at"] is not None
    )
    assert breached["status"] == "breached"
    assert breached["breached_at"] == breached["due_at"]
    await eventually(
        lambda: sample("aftersales_intake_sla_breaches_total", target="response_urgent"),
        lambda n: n == before + 1,
    )
    # Later passes of the monitor (every 0.1 s here) do not count it again.
    await asyncio.sleep(0.5)
    assert sample("aftersales_intake_sla_breaches_total", target="response_urgent") == before + 1
    async with intake.runtime.sessions() as session:
        envelopes = (
            await session.execute(
                select(outbox.c.envelope).where(outbox.c.routing_key == "intake.sla.breached.v1")
            )
        ).scalars()
        announced = [json.loads(e)["data"] for e in envelopes]
    assert [(a["request_no"], a["target"], a["severity"]) for a in announced] == [
        (late["request_no"], "response", "urgent")
    ]
    assert announced[0]["due_at"] == announced[0]["breached_at"]

    due = await intake.client.get("/api/v1/sla/due?within_minutes=60", headers=agent)
    listed = [(c["request_no"], c["status"]) for c in due.json()]
    assert listed[0] == (late["request_no"], "breached")  # the most overdue first
    assert (soon["request_no"], "running") in listed
    assert relaxed["request_no"] not in [n for n, _ in listed]  # due in 24 hours
    now_only = await intake.client.get("/api/v1/sla/due?within_minutes=0", headers=agent)
    assert [c["request_no"] for c in now_only.json()] == [late["request_no"]]
    assert (
        await intake.client.get("/api/v1/sla/due?within_minutes=-1", headers=agent)
    ).status_code == 422
    assert (
        await intake.client.get("/api/v1/sla/due", headers=staff_headers("dispatcher"))
    ).status_code == 403


async def test_open_requests_are_counted_by_status(
    intake: RunningService, staff_headers: Headers
) -> None:
    agent = staff_headers("intake_agent")
    kept = await _register(intake, agent)
    gone = await _register(intake, agent)
    await intake.client.post(f"{REQUESTS}/{kept['request_no']}/acknowledge", headers=agent)
    await intake.client.post(
        f"{REQUESTS}/{gone['request_no']}/cancel", json={"reason": "重复"}, headers=agent
    )
    # This test's database holds only these two; the gauge is set from it every 0.1 s.
    await eventually(
        lambda: (
            sample("aftersales_intake_open_requests", status="acknowledged"),
            sample("aftersales_intake_open_requests", status="received"),
        ),
        lambda counts: counts == (1.0, 0.0),
    )
    metrics = (await intake.client.get("/metrics")).text
    assert 'aftersales_intake_open_requests{status="cancelled"}' not in metrics
