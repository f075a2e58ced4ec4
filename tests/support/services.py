"""Running a real service in the test's process: its lifespan (engine, broker connection,
relay, consumer) and an HTTP client that speaks to it without a socket."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from fastapi import FastAPI

from shared.service import ServiceDefinition, ServiceRuntime, build_app
from shared.settings import AuthSettings, BrokerSettings, HttpSettings, SuiteSettings


@dataclass
class RunningService:
    app: FastAPI
    client: httpx.AsyncClient

    @property
    def runtime(self) -> ServiceRuntime:
        runtime = self.app.state.runtime
        assert isinstance(runtime, ServiceRuntime)
        return runtime


def suite_settings(
    definition: ServiceDefinition,
    database_url: str,
    broker: BrokerSettings,
    auth: AuthSettings,
    **service_overrides: Any,
) -> SuiteSettings:
    service = definition.settings_class(database_url=database_url, **service_overrides)
    return SuiteSettings(service, broker, auth, HttpSettings())


@asynccontextmanager
async def running_service(
    definition: ServiceDefinition,
    database_url: str,
    broker: BrokerSettings,
    auth: AuthSettings,
    **service_overrides: Any,
) -> AsyncIterator[RunningService]:
    settings = suite_settings(definition, database_url, broker, auth, **service_overrides)
    app = build_app(definition, settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield RunningService(app, client)
