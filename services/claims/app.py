"""Claims: Warranty decisions and supplier recovery."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from services.claims.api.recovery_routes import router as recovery_router
from services.claims.api.reference_routes import router as reference_router
from services.claims.api.routes import router
from services.claims.commands.desk import Desk
from services.claims.commands.loops import run_desk
from services.claims.commands.reference import seed_demo
from services.claims.commands.reporting import keep_figures_counted
from services.claims.events.subscriptions import SUBSCRIPTIONS
from services.claims.settings import ClaimsSettings
from shared.service import ServiceDefinition, ServiceRuntime, build_app
from shared.settings import SuiteSettings


def _settings(runtime: ServiceRuntime) -> ClaimsSettings:
    settings = runtime.settings.service
    assert isinstance(settings, ClaimsSettings)
    return settings


async def claims_desk(runtime: ServiceRuntime) -> None:
    settings = _settings(runtime)
    await run_desk(
        runtime.unit_of_work, Desk.from_settings(settings), settings.adjudicate_every_seconds
    )


async def claims_figures(runtime: ServiceRuntime) -> None:
    settings = _settings(runtime)
    await keep_figures_counted(
        runtime.sessions,
        Desk.from_settings(settings),
        max(settings.adjudicate_every_seconds, 15.0),
    )


DEFINITION = ServiceDefinition(
    name="claims",
    title="aftersales claims",
    description="Warranty decisions and supplier recovery.",
    routers=[router, reference_router, recovery_router],
    subscriptions=SUBSCRIPTIONS,
    migrations_dir=Path(__file__).parent / "db" / "migrations",
    settings_class=ClaimsSettings,
    seed_demo=seed_demo,
    background=[claims_desk, claims_figures],
)


def create_app(settings: SuiteSettings | None = None) -> FastAPI:
    return build_app(DEFINITION, settings)
