"""Billing: Quotes, invoices, payments and the cost ledger."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from services.billing.events.subscriptions import SUBSCRIPTIONS
from services.billing.settings import BillingSettings
from shared.service import ServiceDefinition, build_app
from shared.settings import SuiteSettings

DEFINITION = ServiceDefinition(
    name="billing",
    title="aftersales billing",
    description="Quotes, invoices, payments and the cost ledger.",
    routers=[],
    subscriptions=SUBSCRIPTIONS,
    migrations_dir=Path(__file__).parent / "db" / "migrations",
    settings_class=BillingSettings,
)


def create_app(settings: SuiteSettings | None = None) -> FastAPI:
    return build_app(DEFINITION, settings)
