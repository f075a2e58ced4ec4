"""Satisfaction surveys after closing: by an agent or through a one-time link; averages."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import update

from services.intake.app import DEFINITION as INTAKE
from services.intake.db.models import ServiceRequestRow
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


async def _closed_request(intake: RunningService, agent: dict[str, str]) -> str:
    body = {
        "channel": "phone",
        "customer": {"name": "冯巩", "phone": "13000000000"},
        "product": {"model": "CK-50", "serial_no": "CK50-S"},
        "fault_description": "咨询保养周期",
    }
    number = (await intake.client.post(REQUESTS, json=body, headers=agent)).json()["request_no"]
    await intake.client.post(f"{REQUESTS}/{number}/acknowledge", headers=agent)
    await intake.client.post(
        f"{REQUESTS}/{number}/resolve-remotely", json={"note": "电话告知"}, headers=agent
    )
    closed = await intake.client.post(f"{REQUESTS}/{number}/close", headers=agent)
    assert closed.json()["status"] == "closed"
    return str(number)


async def test_agent_records_one_survey_per_closed_request(
    intake: RunningService, staff_headers: Headers
) -> None:
    agent = staff_headers("intake_agent")
    number = await _closed_request(intake, agent)
    recorded = await intake.client.post(
        f"{REQUESTS}/{number}/survey", json={"score": 4, "comment": "回复及时"}, headers=agent
    )
    assert recorded.status_code == 201, recorded.text
    assert recorded.json()["channel"] == "staff" and recorded.json()["comment"] == "回复及时"
    again = await intake.client.post(
        f"{REQUESTS}/{number}/survey", json={"score": 5}, headers=agent
    )
    assert again.status_code == 409

    open_one = (
        await intake.client.post(
            REQUESTS,
            json={
                "channel": "web",
                "customer": {"name": "x", "phone": "130"},
                "product": {"model": "m", "serial_no": "s"},
                "fault_description": "d",
            },
            headers=agent,
        )
    ).json()["request_no"]
    not_closed = await intake.client.post(
        f"{REQUESTS}/{open_one}/survey", json={"score": 3}, headers=agent
    )
    assert not_closed.status_code == 409
    for bad in ({"score": 0}, {"score": 6}, {"score": "good"}, {}, {"score": 3, "stars": 5}):
        answer = await intake.client.post(f"{REQUESTS}/{number}/survey", json=bad, headers=agent)
        assert answer.status_code == 422, bad
    missing = await intake.client.post(
        f"{REQUESTS}/SR-2026-999999/survey", json={"score": 3}, headers=agent
    )
    assert missing.status_code == 404


async def test_customer_answers_through_a_one_time_link(
    intake: RunningService, staff_headers: Headers
) -> None:
    agent = staff_headers("intake_agent")
    number = await _closed_request(intake, agent)
    first = (await intake.client.post(f"{REQUESTS}/{number}/survey-link", headers=agent)).json()
    second = (await intake.client.post(f"{REQUESTS}/{number}/survey-link", headers=agent)).json()
    # Only the newest link works.
    stale = await intake.client.post(first["link"], json={"score": 1})
    assert stale.status_code == 404
    answered = await intake.client.post(second["link"], json={"score": 5, "comment": "很满意"})
    assert answered.status_code == 201, answered.text
    assert answered.json()["channel"] == "link"
    assert (await intake.client.post(second["link"], json={"score": 1})).status_code == 404
    assert (
        await intake.client.post(f"{REQUESTS}/{number}/survey-link", headers=agent)
    ).status_code == 409
    assert (await intake.client.post("/api/v1/surveys/short", json={"score": 1})).status_code == 422


async def test_averages_per_month_and_dealer(
    intake: RunningService, staff_headers: Headers
) -> None:
    agent = staff_headers("intake_agent")
    for score in (5, 4, 2):
        number = await _closed_request(intake, agent)
        await intake.client.post(
            f"{REQUESTS}/{number}/survey", json={"score": score}, headers=agent
        )
    month = datetime.now(UTC).strftime("%Y-%m")
    manager = staff_headers("manager")
    by_month = await intake.client.get("/api/v1/surveys/averages?by=month", headers=manager)
    assert by_month.json() == [{"key": month, "answers": 3, "average": 3.67}]
    by_dealer = await intake.client.get(
        "/api/v1/surveys/averages?by=dealer", headers=staff_headers("auditor")
    )
    assert by_dealer.json() == [{"key": "-", "answers": 3, "average": 3.67}]
    assert (
        await intake.client.get("/api/v1/surveys/averages?by=year", headers=manager)
    ).status_code == 422


async def test_averages_per_dealer_and_technician(
    intake: RunningService, staff_headers: Headers
) -> None:
    agent = staff_headers("intake_agent")
    # (dealer, technician) each request went through; the assignment normally comes from
    # dispatch's events, which test_intake_following covers.
    who = [
        ("D0001", "T01", "李强"),
        ("D0001", "T02", "王伟"),
        ("D0002", "T01", "李强"),
        (None, None, None),
    ]
    for (dealer_id, technician_id, name), score in zip(who, (5, 3, 4, 1), strict=True):
        number = await _closed_request(intake, agent)
        async with intake.runtime.sessions() as session:
            await session.execute(
                update(ServiceRequestRow)
                .where(ServiceRequestRow.request_no == number)
                .values(dealer_id=dealer_id, technician_id=technician_id, technician_name=name)
            )
            await session.commit()
        answer = await intake.client.post(
            f"{REQUESTS}/{number}/survey", json={"score": score}, headers=agent
        )
        assert answer.status_code == 201, answer.text

    async def averages(by: str) -> dict[str, tuple[int, float]]:
        answer = await intake.client.get(f"/api/v1/surveys/averages?by={by}", headers=agent)
        assert answer.status_code == 200, answer.text
        return {a["key"]: (a["answers"], a["average"]) for a in answer.json()}

    assert await averages("dealer") == {"D0001": (2, 4.0), "D0002": (1, 4.0), "-": (1, 1.0)}
    assert await averages("technician") == {
        "T01 李强": (2, 4.5),
        "T02 王伟": (1, 3.0),
        "-": (1, 1.0),
    }
