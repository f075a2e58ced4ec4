"""Billing: price lists, quotes, invoices, payments, settlements and the cost ledger."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from fastapi import FastAPI

from services.billing import metrics
from services.billing.api.routes import router
from services.billing.commands.pricing import seed_demo
from services.billing.commands.quotes import expire_quotes, quotes_awaiting
from services.billing.commands.reports import outstanding_total
from services.billing.commands.supplier_payables import payables_total
from services.billing.domain.quotes import Approval
from services.billing.events.subscriptions import SUBSCRIPTIONS
from services.billing.settings import BillingSettings
from shared.service import ServiceDefinition, ServiceRuntime, build_app
from shared.settings import SuiteSettings

log = logging.getLogger(__name__)


async def count_gauges(runtime: ServiceRuntime) -> None:
    """Receivables, supplier payables and quotes awaiting approval, recounted from the
    database (every instance counts the same total; the gauges are ``livemax``)."""
    for currency, amount in (await outstanding_total(runtime.unit_of_work())).items():
        metrics.OUTSTANDING.labels(currency).set(float(amount))
    for currency, amount in (await payables_total(runtime.unit_of_work())).items():
        metrics.SUPPLIER_PAYABLES.labels(currency).set(float(amount))
    waiting = await quotes_awaiting(runtime.unit_of_work())
    for approver in (Approval.MANAGER, Approval.GENERAL_MANAGER):
        metrics.QUOTES_AWAITING.labels(approver.value).set(waiting.get(approver.value, 0))


async def gauges(runtime: ServiceRuntime) -> None:
    settings = runtime.settings.service
    assert isinstance(settings, BillingSettings)
    while True:
        try:
            await count_gauges(runtime)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            # A database outage must not end the loop.
            log.warning("counting billing gauges failed", extra={"error": repr(exc)[:300]})
        await asyncio.sleep(settings.gauge_seconds)


async def quote_expiry(runtime: ServiceRuntime) -> None:
    """Issued quotes nobody answered in time expire (as declined, reason ``expired``)."""
    settings = runtime.settings.service
    assert isinstance(settings, BillingSettings)
    while True:
        try:
            await expire_quotes(runtime.unit_of_work(), settings)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("expiring quotes failed", extra={"error": repr(exc)[:300]})
        await asyncio.sleep(settings.quote_expiry_check_seconds)


DEFINITION = ServiceDefinition(
    name="billing",
    title="aftersales billing",
    description="Price lists, quotes, invoices, payments, settlements and the cost ledger.",
    routers=[router],
    subscriptions=SUBSCRIPTIONS,
    migrations_dir=Path(__file__).parent / "db" / "migrations",
    settings_class=BillingSettings,
    seed_demo=seed_demo,
    background=[gauges, quote_expiry],
)


def create_app(settings: SuiteSettings | None = None) -> FastAPI:
    return build_app(DEFINITION, settings)
