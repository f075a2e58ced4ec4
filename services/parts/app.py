"""Parts: Spare-parts inventory, reservations and returned old parts."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from services.parts.api.catalogue_routes import router as catalogue_router
from services.parts.api.core_routes import router as core_router
from services.parts.api.job_routes import router as job_router
from services.parts.api.stock_routes import router as stock_router
from services.parts.commands.catalogue import seed_demo
from services.parts.commands.monitor import watch
from services.parts.events.subscriptions import SUBSCRIPTIONS
from services.parts.settings import PartsSettings
from shared.service import ServiceDefinition, ServiceRuntime, build_app
from shared.settings import SuiteSettings


async def parts_monitor(runtime: ServiceRuntime) -> None:
    settings = runtime.settings.service
    assert isinstance(settings, PartsSettings)
    await watch(runtime.unit_of_work, settings.monitor_seconds, settings.disposal_cost_per_unit)


DEFINITION = ServiceDefinition(
    name="parts",
    title="aftersales parts",
    description="Spare-parts inventory, reservations and returned old parts.",
    routers=[catalogue_router, stock_router, job_router, core_router],
    subscriptions=SUBSCRIPTIONS,
    migrations_dir=Path(__file__).parent / "db" / "migrations",
    settings_class=PartsSettings,
    seed_demo=seed_demo,
    background=[parts_monitor],
)


def create_app(settings: SuiteSettings | None = None) -> FastAPI:
    return build_app(DEFINITION, settings)
