"""Billing after the first documents, on PostgreSQL and SQLite: a ruling that re-bills a
settled request settles it again, a declined quote's visit is costed, recoveries withdrawn
or corrected after charging are reversed or charged more (once per event), deductions land
in the supplier payables ledger, and a workshop return is costed and settled by its claim."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from services.billing.commands.documents import receive_payment
from services.billing.commands.quotes import QuoteLineInput, answer_quote, create_quote
from services.billing.commands.supplier_payables import balances
from services.billing.db.models import (
    BillingRequestRow,
    CataloguePartRow,
    CostEntryRow,
    CreditNoteRow,
    DocumentLineRow,
    InvoiceRow,
    QuoteRow,
    SupplierAdjustmentRow,
    SupplierChargebackRow,
    SupplierLedgerEntryRow,
    SupplierRecoveryRow,
)
from services.billing.domain.money import LineKind
from services.billing.events import handlers as on
from services.billing.settings import BillingSettings
from shared.events.registry import EventSchema
from shared.events.schemas import claims, dispatch, intake, parts
from tests.integration import test_billing_events as events
from tests.integration.test_billing_events import (
    NOW,
    Billing,
    completed,
    decided,
    ruling,
    triaged,
)

billing = events.billing  # the same fixture: PostgreSQL and SQLite, demo prices seeded

D = Decimal


async def _pay(billing: Billing, invoice: InvoiceRow, amount: Decimal | None = None) -> None:
    assert invoice.bill_to_id is not None
    await receive_payment(
        billing.uow,
        customer_id=invoice.bill_to_id,
        amount=amount or invoice.total - invoice.credited - invoice.paid,
        method="bank",
        currency="CNY",
        actor="clerk",
        invoice_no=invoice.invoice_no,
    )


async def test_a_ruling_that_makes_settled_free_work_paid_settles_it_again(
    billing: Billing,
) -> None:
    number = "SR-2026-002001"
    await billing.handle(on.on_request_triaged, triaged(number, in_warranty=True))
    await billing.handle(on.on_job_completed, completed(number, "quality_defect", True))
    await billing.handle(
        on.on_claim_approved, decided(claims.ClaimApprovedV1, number, ("part", "90", "90"))
    )
    assert len(await billing.published("billing.request.settled")) == 1
    reversal = ruling(claims.ClaimRejectedV1, number, ("part", "90", "0"))
    await billing.handle(on.on_claim_rejected, reversal)
    # Only a quote so far: nothing is re-billed until the customer accepts it.
    assert len(await billing.published("billing.request.settled")) == 1
    [quote] = await billing.rows(QuoteRow, request_no=number)
    await answer_quote(billing.uow, BillingSettings(), quote.quote_no, accepted=True)
    [invoice] = await billing.rows(InvoiceRow, request_no=number)
    assert len(await billing.published("billing.request.settled")) == 1  # not paid yet
    await _pay(billing, invoice, D("100"))
    assert len(await billing.published("billing.request.settled")) == 1
    [invoice] = await billing.rows(InvoiceRow, request_no=number)
    await _pay(billing, invoice)
    await billing.handle(on.on_claim_rejected, reversal)  # a replay changes nothing
    first, again = await billing.published("billing.request.settled")
    assert (first["category"], first["total_billed"]) == ("C", "0.00")
    assert (again["category"], again["total_billed"]) == ("A", "485.90")
    assert again["settled_at"] > first["settled_at"]
    [row] = await billing.rows(BillingRequestRow, request_no=number)
    assert (row.settlements, row.reopened_at) == (2, None)


async def test_a_ruling_that_credits_a_paid_invoice_settles_it_again_at_once(
    billing: Billing,
) -> None:
    number = "SR-2026-002002"
    await billing.handle(on.on_request_triaged, triaged(number, in_warranty=None))
    await billing.handle(on.on_job_completed, completed(number, in_warranty=None))
    [invoice] = await billing.rows(InvoiceRow, request_no=number)
    await _pay(billing, invoice)
    [settled] = await billing.published("billing.request.settled")
    assert (settled["category"], settled["total_billed"]) == ("A", "485.90")
    approval = decided(claims.ClaimApprovedV1, number, ("part", "90", "90"))
    await billing.handle(on.on_claim_approved, approval)
    await billing.handle(on.on_claim_approved, approval)
    [note] = await billing.rows(CreditNoteRow, invoice_no=invoice.invoice_no)
    assert note.total == D("485.90")
    _, again = await billing.published("billing.request.settled")
    assert (again["category"], again["total_billed"]) == ("C", "0.00")
    [row] = await billing.rows(BillingRequestRow, request_no=number)
    assert row.settlements == 2


def _on_site(number: str, minutes: int = 0) -> EventSchema:
    return dispatch.JobOnSiteV1(
        request_no=number,
        technician_id="T-1",
        arrived_at=NOW + timedelta(minutes=minutes),
        arrival_due_at=None,
        late=False,
    )


def _diagnosed(number: str, minutes: int) -> EventSchema:
    return dispatch.JobDiagnosedV1(
        request_no=number,
        technician_id="T-1",
        service_point_id="SP-HZ",
        kind="repair",
        product_line="pumps",
        product_model="QJ-200",
        serial_no=f"SN-{number}",
        purchase_date=None,
        in_warranty=True,
        dealer_id=None,
        customer_name="王建国",
        cause="misuse",
        fault_code=None,
        findings="进水",
        diagnosed_at=NOW + timedelta(minutes=minutes),
    )


def _assigned(number: str) -> EventSchema:
    return dispatch.JobAssignedV1(
        request_no=number,
        technician_id="T-1",
        technician_name="李师傅",
        service_point_id="SP-HZ",
        how="automatic",
        reason=None,
        arrival_due_at=None,
        assigned_at=NOW - timedelta(hours=1),
    )


async def _quote_and_decline(billing: Billing, number: str, settings: BillingSettings) -> None:
    quote = await create_quote(
        billing.uow, settings, number, [QuoteLineInput(LineKind.LABOUR, D(2))], "clerk"
    )
    await answer_quote(billing.uow, settings, quote.quote_no, False, "太贵")


async def test_a_declined_quote_costs_the_visit_from_arrival_to_diagnosis(
    billing: Billing,
) -> None:
    number = "SR-2026-002101"
    settings = BillingSettings(service_point_travel_km={"SP-HZ": D("20")})
    await billing.handle(on.on_request_triaged, triaged(number, in_warranty=True))
    await billing.handle(on.on_job_assigned, _assigned(number))
    await billing.handle(on.on_job_on_site, _on_site(number))
    await billing.handle(on.on_job_diagnosed, _diagnosed(number, 45))
    await _quote_and_decline(billing, number, settings)
    await billing.handle(on.on_job_on_site, _on_site(number))  # a replay: booked once
    costs = await billing.rows(CostEntryRow, request_no=number)
    # 45 min × 120 = 90.00; 20 km (SP-HZ's standard) × 1.50 = 30.00.
    assert sorted((c.kind, c.quantity, c.amount) for c in costs) == [
        ("labour", D("0.750"), D("90.00")),
        ("travel", D("20.000"), D("30.00")),
    ]
    [row] = await billing.rows(BillingRequestRow, request_no=number)
    assert (row.cause, row.category, row.category_reason) == ("misuse", "A", "quote declined")
    [invoice] = await billing.rows(InvoiceRow, request_no=number)
    assert invoice.total == D("90.40")  # the call-out fee alone


async def test_a_visit_reported_after_the_decline_costs_the_standard_diagnosis(
    billing: Billing,
) -> None:
    number, untravelled = "SR-2026-002102", "SR-2026-002103"
    settings = BillingSettings()
    for request_no in (number, untravelled):
        await billing.handle(on.on_request_triaged, triaged(request_no, in_warranty=False))
        await _quote_and_decline(billing, request_no, settings)
    await billing.handle(on.on_job_on_site, _on_site(number))
    costs = await billing.rows(CostEntryRow, request_no=number)
    # No diagnosis reported: the standard 30 min × 120; the service point is not known.
    assert [(c.kind, c.amount) for c in costs] == [("labour", D("60.00"))]
    # Declined before anyone set off: nothing was spent.
    assert await billing.rows(CostEntryRow, request_no=untravelled) == []


async def test_a_diagnosis_made_at_once_still_costs_the_standard_time(billing: Billing) -> None:
    number = "SR-2026-002104"
    await billing.handle(on.on_request_triaged, triaged(number, in_warranty=True))
    await billing.handle(on.on_job_on_site, _on_site(number))
    await billing.handle(on.on_job_diagnosed, _diagnosed(number, 5))
    await _quote_and_decline(billing, number, BillingSettings())
    costs = await billing.rows(CostEntryRow, request_no=number)
    # 5 minutes after arrival, but at least the standard 30 min × 120.
    assert [(c.kind, c.quantity, c.amount) for c in costs] == [("labour", D("0.500"), D("60.00"))]


async def test_a_diagnosis_heard_after_the_declined_visit_was_costed_corrects_it_once(
    billing: Billing, monkeypatch: pytest.MonkeyPatch
) -> None:
    number, early = "SR-2026-002105", "SR-2026-002106"
    settings = BillingSettings(service_point_travel_km={"SP-HZ": D("20")})
    monkeypatch.setattr(on, "settings", lambda: settings)  # the handlers' settings too
    # Declined after the arrival was heard, before the diagnosis: the standard 30 min.
    await billing.handle(on.on_request_triaged, triaged(number, in_warranty=True))
    await billing.handle(on.on_job_on_site, _on_site(number))
    await _quote_and_decline(billing, number, settings)
    # The diagnosis, 75 min after arrival, and the assignment (its service point) arrive late.
    await billing.handle(on.on_job_diagnosed, _diagnosed(number, 75))
    await billing.handle(on.on_job_diagnosed, _diagnosed(number, 75))  # a replay
    await billing.handle(on.on_job_assigned, _assigned(number))
    costs = await billing.rows(CostEntryRow, request_no=number)
    # 30 min × 120 = 60.00, then the 45 min more × 120 = 90.00 as its own entry.
    assert sorted((c.kind, c.quantity, c.amount) for c in costs) == [
        ("labour", D("0.500"), D("60.00")),
        ("labour", D("0.750"), D("90.00")),
        ("travel", D("20.000"), D("30.00")),
    ]
    assert sum(c.quantity for c in costs if c.kind == "labour") == D("1.250")
    # The arrival heard after the diagnosis was costed at the standard time: corrected too.
    await billing.handle(on.on_request_triaged, triaged(early, in_warranty=True))
    await billing.handle(on.on_job_diagnosed, _diagnosed(early, 60))
    await _quote_and_decline(billing, early, settings)
    await billing.handle(on.on_job_on_site, _on_site(early))
    await billing.handle(on.on_job_on_site, _on_site(early))  # a replay
    costs = await billing.rows(CostEntryRow, request_no=early)
    assert sorted((c.kind, c.amount) for c in costs) == [
        ("labour", D("60.00")),
        ("labour", D("60.00")),
        ("travel", D("30.00")),
    ]


def _finalized(recovery_no: str, total: str, settle_by: str) -> EventSchema:
    return claims.SupplierRecoveryFinalizedV1(
        recovery_no=recovery_no,
        supplier_id="SUP-1",
        claim_no="WC-1",
        request_no="SR-1",
        total=D(total),
        currency="CNY",
        settle_by=settle_by,
        finalized_at=NOW,
    )


def _corrected(
    recovery_no: str, previous: str, total: str, settle_by: str, day: int
) -> EventSchema:
    return claims.SupplierRecoveryCorrectedV1(
        recovery_no=recovery_no,
        supplier_id="SUP-1",
        claim_no="WC-1",
        request_no="SR-1",
        previous_total=D(previous),
        total=D(total),
        difference=D(total) - D(previous),
        material=D(total),
        labour=D(0),
        travel=D(0),
        other=D(0),
        assessment=D(0),
        currency="CNY",
        settle_by=settle_by,
        reason="复核",
        corrected_at=NOW + timedelta(days=day),
    )


def _withdrawn(recovery_no: str) -> EventSchema:
    return claims.SupplierRecoveryWithdrawnV1(
        recovery_no=recovery_no,
        supplier_id="SUP-1",
        claim_no="WC-1",
        request_no="SR-1",
        part_nos=["P-9"],
        reason="异议成立",
        was_final=True,
        withdrawn_at=NOW + timedelta(days=9),
    )


async def _twice(billing: Billing, handler: Any, event: EventSchema) -> None:
    await billing.handle(handler, event)
    await billing.handle(handler, event)


async def test_a_charged_recovery_corrected_and_withdrawn_is_invoiced_and_credited_once(
    billing: Billing,
) -> None:
    await _twice(billing, on.on_recovery_finalized, _finalized("SRC-7", "600.00", "chargeback"))
    await _twice(
        billing, on.on_recovery_corrected, _corrected("SRC-7", "600", "700", "chargeback", 1)
    )
    invoices = await billing.rows(InvoiceRow, bill_to="supplier")
    assert sorted(i.total for i in invoices) == [D("100.00"), D("600.00")]
    charged = await billing.published("billing.supplier_chargeback.issued")
    assert [(c["reference"], c["total"]) for c in charged] == [
        ("SRC-7", "600.00"),
        ("SRC-7", "100.00"),
    ]
    await _twice(
        billing, on.on_recovery_corrected, _corrected("SRC-7", "700", "500", "chargeback", 2)
    )
    # 200 back: the additional invoice first (newest), then 100 of the chargeback's.
    by_total = {i.total: i for i in await billing.rows(InvoiceRow, bill_to="supplier")}
    assert (by_total[D("100.00")].credited, by_total[D("600.00")].credited) == (
        D("100.00"),
        D("100.00"),
    )
    await _twice(billing, on.on_recovery_withdrawn, _withdrawn("SRC-7"))
    by_total = {i.total: i for i in await billing.rows(InvoiceRow, bill_to="supplier")}
    assert by_total[D("600.00")].credited == D("600.00")
    adjustments = await billing.rows(SupplierAdjustmentRow, recovery_no="SRC-7")
    assert sorted((a.kind, a.amount) for a in adjustments) == [
        ("correction", D("-200.00")),
        ("correction", D("100.00")),
        ("withdrawal", D("-500.00")),
    ]
    notes = await billing.published("billing.credit_note.issued")
    assert sorted(n["total"] for n in notes) == ["100.00", "100.00", "500.00"]
    [recovery] = await billing.rows(SupplierRecoveryRow, recovery_no="SRC-7")
    assert recovery.status == "withdrawn"
    # A finalization arriving late charges nothing.
    await billing.handle(on.on_recovery_finalized, _finalized("SRC-7", "600.00", "chargeback"))
    assert len(await billing.rows(InvoiceRow, bill_to="supplier")) == 2


async def test_deductions_land_in_the_supplier_payables_ledger_and_are_reversed(
    billing: Billing,
) -> None:
    await _twice(billing, on.on_recovery_finalized, _finalized("SRC-8", "600", "deduction"))
    await _twice(
        billing,
        on.on_disposal_charged,
        parts.SupplierDisposalChargedV1(
            disposal_no="DSP-8",
            supplier_id="SUP-1",
            lines=[],
            amount=D("80"),
            currency="CNY",
            charged_at=NOW,
        ),
    )
    await _twice(
        billing, on.on_recovery_corrected, _corrected("SRC-8", "600", "450", "deduction", 1)
    )
    await _twice(
        billing, on.on_recovery_corrected, _corrected("SRC-8", "450", "500", "deduction", 2)
    )
    [summary] = await balances(billing.uow)
    # Deducted 600, given back 150, deducted 50 more: 500; the disposal went by invoice.
    assert (summary["deducted"], summary["balance"]) == (D("500.00"), D("-500.00"))
    await _twice(billing, on.on_recovery_withdrawn, _withdrawn("SRC-8"))
    entries = await billing.rows(SupplierLedgerEntryRow, supplier_id="SUP-1")
    assert [(e.kind, e.amount) for e in sorted(entries, key=lambda e: e.id)] == [
        ("deduction", D("-600.00")),
        ("reversal", D("150.00")),
        ("deduction", D("-50.00")),
        ("reversal", D("500.00")),
    ]
    [summary] = await balances(billing.uow)
    assert summary["balance"] == D("0.00")
    # A withdrawal that overtakes the finalization: nothing is ever charged.
    await billing.handle(on.on_recovery_withdrawn, _withdrawn("SRC-9"))
    await billing.handle(on.on_recovery_finalized, _finalized("SRC-9", "300", "deduction"))
    assert await billing.rows(SupplierChargebackRow, reference="SRC-9") == []


def _return_events(
    number: str, cause: str, in_warranty: bool
) -> tuple[EventSchema, EventSchema, EventSchema]:
    received = intake.ReturnReceivedV1(
        request_no=number,
        return_no=f"RT-{number[-4:]}",
        product_model="QJ-200",
        serial_no=f"SN-{number}",
        in_warranty=in_warranty,
        condition="完好",
        accessories=[],
        received_at=NOW,
    )
    repaired = intake.ReturnRepairedV1(
        request_no=number,
        return_no=f"RT-{number[-4:]}",
        product_model="QJ-200",
        serial_no=f"SN-{number}",
        in_warranty=in_warranty,
        cause=cause,
        fault_code=None,
        labour_hours=D("2"),
        parts_replaced=[intake.ReturnPartV1(part_no="P-2002", quantity=1)],
        repaired_by="车间 张工",
        repaired_at=NOW + timedelta(days=1),
    )
    shipped = intake.ReturnShippedV1(
        request_no=number,
        return_no=f"RT-{number[-4:]}",
        carrier="顺丰",
        tracking_no="SF9",
        shipping_cost=D("25.00"),
        shipped_at=NOW + timedelta(days=2),
    )
    return received, repaired, shipped


def _return_decision(kind: type[Any], number: str) -> EventSchema:
    event = decided(
        kind, number, ("labour", "240", "240" if kind is claims.ClaimApprovedV1 else "0")
    )
    return event.model_copy(
        update={
            "source": "return",
            "cause": "quality_defect" if kind is claims.ClaimApprovedV1 else "misuse",
        }
    )


async def test_an_in_warranty_return_is_costed_and_settled_free_by_its_claim(
    billing: Billing,
) -> None:
    number = "SR-2026-002301"
    async with billing.uow:
        billing.uow.session.add(
            CataloguePartRow(
                part_no="P-2002",
                name="密封圈",
                unit_cost=D("18.00"),
                list_price=D("45.00"),
                supplier_id="SUP-2",
                changed_at=NOW,
            )
        )
        await billing.uow.commit()
    received, repaired, shipped = _return_events(number, "quality_defect", True)
    await billing.handle(on.on_request_triaged, triaged(number, in_warranty=True))
    await billing.handle(on.on_return_received, received)
    await _twice(billing, on.on_return_repaired, repaired)
    await billing.handle(on.on_return_shipped, shipped)
    [row] = await billing.rows(BillingRequestRow, request_no=number)
    assert row.settled_at is None  # waits for the return's claim
    await _twice(billing, on.on_claim_approved, _return_decision(claims.ClaimApprovedV1, number))
    [row] = await billing.rows(BillingRequestRow, request_no=number)
    assert (row.category, row.settled_at is not None) == ("C", True)
    assert await billing.rows(InvoiceRow, request_no=number) == []
    costs = await billing.rows(CostEntryRow, request_no=number)
    # 2 h × 120, P-2002 at its cost price, the shipping the company pays.
    assert sorted((c.kind, c.amount, c.supplier_id) for c in costs) == [
        ("labour", D("240.00"), None),
        ("other", D("25.00"), None),
        ("parts", D("18.00"), "SUP-2"),
    ]
    [settled] = await billing.published("billing.request.settled")
    assert (settled["category"], settled["total_billed"], settled["total_cost"]) == (
        "C",
        "0.00",
        "283.00",
    )


async def test_a_misused_return_is_invoiced_the_repair_and_the_shipping(
    billing: Billing,
) -> None:
    number = "SR-2026-002302"
    received, repaired, shipped = _return_events(number, "misuse", True)
    await billing.handle(on.on_request_triaged, triaged(number, in_warranty=True))
    await billing.handle(on.on_return_received, received)
    await billing.handle(on.on_return_repaired, repaired)
    # The claim (CDR) may come before the unit ships back: billing waits for the shipping.
    await billing.handle(on.on_claim_rejected, _return_decision(claims.ClaimRejectedV1, number))
    assert await billing.rows(InvoiceRow, request_no=number) == []
    await _twice(billing, on.on_return_shipped, shipped)
    [invoice] = await billing.rows(InvoiceRow, request_no=number)
    lines = await billing.rows(DocumentLineRow, document_no=invoice.invoice_no)
    # 2 h × 160, P-2002 at 45, shipping 25; VAT 13 % per line. No quote first.
    assert [(x.kind, x.net, x.tax) for x in lines] == [
        ("labour", D("320.00"), D("41.60")),
        ("parts", D("45.00"), D("5.85")),
        ("other", D("25.00"), D("3.25")),
    ]
    assert (invoice.category, invoice.total) == ("A", D("440.70"))
    assert await billing.rows(QuoteRow, request_no=number) == []
    await _pay(billing, invoice)
    [settled] = await billing.published("billing.request.settled")
    assert (settled["category"], settled["total_billed"]) == ("A", "440.70")
