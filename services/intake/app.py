"""Intake: repair requests, complaints and partner dealers' repair reports."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from services.intake.api.admin_routes import router as admin_router
from services.intake.api.catalogue_routes import router as catalogue_router
from services.intake.api.complaint_routes import router as complaint_router
from services.intake.api.customer_routes import router as customer_router
from services.intake.api.dealer_routes import router as dealer_router
from services.intake.api.return_routes import router as return_router
from services.intake.api.routes import router
from services.intake.api.search_routes import router as search_router
from services.intake.api.sla_routes import router as sla_router
from services.intake.api.survey_routes import router as survey_router
from services.intake.api.workflow_routes import router as workflow_router
from services.intake.commands.catalogue import seed_demo
from services.intake.commands.reporting import keep_open_requests_counted
from services.intake.commands.sla import watch_for_breaches
from services.intake.events.subscriptions import SUBSCRIPTIONS
from services.intake.settings import IntakeSettings
from shared.service import ServiceDefinition, ServiceRuntime, build_app
from shared.settings import SuiteSettings


async def sla_monitor(runtime: ServiceRuntime) -> None:
    await watch_for_breaches(runtime.sessions, runtime.settings.service.sla_check_seconds)


async def open_requests_gauge(runtime: ServiceRuntime) -> None:
    await keep_open_requests_counted(runtime.sessions, runtime.settings.service.sla_check_seconds)


DEFINITION = ServiceDefinition(
    name="intake",
    title="aftersales intake",
    description="Service requests, complaints and partner dealers' repair reports.",
    routers=[
        search_router,
        router,
        workflow_router,
        sla_router,
        survey_router,
        dealer_router,
        admin_router,
        catalogue_router,
        customer_router,
        complaint_router,
        return_router,
    ],
    subscriptions=SUBSCRIPTIONS,
    migrations_dir=Path(__file__).parent / "db" / "migrations",
    settings_class=IntakeSettings,
    seed_demo=seed_demo,
    background=[sla_monitor, open_requests_gauge],
)


def create_app(settings: SuiteSettings | None = None) -> FastAPI:
    return build_app(DEFINITION, settings)
