"""Two billing instances on one PostgreSQL database and one queue: every completed job gets
exactly one invoice, numbered without gaps or duplicates, even when each event arrives
twice (redelivered with the same id, and republished with a new one)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal

import httpx
from sqlalchemy import select

from services.billing.app import DEFINITION as BILLING
from services.billing.db.models import InvoiceRow
from services.billing.events import handlers as on
from shared.db.engine import create_engine, create_session_factory
from shared.events.schemas import claims
from shared.messaging.outbox import envelope_for
from shared.settings import AuthSettings, BrokerSettings
from tests.integration.test_billing_events import completed, triaged
from tests.support.broker import publish_envelopes
from tests.support.databases import DatabaseFactory
from tests.support.services import RunningService, running_service
from tests.support.waiting import eventually

Headers = Callable[..., dict[str, str]]
JOBS = 30


async def _invoices(url: str) -> list[InvoiceRow]:
    engine = create_engine(url)
    try:
        async with create_session_factory(engine)() as session:
            return list((await session.execute(select(InvoiceRow))).scalars())
    finally:
        await engine.dispose()


async def _ready(service: RunningService) -> httpx.Response:
    return await service.client.get("/ready")


async def test_two_instances_number_invoices_and_quotes_gap_free_and_once(
    databases: DatabaseFactory, broker: BrokerSettings, auth: AuthSettings, staff_headers: Headers
) -> None:
    url = await databases.migrated(BILLING.migrations_dir, "billing")
    settings = broker.model_copy(update={"prefetch": 10})
    async with (
        running_service(BILLING, url, settings, auth) as first,
        running_service(BILLING, url, settings, auth) as second,
    ):
        await BILLING.seed_demo(first.runtime.unit_of_work())  # type: ignore[misc]
        for instance in (first, second):
            await eventually(lambda i=instance: _ready(i), lambda r: r.status_code == 200)
        numbers = [f"SR-2026-{n:06d}" for n in range(1, JOBS + 1)]
        triages = [
            envelope_for(triaged(n, in_warranty=False, customer_id=f"C-{n}")) for n in numbers
        ]
        completions = [envelope_for(completed(n)) for n in numbers]
        republished = [envelope_for(completed(n)) for n in numbers]  # same events, new ids
        await publish_envelopes(settings, [*triages, *completions, *completions, *republished])

        invoices = await eventually(
            lambda: _invoices(url), lambda rows: len(rows) >= JOBS, within=60, what="invoices"
        )
        await asyncio.sleep(1.0)  # let any late duplicate show itself
        invoices = await _invoices(url)
        assert sorted(i.request_no or "" for i in invoices) == numbers
        year = invoices[0].issued_at.year
        assert sorted(i.invoice_no for i in invoices) == [
            f"INV-{year}-{n:06d}" for n in range(1, JOBS + 1)
        ]

        # Quotes drawn at once through both instances' HTTP APIs share one counter too.
        clerk = staff_headers("billing_clerk")
        to_quote = [f"SR-2026-{n:06d}" for n in range(101, 101 + JOBS)]
        for request_no in to_quote:
            event = triaged(request_no, in_warranty=False)
            uow = first.runtime.unit_of_work()
            async with uow:
                await on.on_request_triaged(uow, event, envelope_for(event))
                await uow.commit()

        async def quote(service: RunningService, request_no: str) -> httpx.Response:
            body = {"request_no": request_no, "lines": [{"kind": "labour", "quantity": "1"}]}
            return await service.client.post("/api/v1/quotes", json=body, headers=clerk)

        answers = await asyncio.gather(
            *(quote(first if i % 2 else second, n) for i, n in enumerate(to_quote))
        )
        assert [a.status_code for a in answers] == [201] * JOBS
        assert sorted(a.json()["quote_no"] for a in answers) == [
            f"QT-{year}-{n:06d}" for n in range(1, JOBS + 1)
        ]


async def test_concurrent_payments_through_two_instances_lose_nothing(
    databases: DatabaseFactory, broker: BrokerSettings, auth: AuthSettings, staff_headers: Headers
) -> None:
    url = await databases.migrated(BILLING.migrations_dir, "billing")
    async with (
        running_service(BILLING, url, broker, auth) as first,
        running_service(BILLING, url, broker, auth) as second,
    ):
        await BILLING.seed_demo(first.runtime.unit_of_work())  # type: ignore[misc]
        uow = first.runtime.unit_of_work()
        for event, handler in (
            (triaged("SR-2026-000077", in_warranty=False, customer_id="C-77"), "triaged"),
            (completed("SR-2026-000077"), "completed"),
        ):
            run = on.on_request_triaged if handler == "triaged" else on.on_job_completed
            async with uow:
                await run(uow, event, envelope_for(event))
                await uow.commit()
        clerk = staff_headers("billing_clerk")
        body = {"customer_id": "C-77", "amount": "50.00", "method": "bank"}
        answers = await asyncio.gather(
            *(
                (first if i % 2 else second).client.post(
                    "/api/v1/payments", json=body, headers=clerk
                )
                for i in range(12)
            )
        )
        assert [a.status_code for a in answers] == [201] * 12
        balance = await first.client.get("/api/v1/customers/C-77/balance", headers=clerk)
        # 12 × 50 = 600 against 485.90: paid in full, 114.10 kept as credit.
        assert balance.json()["owed"] == "0.00" and balance.json()["credit"] == "114.10"
        [invoice] = await _invoices(url)
        assert invoice.paid == invoice.total


async def _ledger_balance(service: RunningService, headers: dict[str, str]) -> str:
    ledger = await service.client.get("/api/v1/supplier-payables/SUP-5", headers=headers)
    [balance] = ledger.json()["balances"]
    return str(balance["balance"])


async def test_two_clerks_paying_a_supplier_at_once_never_overpay_it(
    databases: DatabaseFactory, broker: BrokerSettings, auth: AuthSettings, staff_headers: Headers
) -> None:
    """Two billing instances, twelve payments of 100.00 at once against 1000.00 owed: ten
    are booked, two refused, the balance is 0.00. A deduction booked while a payment is being
    checked is waited for and counted (the supplier's account row is locked by both)."""
    url = await databases.migrated(BILLING.migrations_dir, "billing")
    async with (
        running_service(BILLING, url, broker, auth) as first,
        running_service(BILLING, url, broker, auth) as second,
    ):
        clerk = staff_headers("billing_clerk")
        base = "/api/v1/supplier-payables/SUP-5"
        invoice = {"invoice_no": "S5-1", "amount": "1000.00", "invoice_date": "2026-11-02"}
        # The same supplier invoice entered by two clerks at once: once, the others 409.
        entered = await asyncio.gather(
            *(
                (first if i % 2 else second).client.post(
                    f"{base}/invoices", json=invoice, headers=clerk
                )
                for i in range(6)
            )
        )
        assert sorted(a.status_code for a in entered) == [201] + [409] * 5
        answers = await asyncio.gather(
            *(
                (first if i % 2 else second).client.post(
                    f"{base}/payments", json={"amount": "100.00"}, headers=clerk
                )
                for i in range(12)
            )
        )
        assert sorted(a.status_code for a in answers) == [201] * 10 + [409] * 2
        assert await _ledger_balance(first, clerk) == "0.00"

        # 500.00 owed again; a deduction of 450.00 is being booked (not yet committed) when a
        # clerk pays 100.00: the payment waits for it and is refused (50.00 is left).
        invoice = {"invoice_no": "S5-2", "amount": "500.00", "invoice_date": "2026-11-03"}
        assert (await first.client.post(f"{base}/invoices", json=invoice, headers=clerk)).is_success
        deduction = claims.SupplierRecoveryFinalizedV1(
            recovery_no="SRC-55",
            supplier_id="SUP-5",
            claim_no="WC-55",
            request_no="SR-55",
            total=Decimal("450.00"),
            currency="CNY",
            settle_by="deduction",
            finalized_at=datetime.now(UTC),
        )
        uow = first.runtime.unit_of_work()
        async with uow:
            await on.on_recovery_finalized(uow, deduction, envelope_for(deduction))
            await uow.session.flush()
            paying = asyncio.create_task(
                second.client.post(f"{base}/payments", json={"amount": "100.00"}, headers=clerk)
            )
            await asyncio.sleep(1.0)
            assert not paying.done()  # waiting for the supplier's account row
            await uow.commit()
        refused = await paying
        assert refused.status_code == 409, refused.text
        assert "50.00" in refused.json()["detail"]
        assert await _ledger_balance(first, clerk) == "50.00"


async def test_credit_notes_issued_at_once_through_two_instances_never_exceed_the_invoice(
    databases: DatabaseFactory, broker: BrokerSettings, auth: AuthSettings, staff_headers: Headers
) -> None:
    url = await databases.migrated(BILLING.migrations_dir, "billing")
    async with (
        running_service(BILLING, url, broker, auth) as first,
        running_service(BILLING, url, broker, auth) as second,
    ):
        await BILLING.seed_demo(first.runtime.unit_of_work())  # type: ignore[misc]
        for event, run in (
            (triaged("SR-2026-000078", in_warranty=False), on.on_request_triaged),
            (completed("SR-2026-000078"), on.on_job_completed),
        ):
            uow = first.runtime.unit_of_work()
            async with uow:
                await run(uow, event, envelope_for(event))
                await uow.commit()
        [invoice] = await _invoices(url)
        clerk = staff_headers("billing_clerk")
        body = {"amount": "100.00", "reason": "多计"}
        answers = await asyncio.gather(
            *(
                (first if i % 2 else second).client.post(
                    f"/api/v1/invoices/{invoice.invoice_no}/credit-notes", json=body, headers=clerk
                )
                for i in range(10)
            )
        )
        # 485.90 invoiced: four notes of 100.00 fit, the rest would credit more than is left.
        assert sorted(a.status_code for a in answers) == [201] * 4 + [409] * 6
        year = invoice.issued_at.year
        assert sorted(a.json()["credit_note_no"] for a in answers if a.status_code == 201) == [
            f"CN-{year}-{n:06d}" for n in range(1, 5)
        ]
        [invoice] = await _invoices(url)
        assert invoice.credited == Decimal("400.00")


async def test_the_same_price_or_sales_figure_entered_at_once_is_a_409_or_the_latest(
    databases: DatabaseFactory, broker: BrokerSettings, auth: AuthSettings, staff_headers: Headers
) -> None:
    """Checked before writing, a clash between two instances writing at the same moment
    reaches the unique key: answered 409 (a price) or taken as a later entry (sales)."""
    url = await databases.migrated(BILLING.migrations_dir, "billing")
    async with (
        running_service(BILLING, url, broker, auth) as first,
        running_service(BILLING, url, broker, auth) as second,
    ):
        clerk = staff_headers("billing_clerk")
        price = {"item": "call_out", "amount": "95.00", "effective_from": "2027-03-01"}
        prices = await asyncio.gather(
            *(
                (first if i % 2 else second).client.post(
                    "/api/v1/prices", json=price, headers=clerk
                )
                for i in range(6)
            )
        )
        assert sorted(a.status_code for a in prices) == [201] + [409] * 5
        sales = await asyncio.gather(
            *(
                (first if i % 2 else second).client.put(
                    "/api/v1/sales/2027-03", json={"amount": f"{1000 + i}.00"}, headers=clerk
                )
                for i in range(6)
            )
        )
        assert [a.status_code for a in sales] == [200] * 6
        share = await first.client.get("/api/v1/reports/cost-share", headers=clerk)
        assert [r["month"] for r in share.json()] == ["2027-03"]
