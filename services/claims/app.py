"""Claims: Warranty decisions and supplier recovery."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from services.claims.api.routes import router
from services.claims.events.subscriptions import SUBSCRIPTIONS
from services.claims.settings import ClaimsSettings
from shared.service import ServiceDefinition, build_app
from shared.settings import SuiteSettings

DEFINITION = ServiceDefinition(
    name="claims",
    title="aftersales claims",
    description="Warranty decisions and supplier recovery.",
    routers=[router],
    subscriptions=SUBSCRIPTIONS,
    migrations_dir=Path(__file__).parent / "db" / "migrations",
    settings_class=ClaimsSettings,
)


def create_app(settings: SuiteSettings | None = None) -> FastAPI:
    return build_app(DEFINITION, settings)
