"""Parts: Spare-parts inventory, reservations and returned old parts."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from services.parts.events.subscriptions import SUBSCRIPTIONS
from services.parts.settings import PartsSettings
from shared.service import ServiceDefinition, build_app
from shared.settings import SuiteSettings

DEFINITION = ServiceDefinition(
    name="parts",
    title="aftersales parts",
    description="Spare-parts inventory, reservations and returned old parts.",
    routers=[],
    subscriptions=SUBSCRIPTIONS,
    migrations_dir=Path(__file__).parent / "db" / "migrations",
    settings_class=PartsSettings,
)


def create_app(settings: SuiteSettings | None = None) -> FastAPI:
    return build_app(DEFINITION, settings)
