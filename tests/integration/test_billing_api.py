"""Billing's staff API on PostgreSQL: prices, quotes and their approvals, invoices, credit
notes, payments (partial, on site, overpaid), settlement, reports with CSV, and roles."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from fastapi.routing import APIRoute
from sqlalchemy import select

from services.billing.api.routes import router
from services.billing.app import DEFINITION as BILLING
from services.billing.app import count_gauges
from services.billing.db.models import QuoteRow
from services.billing.events import handlers as on
from shared.db.messaging_tables import outbox
from shared.events.registry import EventSchema
from shared.events.schemas import claims
from shared.messaging.outbox import envelope_for
from shared.settings import AuthSettings, BrokerSettings
from tests.integration.test_billing_events import completed, triaged
from tests.support.databases import DatabaseFactory
from tests.support.metrics import sample
from tests.support.services import RunningService, running_service

Headers = Callable[..., dict[str, str]]
D = Decimal


@pytest.fixture
async def billing(
    databases: DatabaseFactory, broker: BrokerSettings, auth: AuthSettings
) -> AsyncIterator[RunningService]:
    url = await databases.migrated(BILLING.migrations_dir, "billing")
    async with running_service(BILLING, url, broker, auth) as service:
        await BILLING.seed_demo(service.runtime.unit_of_work())  # type: ignore[misc]
        yield service


async def _handle(service: RunningService, handler: Any, event: EventSchema) -> None:
    uow = service.runtime.unit_of_work()
    async with uow:
        await handler(uow, event, envelope_for(event))
        await uow.commit()


async def _published(service: RunningService, event_type: str) -> list[dict[str, Any]]:
    uow = service.runtime.unit_of_work()
    async with uow:
        rows = await uow.session.execute(
            select(outbox.c.envelope).where(outbox.c.event_type == event_type).order_by(outbox.c.id)
        )
        return [json.loads(r[0])["data"] for r in rows]


async def test_quotes_need_the_right_approver_for_their_discount(
    billing: RunningService, staff_headers: Headers
) -> None:
    clerk, manager, gm = (
        staff_headers("billing_clerk"),
        staff_headers("manager"),
        staff_headers("general_manager"),
    )
    client = billing.client
    for number in ("SR-2026-000001", "SR-2026-000002", "SR-2026-000003"):
        await _handle(billing, on.on_request_triaged, triaged(number, in_warranty=False))

    plain = await client.post(
        "/api/v1/quotes",
        json={"request_no": "SR-2026-000001", "lines": [{"kind": "labour", "quantity": "2"}]},
        headers=clerk,
    )
    assert plain.status_code == 201, plain.text
    assert plain.json()["status"] == "issued" and plain.json()["total"] == "361.60"
    assert plain.json()["call_out_fee"] == "80.00"

    # 5 % off: a manager approves.
    small = await client.post(
        "/api/v1/quotes",
        json={
            "request_no": "SR-2026-000002",
            "lines": [{"kind": "labour", "quantity": "1", "unit_price": "152.00"}],
        },
        headers=clerk,
    )
    assert small.json()["status"] == "awaiting_approval" and small.json()["approval"] == "manager"
    # 20 % off: only the general manager.
    deep = await client.post(
        "/api/v1/quotes",
        json={
            "request_no": "SR-2026-000003",
            "lines": [{"kind": "labour", "quantity": "1", "unit_price": "128.00"}],
        },
        headers=clerk,
    )
    deep_no = deep.json()["quote_no"]
    assert deep.json()["approval"] == "general_manager"
    waiting = await client.get("/api/v1/quotes?status=awaiting_approval", headers=manager)
    assert len(waiting.json()) == 2

    refused = await client.post(f"/api/v1/quotes/{deep_no}/approve", headers=manager)
    assert refused.status_code == 403
    assert (
        await client.post(f"/api/v1/quotes/{deep_no}/approve", headers=clerk)
    ).status_code == 403
    approved = await client.post(f"/api/v1/quotes/{deep_no}/approve", headers=gm)
    assert approved.json()["status"] == "issued" and approved.json()["approved_by"] == "tester"
    small_ok = await client.post(
        f"/api/v1/quotes/{small.json()['quote_no']}/approve", headers=manager
    )
    assert small_ok.json()["status"] == "issued"
    again = await client.post(f"/api/v1/quotes/{deep_no}/approve", headers=gm)
    assert again.status_code == 409 and "accepted" in again.json()["allowed"]

    accepted = await client.post(f"/api/v1/quotes/{deep_no}/accept", headers=clerk)
    assert accepted.json()["status"] == "accepted"
    issued = await _published(billing, "billing.quote.issued")
    assert len(issued) == 3
    assert [q["quote_no"] for q in await _published(billing, "billing.quote.accepted")] == [deep_no]
    # The accepted (discounted) price is what gets invoiced on completion.
    await _handle(billing, on.on_job_completed, completed("SR-2026-000003"))
    invoices = await client.get("/api/v1/invoices?request_no=SR-2026-000003", headers=clerk)
    assert [i["net"] for i in invoices.json()] == ["128.00"]

    declined = await client.post(
        f"/api/v1/quotes/{plain.json()['quote_no']}/decline",
        json={"reason": "太贵"},
        headers=clerk,
    )
    assert declined.json()["status"] == "declined"
    [decline_event] = await _published(billing, "billing.quote.declined")
    assert decline_event["call_out_fee"] == "80.00"
    [call_out] = (
        await client.get("/api/v1/invoices?request_no=SR-2026-000001", headers=clerk)
    ).json()
    assert call_out["total"] == "90.40" and call_out["category"] == "A"
    billed = await client.post(
        "/api/v1/quotes",
        json={"request_no": "SR-2026-000001", "lines": [{"kind": "labour", "quantity": "1"}]},
        headers=clerk,
    )
    assert billed.status_code == 409

    bad = await client.post(
        "/api/v1/quotes",
        json={"request_no": "SR-2026-000002", "lines": [{"kind": "labor", "quantity": "-1"}]},
        headers=clerk,
    )
    assert bad.status_code == 422
    assert {e["field"] for e in bad.json()["errors"]} >= {"lines.0.kind", "lines.0.quantity"}
    unknown = await client.post(
        "/api/v1/quotes",
        json={"request_no": "SR-2026-999999", "lines": [{"kind": "labour", "quantity": "1"}]},
        headers=clerk,
    )
    assert unknown.status_code == 404
    no_price = await client.post(
        "/api/v1/quotes",
        json={"request_no": "SR-2026-000002", "lines": [{"kind": "other", "quantity": "1"}]},
        headers=clerk,
    )
    assert no_price.status_code in (409, 422)


async def test_invoices_credit_notes_payments_and_settlement(
    billing: RunningService, staff_headers: Headers
) -> None:
    clerk = staff_headers("billing_clerk")
    client = billing.client
    number = "SR-2026-000010"
    await _handle(billing, on.on_request_triaged, triaged(number, in_warranty=False))
    # Cash collected on site before the invoice exists: a receipt, kept as credit.
    receipt = await client.post(
        "/api/v1/payments",
        json={"customer_id": "C-1", "amount": "100.00", "method": "on_site", "request_no": number},
        headers=clerk,
    )
    assert receipt.status_code == 201, receipt.text
    assert (
        receipt.json()["payment_no"].startswith("RC-") and receipt.json()["unallocated"] == "100.00"
    )

    await _handle(billing, on.on_job_completed, completed(number))
    [invoice] = (await client.get(f"/api/v1/invoices?request_no={number}", headers=clerk)).json()
    invoice_no = invoice["invoice_no"]
    assert invoice["total"] == "485.90" and invoice["paid"] == "100.00"
    assert invoice["outstanding"] == "385.90"

    too_much = await client.post(
        f"/api/v1/invoices/{invoice_no}/credit-notes",
        json={"amount": "485.91", "reason": "x"},
        headers=clerk,
    )
    assert too_much.status_code == 409
    credit = await client.post(
        f"/api/v1/invoices/{invoice_no}/credit-notes",
        json={"amount": "85.90", "reason": "工时多计"},
        headers=clerk,
    )
    assert credit.status_code == 201 and credit.json()["credit_note_no"].startswith("CN-")
    left = await client.post(
        f"/api/v1/invoices/{invoice_no}/credit-notes",
        json={"amount": "400.01", "reason": "x"},
        headers=clerk,
    )
    assert left.status_code == 409
    missing = await client.post(
        "/api/v1/invoices/INV-2026-999999/credit-notes",
        json={"amount": "1", "reason": "x"},
        headers=clerk,
    )
    assert missing.status_code == 404

    partial = await client.post(
        "/api/v1/payments",
        json={"customer_id": "C-1", "amount": "200.00", "method": "bank"},
        headers=clerk,
    )
    assert partial.json()["allocations"] == [
        {"payment_no": partial.json()["payment_no"], "invoice_no": invoice_no, "amount": "200.00"}
    ]
    assert await _published(billing, "billing.request.settled") == []
    overpaid = await client.post(
        "/api/v1/payments",
        json={"customer_id": "C-1", "amount": "150.00", "method": "cash", "invoice_no": invoice_no},
        headers=clerk,
    )
    assert overpaid.json()["unallocated"] == "50.00"
    balance = await client.get("/api/v1/customers/C-1/balance", headers=staff_headers("auditor"))
    assert balance.json() == {
        "customer_id": "C-1",
        "owed": "0.00",
        "credit": "50.00",
        "outstanding": "-50.00",
    }
    [settled] = await _published(billing, "billing.request.settled")
    assert settled["category"] == "A" and settled["total_billed"] == "400.00"
    received = await _published(billing, "billing.payment.received")
    assert [(p["invoice_no"], p["outstanding"]) for p in received] == [
        (None, "0.00"),
        (invoice_no, "100.00"),
        (invoice_no, "0.00"),
    ]

    this_month = datetime.now(UTC).strftime("%Y-%m")
    listed = await client.get(f"/api/v1/invoices?month={this_month}&bill_to_id=C-1", headers=clerk)
    assert [i["invoice_no"] for i in listed.json()] == [invoice_no]
    assert (await client.get("/api/v1/invoices?open_only=true", headers=clerk)).json() == []
    assert (await client.get("/api/v1/invoices?month=2026-13", headers=clerk)).status_code == 422
    detail = await client.get(f"/api/v1/invoices/{invoice_no}", headers=clerk)
    assert len(detail.json()["lines"]) == 4 and len(detail.json()["credit_notes"]) == 1
    # Issued invoices cannot be changed: there is no route to do it.
    assert (
        await client.put(f"/api/v1/invoices/{invoice_no}", json={}, headers=clerk)
    ).status_code == 405

    request = await client.get(f"/api/v1/requests/{number}", headers=clerk)
    assert request.json()["category"] == "A" and request.json()["total_cost"] == "210.00"
    toll = await client.post(
        f"/api/v1/requests/{number}/costs",
        json={"description": "高速费", "amount": "0.00"},
        headers=clerk,
    )
    assert toll.status_code == 422
    unknown = await client.post(
        "/api/v1/requests/SR-2026-999999/costs",
        json={"description": "高速费", "amount": "10.00"},
        headers=clerk,
    )
    assert unknown.status_code == 404

    await client.put("/api/v1/sales/2026-11", json={"amount": "10000.00"}, headers=clerk)
    share = await client.get("/api/v1/reports/cost-share", headers=clerk)
    assert share.json() == [
        {
            "month": "2026-11",
            "sales": "10000.00",
            "cost": "210.00",
            "share_percent": "2.10",
            "target_percent": "2",
            "within_target": False,
        }
    ]
    share_csv = await client.get("/api/v1/reports/cost-share?format=csv", headers=clerk)
    assert share_csv.text.splitlines() == [
        "month,sales,cost,share_percent,target_percent,within_target",
        "2026-11,10000.00,210.00,2.10,2,False",
    ]
    # Every report, by every dimension, exports as CSV with its header.
    for by in ("month", "category", "product_model", "service_centre", "dealer", "supplier"):
        exported = await client.get(
            f"/api/v1/reports/revenue-and-cost?by={by}&format=csv", headers=clerk
        )
        assert exported.headers["content-type"].startswith("text/csv"), by
        assert exported.text.splitlines()[0] == "key,revenue,cost", by
    for route in router.routes:
        assert isinstance(route, APIRoute)
        if route.path.startswith("/api/v1/reports/"):
            query = "by=month&" if route.path.endswith("revenue-and-cost") else ""
            exported = await client.get(f"{route.path}?{query}format=csv", headers=clerk)
            assert exported.headers["content-type"].startswith("text/csv"), route.path
    by_model = await client.get(
        "/api/v1/reports/revenue-and-cost?by=product_model&format=csv", headers=clerk
    )
    assert by_model.headers["content-type"].startswith("text/csv")
    assert by_model.text.splitlines() == ["key,revenue,cost", "QJ-200,400.00,210.00"]
    receivables = await client.get("/api/v1/reports/receivables?format=csv", headers=clerk)
    assert receivables.text.splitlines()[1] == "C-1,王建国,0.00,50.00,-50.00,,customer"
    assert (
        await client.get("/api/v1/reports/revenue-and-cost?by=planet", headers=clerk)
    ).status_code == 422


async def test_roles_are_checked_on_every_route(
    billing: RunningService, staff_headers: Headers
) -> None:
    client = billing.client
    auditor, technician = staff_headers("auditor"), staff_headers("technician")
    assert (await client.get("/api/v1/prices", headers=auditor)).status_code == 200
    assert (await client.get("/api/v1/prices")).status_code == 401
    assert (await client.get("/api/v1/invoices", headers=technician)).status_code == 403
    price = {"item": "call_out", "amount": "90.00", "effective_from": "2027-01-01"}
    assert (await client.post("/api/v1/prices", json=price, headers=auditor)).status_code == 403
    made = await client.post("/api/v1/prices", json=price, headers=staff_headers("billing_clerk"))
    assert made.status_code == 201 and made.json()["key"] == "*"
    clash = await client.post("/api/v1/prices", json=price, headers=staff_headers("manager"))
    assert clash.status_code == 409
    part = await client.post(
        "/api/v1/prices",
        json={"item": "part", "amount": "1.00", "effective_from": "2027-01-01"},
        headers=staff_headers("admin"),
    )
    assert part.status_code == 422 and part.json()["errors"][0]["field"] == "part_no"
    contracts = await client.get("/api/v1/contracts", headers=auditor)
    assert [c["customer_id"] for c in contracts.json()] == ["CUST-DEMO-001"]
    # The demo price list: labour for pumps and compressors, travel, call-out, parts.
    demo = (await client.get("/api/v1/prices", headers=auditor)).json()
    labour = {p["key"] for p in demo if p["item"] == "labour"}
    assert {"pumps/*", "compressors/*", "compressors/repair"} <= labour
    assert {"travel_km", "travel_flat", "call_out", "part"} <= {p["item"] for p in demo}
    # Seeding again adds nothing.
    assert "0 prices" in await BILLING.seed_demo(billing.runtime.unit_of_work())  # type: ignore[misc]


async def test_a_price_change_leaves_issued_documents_alone_and_metrics_count(
    billing: RunningService, staff_headers: Headers
) -> None:
    clerk = staff_headers("billing_clerk")
    client = billing.client
    invoiced_before = sample("aftersales_billing_invoiced_yuan_total", currency="CNY", category="A")
    documents_before = sample("aftersales_billing_documents_issued_total", type="invoice")
    number = "SR-2026-000020"
    await _handle(billing, on.on_request_triaged, triaged(number, in_warranty=False))
    await _handle(billing, on.on_job_completed, completed(number))
    [invoice] = (await client.get(f"/api/v1/invoices?request_no={number}", headers=clerk)).json()
    today = datetime.now(UTC).date().isoformat()
    raised = await client.post(
        "/api/v1/prices",
        json={
            "item": "labour",
            "product_line": "pumps",
            "service_type": "repair",
            "amount": "999.00",
            "effective_from": today,
        },
        headers=clerk,
    )
    assert raised.status_code == 201
    after = await client.get(f"/api/v1/invoices/{invoice['invoice_no']}", headers=clerk)
    assert after.json()["total"] == "485.90" and after.json()["lines"][0]["unit_price"] == "160.00"
    # New quotes use the new price.
    await _handle(billing, on.on_request_triaged, triaged("SR-2026-000021", in_warranty=False))
    quoted = await client.post(
        "/api/v1/quotes",
        json={"request_no": "SR-2026-000021", "lines": [{"kind": "labour", "quantity": "1"}]},
        headers=clerk,
    )
    assert quoted.json()["net"] == "999.00"

    assert sample(
        "aftersales_billing_invoiced_yuan_total", currency="CNY", category="A"
    ) == pytest.approx(invoiced_before + 485.90)
    assert sample("aftersales_billing_documents_issued_total", type="invoice") == (
        documents_before + 1
    )
    exposed = (await client.get("/metrics")).text
    for name in (
        "aftersales_billing_documents_issued_total",
        "aftersales_billing_invoiced_yuan_total",
        "aftersales_billing_collected_yuan_total",
        "aftersales_billing_outstanding_receivables_yuan",
        "aftersales_billing_quotes_awaiting_approval",
        "aftersales_billing_quote_approval_seconds",
    ):
        assert name in exposed


async def test_an_expired_quote_cannot_be_accepted(
    billing: RunningService, staff_headers: Headers
) -> None:
    clerk = staff_headers("billing_clerk")
    number = "SR-2026-000030"
    await _handle(billing, on.on_request_triaged, triaged(number, in_warranty=False))
    made = await billing.client.post(
        "/api/v1/quotes",
        json={"request_no": number, "lines": [{"kind": "travel", "quantity": "10"}]},
        headers=clerk,
    )
    quote_no = made.json()["quote_no"]
    uow = billing.runtime.unit_of_work()
    async with uow:
        row = await uow.session.get(QuoteRow, quote_no)
        assert row is not None
        row.valid_until = datetime.now(UTC) - timedelta(days=1)
        await uow.commit()
    late = await billing.client.post(f"/api/v1/quotes/{quote_no}/accept", headers=clerk)
    assert late.status_code == 409 and late.json()["allowed"] == ["declined", "void"]


async def test_a_clerk_books_other_costs_on_a_request(
    billing: RunningService, staff_headers: Headers
) -> None:
    clerk = staff_headers("billing_clerk")
    number = "SR-2026-000040"
    await _handle(billing, on.on_request_triaged, triaged(number, in_warranty=True))
    booked = await billing.client.post(
        f"/api/v1/requests/{number}/costs",
        json={"description": "吊车租赁", "amount": "25.50"},
        headers=clerk,
    )
    assert booked.status_code == 201 and booked.json()["kind"] == "other"
    read = await billing.client.get(f"/api/v1/requests/{number}", headers=staff_headers("auditor"))
    assert read.json()["total_cost"] == "25.50" and read.json()["category"] is None
    by_category = await billing.client.get(
        "/api/v1/reports/revenue-and-cost?by=category", headers=clerk
    )
    assert by_category.json() == [{"key": "-", "revenue": "0.00", "cost": "25.50"}]


async def test_a_manager_declares_internal_work_which_is_costed_not_billed(
    billing: RunningService, staff_headers: Headers
) -> None:
    manager = staff_headers("manager")
    number = "SR-2026-000050"
    await _handle(billing, on.on_request_triaged, triaged(number, in_warranty=False))
    path = f"/api/v1/requests/{number}/internal"
    assert (
        await billing.client.post(path, headers=staff_headers("billing_clerk"))
    ).status_code == 403
    marked = await billing.client.post(path, headers=manager)
    assert marked.status_code == 200 and marked.json()["internal"] is True
    await _handle(billing, on.on_job_completed, completed(number))
    read = (await billing.client.get(f"/api/v1/requests/{number}", headers=manager)).json()
    assert read["category"] == "D" and read["invoices"] == [] and read["total_cost"] == "210.00"
    [settled] = await _published(billing, "billing.request.settled")
    assert (settled["category"], settled["total_billed"]) == ("D", "0.00")
    waiting = "SR-2026-000052"
    await _handle(billing, on.on_request_triaged, triaged(waiting, in_warranty=True))
    await _handle(billing, on.on_job_completed, completed(waiting, "quality_defect", True))
    undecided = await billing.client.get("/api/v1/requests?category=none", headers=manager)
    assert [r["request_no"] for r in undecided.json()] == [waiting]
    internal = await billing.client.get("/api/v1/requests?category=D&settled=true", headers=manager)
    assert [r["request_no"] for r in internal.json()] == [number]
    assert (await billing.client.post(path, headers=manager)).status_code == 409

    paid = "SR-2026-000051"
    await _handle(billing, on.on_request_triaged, triaged(paid, in_warranty=False))
    await _handle(billing, on.on_job_completed, completed(paid))
    late = await billing.client.post(f"/api/v1/requests/{paid}/internal", headers=manager)
    assert late.status_code == 409 and "INV-" in late.json()["detail"]


async def test_a_contract_fee_is_invoiced_once(
    billing: RunningService, staff_headers: Headers
) -> None:
    clerk = staff_headers("billing_clerk")
    made = await billing.client.post(
        "/api/v1/contracts",
        json={
            "customer_id": "C-90",
            "customer_name": "宁波港",
            "serial_nos": ["SN-1", "SN-2"],
            "covers": ["labour", "travel", "parts"],
            "valid_from": "2026-01-01",
            "valid_to": "2026-12-31",
            "fee": "10000.00",
        },
        headers=clerk,
    )
    assert made.status_code == 201 and made.json()["contract_no"].startswith("MC-")
    path = f"/api/v1/contracts/{made.json()['contract_no']}/invoice"
    first = await billing.client.post(path, headers=clerk)
    again = await billing.client.post(path, headers=clerk)
    assert first.status_code == 201 and first.json()["total"] == "11300.00"
    assert again.json()["invoice_no"] == first.json()["invoice_no"]
    assert first.json()["category"] == "B" and first.json()["bill_to_id"] == "C-90"
    backwards = await billing.client.post(
        "/api/v1/contracts",
        json={
            "customer_id": "C-90",
            "customer_name": "宁波港",
            "covers": ["labour"],
            "valid_from": "2026-01-01",
            "valid_to": "2025-12-31",
            "fee": "1.00",
        },
        headers=clerk,
    )
    assert backwards.status_code == 422 and backwards.json()["errors"][0]["field"] == "valid_to"
    assert (
        await billing.client.post("/api/v1/contracts/MC-2026-999999/invoice", headers=clerk)
    ).status_code == 404


async def test_dealer_statements_are_payables_until_paid(
    billing: RunningService, staff_headers: Headers
) -> None:
    client = billing.client
    clerk, auditor = staff_headers("billing_clerk"), staff_headers("auditor")
    for dealer, period, total in (
        ("DLR-1", "2026-09", "120.00"),
        ("DLR-1", "2026-10", "300.00"),
        ("DLR-2", "2026-10", "55.50"),
    ):
        await _handle(
            billing,
            on.on_settlement_closed,
            claims.SettlementClosedV1(
                settlement_no=f"ST-{period}-{dealer}",
                party="dealer",
                party_id=dealer,
                period=period,
                items=[],
                total=D(total),
                currency="CNY",
                closed_at=datetime.now(UTC),
            ),
        )
    listed = (await client.get("/api/v1/dealer-statements?dealer_id=DLR-1", headers=auditor)).json()
    assert [(s["period"], s["status"], s["paid_at"]) for s in listed] == [
        ("2026-09", "issued", None),
        ("2026-10", "issued", None),
    ]
    payables = await client.get("/api/v1/reports/payables", headers=auditor)
    assert [
        (p["dealer_id"], p["statements"], p["owed"], p["oldest_period"]) for p in payables.json()
    ] == [
        ("DLR-1", 2, "420.00", "2026-09"),
        ("DLR-2", 1, "55.50", "2026-10"),
    ]
    first = listed[0]["statement_no"]
    url = f"/api/v1/dealer-statements/{first}/payment"
    assert (await client.post(url, json={}, headers=auditor)).status_code == 403
    assert (await client.get(url, headers=auditor)).status_code == 404
    bad = await client.post(url, json={"method": "cheque", "bank_reference": ""}, headers=clerk)
    assert bad.status_code == 422
    assert {e["field"] for e in bad.json()["errors"]} == {"method", "bank_reference"}
    paid = await client.post(url, json={"bank_reference": "ICBC-778"}, headers=clerk)
    assert paid.status_code == 201
    assert (paid.json()["amount"], paid.json()["method"]) == ("120.00", "bank")
    again = await client.post(url, json={}, headers=clerk)
    assert again.status_code == 409
    assert (await client.get(url, headers=auditor)).json()["payment_no"] == paid.json()[
        "payment_no"
    ]
    missing = "/api/v1/dealer-statements/DS-2026-999999/payment"
    assert (await client.post(missing, json={}, headers=clerk)).status_code == 404
    csv = await client.get("/api/v1/reports/payables?format=csv", headers=auditor)
    assert csv.text.splitlines() == [
        "dealer_id,currency,statements,owed,oldest_period",
        "DLR-1,CNY,1,300.00,2026-10",
        "DLR-2,CNY,1,55.50,2026-10",
    ]
    paid_only = await client.get("/api/v1/dealer-statements?status=paid", headers=auditor)
    assert [s["statement_no"] for s in paid_only.json()] == [first]


async def test_every_route_checks_roles_and_auditors_only_read(
    billing: RunningService, staff_headers: Headers
) -> None:
    """Walks the whole staff API: without a token 401, a technician 403, an auditor may read
    everything and change nothing (403 on every write, before any body is looked at)."""
    client = billing.client
    technician, auditor = staff_headers("technician"), staff_headers("auditor")
    checked = 0
    for route in router.routes:
        assert isinstance(route, APIRoute)
        path = re.sub(r"\{month\}", "2026-11", route.path)
        path = "/api/v1" + re.sub(r"\{[a-z_]+\}", "X-1", path).removeprefix("/api/v1")
        for method in route.methods:
            query = "?by=month" if path.endswith("revenue-and-cost") else ""
            url = path + query
            anonymous = await client.request(method, url, json={})
            assert anonymous.status_code == 401, (method, url)
            assert (
                await client.request(method, url, json={}, headers=technician)
            ).status_code == 403, (method, url)
            reading = await client.request(method, url, json={}, headers=auditor)
            if method == "GET":
                assert reading.status_code in (200, 404), (method, url, reading.text)
            else:
                assert reading.status_code == 403, (method, url)
            checked += 1
    assert checked >= 30


async def test_bad_input_anywhere_is_a_4xx_never_a_500(
    billing: RunningService, staff_headers: Headers
) -> None:
    client = billing.client
    admin = staff_headers("admin", "general_manager", "billing_clerk")
    bodies: list[Any] = [
        {},
        {"amount": "abc", "lines": "x", "quantity": -1, "effective_from": "2026-02-30"},
        {"lines": [{"kind": "labour", "quantity": "1e400"}], "request_no": "SR-2026-000001"},
        {"customer_id": "C-1", "amount": "NaN", "method": "bank"},
        [1, 2, 3],
    ]
    for route in router.routes:
        assert isinstance(route, APIRoute)
        path = "/api/v1" + re.sub(r"\{[a-z_]+\}", "X-1", route.path).removeprefix("/api/v1")
        for method in route.methods:
            if method == "GET":
                # Unknown parameters are ignored; known ones with bad values are refused.
                answer = await client.get(path + "?limit=abc&by=planet&format=xml", headers=admin)
                assert answer.status_code < 500, (method, path, answer.text)
                continue
            answers = [await client.request(method, path, json=b, headers=admin) for b in bodies]
            answers.append(await client.request(method, path, content=b"{not json", headers=admin))
            for answer in answers:
                assert 400 <= answer.status_code < 500, (method, path, answer.text)
                assert answer.headers["content-type"].startswith("application/problem+json")


async def test_a_quote_too_large_for_a_document_is_refused_naming_the_line(
    billing: RunningService, staff_headers: Headers
) -> None:
    await _handle(billing, on.on_request_triaged, triaged("SR-2026-000901", in_warranty=False))
    huge = await billing.client.post(
        "/api/v1/quotes",
        json={
            "request_no": "SR-2026-000901",
            "lines": [{"kind": "labour", "quantity": "999999999", "unit_price": "99999999.99"}],
        },
        headers=staff_headers("billing_clerk"),
    )
    assert huge.status_code == 422, huge.text
    assert huge.json()["errors"][0]["field"] == "lines.0.quantity"


async def test_collections_receivables_and_approvals_are_measured(
    billing: RunningService, staff_headers: Headers
) -> None:
    client = billing.client
    clerk, manager = staff_headers("billing_clerk"), staff_headers("manager")
    collected_before = sample(
        "aftersales_billing_collected_yuan_total", currency="CNY", method="cash"
    )
    turnaround_before = sample(
        "aftersales_billing_quote_approval_seconds_count", approver="manager"
    )
    number = "SR-2026-000030"
    await _handle(
        billing, on.on_request_triaged, triaged(number, in_warranty=False, customer_id="C-30")
    )
    await _handle(billing, on.on_job_completed, completed(number))  # 485.90 owed
    paid = await client.post(
        "/api/v1/payments",
        json={"customer_id": "C-30", "amount": "85.90", "method": "cash"},
        headers=clerk,
    )
    assert paid.status_code == 201
    for request_no in ("SR-2026-000031", "SR-2026-000032"):
        await _handle(billing, on.on_request_triaged, triaged(request_no, in_warranty=False))
    discounted = []
    for request_no, price in (("SR-2026-000031", "150.00"), ("SR-2026-000032", "100.00")):
        made = await client.post(
            "/api/v1/quotes",
            json={
                "request_no": request_no,
                "lines": [{"kind": "labour", "quantity": "1", "unit_price": price}],
            },
            headers=clerk,
        )
        discounted.append(made.json()["quote_no"])
    await count_gauges(billing.runtime)
    assert sample("aftersales_billing_outstanding_receivables_yuan", currency="CNY") == 400.0
    assert sample("aftersales_billing_quotes_awaiting_approval", approver="manager") == 1
    assert sample("aftersales_billing_quotes_awaiting_approval", approver="general_manager") == 1
    approved = await client.post(f"/api/v1/quotes/{discounted[0]}/approve", headers=manager)
    assert approved.status_code == 200
    await count_gauges(billing.runtime)
    assert sample("aftersales_billing_quotes_awaiting_approval", approver="manager") == 0
    assert sample(
        "aftersales_billing_collected_yuan_total", currency="CNY", method="cash"
    ) == pytest.approx(collected_before + 85.90)
    assert (
        sample("aftersales_billing_quote_approval_seconds_count", approver="manager")
        == turnaround_before + 1
    )


async def test_a_dealer_statement_is_paid_in_parts_and_never_overpaid(
    billing: RunningService, staff_headers: Headers
) -> None:
    client = billing.client
    clerk, auditor = staff_headers("billing_clerk"), staff_headers("auditor")
    await _handle(
        billing,
        on.on_settlement_closed,
        claims.SettlementClosedV1(
            settlement_no="ST-2026-11-DLR-5",
            party="dealer",
            party_id="DLR-5",
            period="2026-11",
            items=[],
            total=D("500.00"),
            currency="CNY",
            closed_at=datetime.now(UTC),
        ),
    )
    [statement] = (await client.get("/api/v1/dealer-statements", headers=auditor)).json()
    url = f"/api/v1/dealer-statements/{statement['statement_no']}/payment"
    first = await client.post(url, json={"amount": "200.00"}, headers=clerk)
    assert first.status_code == 201 and first.json()["amount"] == "200.00"
    [listed] = (await client.get("/api/v1/dealer-statements", headers=auditor)).json()
    assert (listed["status"], listed["paid"], listed["outstanding"]) == (
        "partly_paid",
        "200.00",
        "300.00",
    )
    payables = (await client.get("/api/v1/reports/payables", headers=auditor)).json()
    assert [(p["dealer_id"], p["owed"]) for p in payables] == [("DLR-5", "300.00")]
    over = await client.post(url, json={"amount": "300.01"}, headers=clerk)
    assert over.status_code == 409 and "300.00" in over.json()["detail"]
    assert (await client.post(url, json={"amount": "0"}, headers=clerk)).status_code == 422
    rest = await client.post(url, json={"method": "offset"}, headers=clerk)  # what is left
    assert rest.status_code == 201 and rest.json()["amount"] == "300.00"
    [listed] = (await client.get("/api/v1/dealer-statements", headers=auditor)).json()
    assert (listed["status"], listed["outstanding"]) == ("paid", "0.00")
    assert listed["paid_at"] is not None
    assert (await client.post(url, json={}, headers=clerk)).status_code == 409
    payments = (await client.get(url + "s", headers=auditor)).json()
    assert [p["amount"] for p in payments] == ["200.00", "300.00"]
    assert (await client.get(url, headers=auditor)).json()["payment_no"] == rest.json()[
        "payment_no"
    ]
    assert (await client.get("/api/v1/reports/payables", headers=auditor)).json() == []


async def test_the_supplier_payables_ledger_takes_invoices_payments_and_deductions(
    billing: RunningService, staff_headers: Headers
) -> None:
    client = billing.client
    clerk, auditor = staff_headers("billing_clerk"), staff_headers("auditor")
    base = "/api/v1/supplier-payables/SUP-3"
    invoice = {"invoice_no": "S3-0091", "amount": "1000.00", "invoice_date": "2026-11-02"}
    assert (await client.post(f"{base}/invoices", json=invoice, headers=auditor)).status_code == 403
    entered = await client.post(f"{base}/invoices", json=invoice, headers=clerk)
    assert entered.status_code == 201 and entered.json()["amount"] == "1000.00"
    again = await client.post(f"{base}/invoices", json=invoice, headers=clerk)
    assert again.status_code == 409
    await _handle(
        billing,
        on.on_recovery_finalized,
        claims.SupplierRecoveryFinalizedV1(
            recovery_no="SRC-30",
            supplier_id="SUP-3",
            claim_no="WC-30",
            request_no="SR-30",
            total=D("650.00"),
            currency="CNY",
            settle_by="deduction",
            finalized_at=datetime.now(UTC),
        ),
    )
    over = await client.post(f"{base}/payments", json={"amount": "350.01"}, headers=clerk)
    assert over.status_code == 409 and "350.00" in over.json()["detail"]
    paid = await client.post(
        f"{base}/payments", json={"amount": "300.00", "bank_reference": "ICBC-9"}, headers=clerk
    )
    assert paid.status_code == 201 and paid.json()["amount"] == "-300.00"
    ledger = (await client.get(base, headers=auditor)).json()
    assert [(e["kind"], e["amount"]) for e in ledger["entries"]] == [
        ("invoice", "1000.00"),
        ("deduction", "-650.00"),
        ("payment", "-300.00"),
    ]
    [balance] = ledger["balances"]
    assert (balance["invoiced"], balance["paid"], balance["deducted"], balance["balance"]) == (
        "1000.00",
        "300.00",
        "650.00",
        "50.00",
    )
    listed = (await client.get("/api/v1/supplier-payables", headers=auditor)).json()
    assert [(x["supplier_id"], x["balance"]) for x in listed] == [("SUP-3", "50.00")]
    csv = await client.get("/api/v1/reports/supplier-payables?format=csv", headers=auditor)
    assert csv.text.splitlines()[0] == (
        "supplier_id,currency,invoiced,paid,deducted,balance,last_entry_on"
    )
    assert csv.text.splitlines()[1].startswith("SUP-3,CNY,1000.00,300.00,650.00,50.00,")
    entries_csv = await client.get(f"{base}?format=csv", headers=auditor)
    assert entries_csv.text.splitlines()[0].startswith("entry_no,kind,reference")
    assert len(entries_csv.text.splitlines()) == 4
    assert (await client.get("/api/v1/supplier-payables/SUP-0", headers=auditor)).status_code == 404
    await count_gauges(billing.runtime)
    assert sample("aftersales_billing_supplier_payables_yuan", currency="CNY") == 50.0
