"""Each of the five services answers the operations endpoints the same way, on the embedded
SQLite default and on PostgreSQL."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest

from shared.cli.suite import SERVICE_NAMES, load_definition
from shared.settings import AuthSettings, BrokerSettings
from tests.support.databases import DatabaseFactory, migrated_on
from tests.support.services import running_service
from tests.support.waiting import eventually

METRIC_NAMES = (
    "aftersales_http_requests_total",
    "aftersales_http_request_duration_seconds",
    "aftersales_events_published_total",
    "aftersales_events_consumed_total",
    "aftersales_outbox_pending",
    "aftersales_outbox_lag_seconds",
    "aftersales_dead_letters",
)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
@pytest.mark.parametrize("service", SERVICE_NAMES)
async def test_service_answers_health_ready_metrics_and_docs(
    service: str,
    backend: str,
    databases: DatabaseFactory,
    broker: BrokerSettings,
    auth: AuthSettings,
    tmp_path: Path,
) -> None:
    definition = load_definition(service)
    url = await migrated_on(backend, definition, databases, tmp_path)

    async with running_service(definition, url, broker, auth) as running:
        # What the start created is left out of garbage collection (shared/heap.py).
        assert gc.get_freeze_count() > 0
        health = await running.client.get("/health")
        assert health.status_code == 200
        assert health.json() == {"status": "ok", "service": service}

        ready = await eventually(
            lambda: running.client.get("/ready"), lambda r: r.status_code == 200
        )
        assert ready.json()["checks"] == {"database": True, "broker": True, "consumer": True}

        # The relay and the housekeeping task set the gauges within a few seconds.
        assert running.runtime.relay is not None
        await running.runtime.relay.refresh_gauges()
        metrics = (await running.client.get("/metrics")).text
        for name in METRIC_NAMES:
            assert f"# TYPE {name}" in metrics, name
        assert f'aftersales_outbox_pending{{service="{service}"}} 0.0' in metrics

        openapi = await running.client.get("/openapi.json")
        assert openapi.status_code == 200
        assert {"/health", "/ready", "/metrics"} <= set(openapi.json()["paths"])
        assert (await running.client.get("/docs")).status_code == 200
    assert gc.get_freeze_count() == 0
