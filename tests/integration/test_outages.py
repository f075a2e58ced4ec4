"""Outages of the real broker and database: requests keep being answered or are refused
clearly, /ready tells, and nothing is lost when the server is back."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import aio_pika
import httpx
import pytest

from services.dispatch.app import DEFINITION as DISPATCH
from services.intake.app import DEFINITION as INTAKE
from shared.settings import AuthSettings, BrokerSettings
from tests.support.databases import DatabaseFactory
from tests.support.faults import postgres_stopped, rabbitmq_stopped
from tests.support.services import RunningService, running_service
from tests.support.waiting import eventually

pytestmark = pytest.mark.fault


def _request(n: int) -> dict[str, object]:
    return {
        "channel": "web",
        "customer": {"name": f"客户{n}", "phone": "13900000000"},
        "product": {"model": "WX-200", "serial_no": f"WX200-{n:04d}"},
        "fault_description": "漏水",
    }


async def _register(intake: RunningService, headers: dict[str, str], n: int) -> str:
    answer = await intake.client.post("/api/v1/service-requests", json=_request(n), headers=headers)
    assert answer.status_code == 201, answer.text
    return str(answer.json()["request_no"])


async def _ready(service: RunningService) -> int:
    return (await service.client.get("/ready")).status_code


async def test_broker_outage_keeps_intake_answering_and_loses_no_event(
    databases: DatabaseFactory,
    broker: BrokerSettings,
    auth: AuthSettings,
    staff_headers: Callable[..., dict[str, str]],
) -> None:
    intake_db = await databases.migrated(INTAKE.migrations_dir, "intake")
    dispatch_db = await databases.migrated(DISPATCH.migrations_dir, "dispatch")
    agent = staff_headers("intake_agent")
    dispatcher = staff_headers("dispatcher")

    async with (
        running_service(DISPATCH, dispatch_db, broker, auth) as dispatch,
        running_service(INTAKE, intake_db, broker, auth) as intake,
    ):
        await eventually(lambda: _ready(dispatch), lambda s: s == 200, what="dispatch ready")
        numbers = [await _register(intake, agent, n) for n in range(5)]

        async with rabbitmq_stopped():
            await eventually(lambda: _ready(intake), lambda s: s == 503, what="intake not ready")
            await eventually(lambda: _ready(dispatch), lambda s: s == 503)
            for n in range(5, 25):
                numbers.append(await _register(intake, agent, n))
            assert intake.runtime.relay is not None
            pending, _lag = await intake.runtime.relay.refresh_gauges()
            assert pending >= 20

        await eventually(lambda: _ready(intake), lambda s: s == 200, within=30)
        # The consumer came back too, not only the connection (aio-pika #231, #669).
        await eventually(lambda: _ready(dispatch), lambda s: s == 200, within=30)

        async def missing_at_dispatch() -> list[str]:
            answers = await asyncio.gather(
                *(
                    dispatch.client.get(f"/api/v1/incoming-requests/{n}", headers=dispatcher)
                    for n in numbers
                )
            )
            return [n for n, a in zip(numbers, answers, strict=True) if a.status_code != 200]

        await eventually(missing_at_dispatch, lambda m: m == [], within=30, what="all delivered")
        assert len(set(numbers)) == 25
        assert intake.runtime.relay is not None
        assert (await intake.runtime.relay.refresh_gauges())[0] == 0


async def test_database_outage_is_reported_and_survived(
    databases: DatabaseFactory,
    broker: BrokerSettings,
    auth: AuthSettings,
    staff_headers: Callable[..., dict[str, str]],
) -> None:
    intake_db = await databases.migrated(INTAKE.migrations_dir, "intake")
    agent = staff_headers("intake_agent")
    async with running_service(INTAKE, intake_db, broker, auth) as intake:
        await eventually(lambda: _ready(intake), lambda s: s == 200)
        await _register(intake, agent, 1)

        async with postgres_stopped():
            assert await _ready(intake) == 503
            refused = await intake.client.post(
                "/api/v1/service-requests", json=_request(2), headers=agent
            )
            # Refused clearly and retryable; nothing half-written.
            assert refused.status_code == 503, refused.text
            assert refused.headers["content-type"] == "application/problem+json"
            assert "retry-after" in refused.headers

        await eventually(lambda: _ready(intake), lambda s: s == 200, within=30)
        number = await _register(intake, agent, 3)
        # The refused request did not take a number: the sequence has no gap.
        assert number.endswith("000002")
        answer = await intake.client.get(f"/api/v1/service-requests/{number}", headers=agent)
        assert answer.status_code == 200
        assert isinstance(answer, httpx.Response)


async def test_consumer_cancelled_by_the_broker_is_reported_and_set_up_again(
    databases: DatabaseFactory,
    broker: BrokerSettings,
    auth: AuthSettings,
    staff_headers: Callable[..., dict[str, str]],
) -> None:
    dispatch_db = await databases.migrated(DISPATCH.migrations_dir, "dispatch")
    intake_db = await databases.migrated(INTAKE.migrations_dir, "intake")
    async with (
        running_service(DISPATCH, dispatch_db, broker, auth) as dispatch,
        running_service(INTAKE, intake_db, broker, auth) as intake,
    ):
        await eventually(lambda: _ready(dispatch), lambda s: s == 200)
        # Someone deletes dispatch's queue: the broker cancels its consumer, the connection
        # stays up.
        connection = await aio_pika.connect(broker.amqp_url)
        try:
            channel = await connection.channel()
            await channel.queue_delete(dispatch.runtime.queues.main)
        finally:
            await connection.close()
        await eventually(lambda: _ready(dispatch), lambda s: s == 503, what="not ready")
        # Within a housekeeping pass the queue and the consumer are back, and events flow.
        await eventually(lambda: _ready(dispatch), lambda s: s == 200, within=20)
        number = await _register(intake, staff_headers("intake_agent"), 1)
        answer = await eventually(
            lambda: dispatch.client.get(
                f"/api/v1/incoming-requests/{number}", headers=staff_headers("dispatcher")
            ),
            lambda a: a.status_code == 200,
        )
        assert answer.json()["request_no"] == number
