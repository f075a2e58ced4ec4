"""Dispatch: technicians, assignment, appointments and SLAs."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from services.dispatch.api.job_routes import router as job_router
from services.dispatch.api.routes import router
from services.dispatch.events.subscriptions import SUBSCRIPTIONS
from services.dispatch.settings import DispatchSettings
from shared.service import ServiceDefinition, build_app
from shared.settings import SuiteSettings

DEFINITION = ServiceDefinition(
    name="dispatch",
    title="aftersales dispatch",
    description="Technicians, assignment, appointments and arrival SLAs.",
    routers=[router, job_router],
    subscriptions=SUBSCRIPTIONS,
    migrations_dir=Path(__file__).parent / "db" / "migrations",
    settings_class=DispatchSettings,
)


def create_app(settings: SuiteSettings | None = None) -> FastAPI:
    return build_app(DEFINITION, settings)
