"""Dispatch: technicians, assignment, appointments and SLAs."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from services.dispatch.api.board_routes import router as board_router
from services.dispatch.api.job_routes import router as job_router
from services.dispatch.api.routes import router
from services.dispatch.api.staff_routes import router as staff_router
from services.dispatch.commands.assignment import keep_retrying_unassigned
from services.dispatch.commands.monitor import watch
from services.dispatch.commands.staff import seed_demo
from services.dispatch.events.subscriptions import SUBSCRIPTIONS
from services.dispatch.settings import DispatchSettings, use_for_handlers
from shared.service import ServiceDefinition, ServiceRuntime, build_app
from shared.settings import SuiteSettings


def _settings(runtime: ServiceRuntime) -> DispatchSettings:
    settings = runtime.settings.service
    assert isinstance(settings, DispatchSettings)
    return settings


async def sla_monitor(runtime: ServiceRuntime) -> None:
    # The first thing the started service does (background loops start before the consumer
    # takes messages): handlers see this service's settings.
    use_for_handlers(_settings(runtime))
    await watch(runtime.unit_of_work, _settings(runtime))


async def unassigned_retry(runtime: ServiceRuntime) -> None:
    await keep_retrying_unassigned(runtime.unit_of_work, _settings(runtime))


DEFINITION = ServiceDefinition(
    name="dispatch",
    title="aftersales dispatch",
    description="Technicians, assignment, appointments and arrival SLAs.",
    routers=[board_router, job_router, staff_router, router],
    subscriptions=SUBSCRIPTIONS,
    migrations_dir=Path(__file__).parent / "db" / "migrations",
    settings_class=DispatchSettings,
    seed_demo=seed_demo,
    background=[sla_monitor, unassigned_retry],
)


def create_app(settings: SuiteSettings | None = None) -> FastAPI:
    return build_app(DEFINITION, settings)
