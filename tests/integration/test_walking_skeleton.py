"""A request registered at intake reaches dispatch through the outbox, the broker and
dispatch's inbox, on PostgreSQL and on the embedded SQLite default."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest

from services.dispatch.app import DEFINITION as DISPATCH
from services.intake.app import DEFINITION as INTAKE
from shared.settings import AuthSettings, BrokerSettings
from tests.support.databases import DatabaseFactory, migrated_sqlite
from tests.support.metrics import sample
from tests.support.services import running_service
from tests.support.waiting import eventually

REQUEST = {
    "channel": "phone",
    "customer": {"name": "张伟", "phone": "13800138000"},
    "product": {"model": "WX-200", "serial_no": "WX200-2025-000123"},
    "fault_description": "开机无反应",
}


@pytest.fixture(params=["postgresql", "sqlite"])
async def database_urls(
    request: pytest.FixtureRequest, databases: DatabaseFactory, tmp_path: Path
) -> AsyncIterator[tuple[str, str]]:
    if request.param == "postgresql":
        yield (
            await databases.migrated(INTAKE.migrations_dir, "intake"),
            await databases.migrated(DISPATCH.migrations_dir, "dispatch"),
        )
        return
    urls = []
    for definition in (INTAKE, DISPATCH):
        url = await migrated_sqlite(definition, tmp_path)
        urls.append(url)
    yield urls[0], urls[1]


async def test_registered_request_reaches_dispatch(
    database_urls: tuple[str, str],
    broker: BrokerSettings,
    auth: AuthSettings,
    staff_headers: Callable[..., dict[str, str]],
) -> None:
    intake_db, dispatch_db = database_urls
    published_before = sample(
        "aftersales_events_published_total",
        service="intake",
        event_type="intake.request.registered",
        outcome="published",
    )
    handled_before = sample(
        "aftersales_events_consumed_total",
        service="dispatch",
        event_type="intake.request.registered",
        outcome="handled",
    )
    async with (
        running_service(DISPATCH, dispatch_db, broker, auth) as dispatch,
        running_service(INTAKE, intake_db, broker, auth) as intake,
    ):
        created = await intake.client.post(
            "/api/v1/service-requests",
            json=REQUEST,
            headers={**staff_headers("intake_agent"), "X-Correlation-ID": "call-42"},
        )
        assert created.status_code == 201, created.text
        request_no = created.json()["request_no"]
        assert request_no.startswith("SR-") and request_no.endswith("000001")
        assert created.headers["location"] == f"/api/v1/service-requests/{request_no}"
        assert created.headers["x-correlation-id"] == "call-42"

        async def seen_by_dispatch() -> httpx.Response:
            return await dispatch.client.get(
                f"/api/v1/incoming-requests/{request_no}", headers=staff_headers("dispatcher")
            )

        seen = await eventually(
            seen_by_dispatch, lambda r: r.status_code == 200, what="dispatch record"
        )
        record = seen.json()
        assert record["customer_name"] == "张伟"
        assert record["fault_description"] == "开机无反应"
        # The correlation id of the phone call travels into the event dispatch handled.
        assert record["correlation_id"] == "call-42"

        assert (
            sample(
                "aftersales_events_published_total",
                service="intake",
                event_type="intake.request.registered",
                outcome="published",
            )
            == published_before + 1
        )
        assert (
            sample(
                "aftersales_events_consumed_total",
                service="dispatch",
                event_type="intake.request.registered",
                outcome="handled",
            )
            == handled_before + 1
        )
        for service in (intake, dispatch):
            metrics = (await service.client.get("/metrics")).text
            assert "aftersales_events_" in metrics
            ready = await service.client.get("/ready")
            assert ready.status_code == 200, ready.text
