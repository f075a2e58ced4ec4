"""Billing from other services' events, on PostgreSQL: categories from claim outcomes,
invoices on completion, the cost ledger, statements and chargebacks, and replays that
never make a second document. Handlers run as the consumer runs them: in one unit of work."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from services.billing.app import DEFINITION as BILLING
from services.billing.commands.documents import receive_payment
from services.billing.commands.errors import Conflict
from services.billing.commands.pricing import seed_demo
from services.billing.commands.quotes import (
    QuoteLineInput,
    answer_quote,
    create_quote,
    decide_approval,
    expire_quotes,
)
from services.billing.commands.reports import (
    Dimension,
    cost_share,
    enter_sales,
    open_receivables,
    outstanding_total,
    revenue_and_cost,
)
from services.billing.db.models import (
    BillingRequestRow,
    CataloguePartRow,
    CostEntryRow,
    DealerStatementRow,
    DocumentLineRow,
    InvoiceRow,
    QuoteRow,
    SupplierChargebackRow,
    SupplierRecoveryRow,
)
from services.billing.domain.money import LineKind
from services.billing.events import handlers as on
from services.billing.settings import BillingSettings
from shared.db.engine import create_engine, create_session_factory
from shared.db.messaging_tables import outbox
from shared.db.unit_of_work import UnitOfWork
from shared.events.registry import EventSchema
from shared.events.schemas import claims, dispatch, intake, parts
from shared.messaging.outbox import envelope_for
from tests.support.databases import DatabaseFactory, migrated_on

D = Decimal
NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


class Billing:
    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow

    async def handle(self, handler: Any, event: EventSchema) -> None:
        async with self.uow:
            await handler(self.uow, event, envelope_for(event))
            await self.uow.commit()

    async def rows(self, model: Any, **where: Any) -> list[Any]:
        async with self.uow:
            query = select(model).filter_by(**where)
            return list((await self.uow.session.execute(query)).scalars())

    async def published(self, event_type: str) -> list[dict[str, Any]]:
        async with self.uow:
            rows = await self.uow.session.execute(
                select(outbox.c.envelope)
                .where(outbox.c.event_type == event_type)
                .order_by(outbox.c.id)
            )
            return [json.loads(r[0])["data"] for r in rows]


@pytest.fixture(params=["postgresql", "sqlite"])
async def billing(
    request: pytest.FixtureRequest, databases: DatabaseFactory, tmp_path: Path
) -> AsyncIterator[Billing]:
    url = await migrated_on(request.param, BILLING, databases, tmp_path)
    engine = create_engine(url)
    try:
        uow = UnitOfWork(create_session_factory(engine))
        await seed_demo(uow)
        yield Billing(uow)
    finally:
        await engine.dispose()


def triaged(number: str, in_warranty: bool | None, customer_id: str = "C-1") -> EventSchema:
    return intake.RequestTriagedV2(
        request_no=number,
        kind="repair",
        severity="ordinary",
        visit_needed=True,
        route="dispatch",
        channel="phone",
        product_line="pumps",
        product_model="QJ-200",
        serial_no=f"SN-{number}",
        quantity=1,
        purchase_date=date(2025, 1, 1),
        in_warranty=in_warranty,
        warranty_expires_on=None,
        dealer_id="DLR-7",
        customer_id=customer_id,
        customer_name="王建国",
        customer_phone="13800000000",
        address=None,
        region=None,
        latitude=None,
        longitude=None,
        fault_description="漏水",
        response_due_at=None,
        triaged_at=NOW,
    )


def completed(number: str, cause: str = "wear", in_warranty: bool | None = False) -> EventSchema:
    return dispatch.JobCompletedV1(
        request_no=number,
        technician_id="T-1",
        technician_name="李师傅",
        service_point_id="SP-HZ",
        region=None,
        kind="repair",
        product_line="pumps",
        product_model="QJ-200",
        serial_no=f"SN-{number}",
        purchase_date=None,
        in_warranty=in_warranty,
        dealer_id="DLR-7",
        customer_name="王建国",
        findings="密封老化",
        work_done="更换密封",
        cause=cause,
        fault_code=None,
        result="repaired",
        labour_minutes=90,
        travel_km=D("20"),
        parts_used=[dispatch.UsedPartV1(part_no="P-2002", quantity=2, serials=[])],
        old_parts_removed=[],
        repeat_repair=False,
        arrived_at=NOW,
        completed_at=NOW + timedelta(hours=2),
        signed_by="王建国",
        signed_at=NOW + timedelta(hours=2),
    )


def decided(kind: type[Any], number: str, *lines: tuple[str, str, str]) -> EventSchema:
    decided_lines = [
        claims.DecidedLineV1(
            line_no=i + 1,
            kind=k,
            description=k,
            part_no=None,
            supplier_id=None,
            quantity=D(1),
            amount_claimed=D(claimed),
            amount_approved=D(approved),
            reason_codes=[],
        )
        for i, (k, claimed, approved) in enumerate(lines)
    ]
    return kind(
        claim_no=f"WC-{number}",
        request_no=number,
        source="job",
        dealer_id=None,
        product_model="QJ-200",
        serial_no=f"SN-{number}",
        cause="quality_defect",
        lines=decided_lines,
        amount_claimed=sum((x.amount_claimed for x in decided_lines), D(0)),
        amount_approved=sum((x.amount_approved for x in decided_lines), D(0)),
        currency="CNY",
        reason_codes=[],
        decided_by="rules",
        final=True,
        decided_at=NOW + timedelta(days=1),
    )


async def test_out_of_warranty_work_is_invoiced_at_list_prices_with_tax_once(
    billing: Billing,
) -> None:
    number = "SR-2026-000101"
    await billing.handle(on.on_request_triaged, triaged(number, in_warranty=False))
    event = completed(number)
    await billing.handle(on.on_job_completed, event)
    # The same completion again (a replay, or republished with a new id): nothing new.
    await billing.handle(on.on_job_completed, event)
    await billing.handle(on.on_job_completed, completed(number))

    invoices = await billing.rows(InvoiceRow, request_no=number)
    assert len(invoices) == 1
    invoice = invoices[0]
    assert invoice.category == "A" and invoice.currency == "CNY"
    assert invoice.invoice_no == f"INV-{invoice.issued_at.year}-000001"
    lines = await billing.rows(DocumentLineRow, document_no=invoice.invoice_no)
    # 1.5 h × 160 (pumps/repair) = 240.00; 2 × P-2002 at 45 = 90.00; 20 km × 2.50 = 50.00;
    # flat call 50.00. VAT 13 % per line: 31.20 + 11.70 + 6.50 + 6.50.
    assert [(x.kind, x.net, x.tax) for x in lines] == [
        ("labour", D("240.00"), D("31.20")),
        ("parts", D("90.00"), D("11.70")),
        ("travel", D("50.00"), D("6.50")),
        ("travel", D("50.00"), D("6.50")),
    ]
    assert (invoice.net, invoice.tax, invoice.total) == (D("430.00"), D("55.90"), D("485.90"))
    issued = await billing.published("billing.invoice.issued")
    assert len(issued) == 1 and issued[0]["total"] == "485.90" and issued[0]["bill_to_id"] == "C-1"
    # Cost ledger: 1.5 h × 120 internal, 20 km × 1.5, booked once.
    costs = await billing.rows(CostEntryRow, request_no=number)
    assert sorted((c.kind, c.amount) for c in costs) == [
        ("labour", D("180.00")),
        ("travel", D("30.00")),
    ]


async def test_in_warranty_work_waits_for_the_claim_and_each_outcome_decides(
    billing: Billing,
) -> None:
    approved, partial, rejected = "SR-2026-000201", "SR-2026-000202", "SR-2026-000203"
    for number in (approved, partial, rejected):
        await billing.handle(on.on_request_triaged, triaged(number, in_warranty=True))
        await billing.handle(
            on.on_job_completed, completed(number, "quality_defect", in_warranty=True)
        )
    assert await billing.rows(InvoiceRow) == []

    await billing.handle(
        on.on_claim_approved, decided(claims.ClaimApprovedV1, approved, ("part", "90", "90"))
    )
    await billing.handle(
        on.on_claim_partially_approved,
        decided(
            claims.ClaimPartiallyApprovedV1,
            partial,
            ("part", "90", "90"),
            ("labour", "240", "200"),
            ("travel", "50", "0"),
        ),
    )
    await billing.handle(
        on.on_claim_rejected, decided(claims.ClaimRejectedV1, rejected, ("part", "90", "0"))
    )

    [free] = await billing.rows(BillingRequestRow, request_no=approved)
    assert free.category == "C" and free.settled_at is not None
    assert await billing.rows(InvoiceRow, request_no=approved) == []

    # The customer expected warranty work: what it now pays is quoted, not invoiced.
    assert await billing.rows(InvoiceRow, request_no=partial) == []
    [partial_quote] = await billing.rows(QuoteRow, request_no=partial)
    [rejected_quote] = await billing.rows(QuoteRow, request_no=rejected)
    assert (partial_quote.status, partial_quote.total) == ("issued", D("101.70"))
    assert (rejected_quote.status, rejected_quote.total) == ("issued", D("485.90"))
    quoted = await billing.published("billing.quote.issued")
    assert sorted(q["request_no"] for q in quoted) == [partial, rejected]
    settings = BillingSettings()
    await answer_quote(billing.uow, settings, partial_quote.quote_no, accepted=True)
    await answer_quote(billing.uow, settings, rejected_quote.quote_no, accepted=True)

    [split] = await billing.rows(InvoiceRow, request_no=partial)
    assert split.category == "A"
    lines = await billing.rows(DocumentLineRow, document_no=split.invoice_no)
    assert sorted((x.kind, x.net) for x in lines) == [
        ("labour", D("40.00")),
        ("travel", D("50.00")),
    ]
    assert split.quote_no == partial_quote.quote_no
    [paid] = await billing.rows(InvoiceRow, request_no=rejected)
    assert paid.category == "A" and paid.net == D("430.00")

    settled = await billing.published("billing.request.settled")
    assert [(s["request_no"], s["category"], s["total_billed"]) for s in settled] == [
        (approved, "C", "0.00")
    ]
    assert D(settled[0]["total_cost"]) == D("210.00")
    numbers = sorted(i.invoice_no for i in await billing.rows(InvoiceRow))
    assert [n[-6:] for n in numbers] == ["000001", "000002"]


async def test_contract_work_bills_only_what_the_contract_does_not_cover(
    billing: Billing,
) -> None:
    number = "SR-2026-000301"
    # The demo contract covers labour and travel for CUST-DEMO-001.
    await billing.handle(
        on.on_request_triaged, triaged(number, in_warranty=False, customer_id="CUST-DEMO-001")
    )
    await billing.handle(on.on_job_completed, completed(number))
    [invoice] = await billing.rows(InvoiceRow, request_no=number)
    assert invoice.category == "B" and invoice.total == D("101.70")  # the parts only


async def test_remote_resolution_settles_as_internal_once(billing: Billing) -> None:
    event = intake.RequestResolvedRemotelyV1(
        request_no="SR-2026-000401",
        product_model="QJ-200",
        kind="consultation",
        resolution="电话指导",
        resolved_at=NOW,
    )
    await billing.handle(on.on_resolved_remotely, event)
    await billing.handle(on.on_resolved_remotely, event)
    settled = await billing.published("billing.request.settled")
    assert [(s["category"], s["total_billed"]) for s in settled] == [("D", "0.00")]


async def test_returns_are_billed_after_shipping_back_with_the_shipping(
    billing: Billing,
) -> None:
    number = "SR-2026-000501"
    await billing.handle(on.on_request_triaged, triaged(number, in_warranty=False))
    await billing.handle(
        on.on_return_received,
        intake.ReturnReceivedV1(
            request_no=number,
            return_no="RT-1",
            product_model="QJ-200",
            serial_no="s",
            in_warranty=False,
            condition="外壳破损",
            accessories=[],
            received_at=NOW,
        ),
    )
    await billing.handle(on.on_job_completed, completed(number, cause="misuse"))
    assert await billing.rows(InvoiceRow, request_no=number) == []
    await billing.handle(
        on.on_return_inspected,
        intake.ReturnInspectedV1(
            request_no=number, return_no="RT-1", passed=True, notes=None, inspected_at=NOW
        ),
    )
    shipped = intake.ReturnShippedV1(
        request_no=number,
        return_no="RT-1",
        carrier="顺丰",
        tracking_no="SF1",
        shipping_cost=D("35.00"),
        shipped_at=NOW + timedelta(days=3),
    )
    await billing.handle(on.on_return_shipped, shipped)
    await billing.handle(on.on_return_shipped, shipped)
    [invoice] = await billing.rows(InvoiceRow, request_no=number)
    lines = await billing.rows(DocumentLineRow, document_no=invoice.invoice_no)
    assert lines[-1].kind == "other" and lines[-1].net == D("35.00")
    costs = await billing.rows(CostEntryRow, request_no=number, kind="other")
    assert [c.amount for c in costs] == [D("35.00")]


async def test_parts_are_costed_and_the_catalogue_copy_keeps_the_latest(
    billing: Billing,
) -> None:
    consumed = parts.PartsConsumedV1(
        request_no="SR-2026-000601",
        lines=[
            parts.ConsumedLineV1(
                part_no="P-9",
                quantity=3,
                warehouse_id="W1",
                unit_cost=D("12.345"),
                list_price=D("20"),
                supplier_id="SUP-1",
            )
        ],
        consumed_at=NOW,
    )
    await billing.handle(on.on_parts_consumed, consumed)
    await billing.handle(on.on_parts_consumed, consumed)
    [cost] = await billing.rows(CostEntryRow, request_no="SR-2026-000601")
    assert (cost.amount, cost.supplier_id) == (D("37.04"), "SUP-1")  # 37.035 half-up

    def catalogued(price: str, at: datetime) -> EventSchema:
        return parts.PartCataloguedV1(
            part_no="P-9",
            name="叶轮",
            fits_models=[],
            unit_cost=D("12"),
            list_price=D(price),
            supplier_id="SUP-1",
            genuine=True,
            return_required=True,
            changed_at=at,
        )

    await billing.handle(on.on_part_catalogued, catalogued("30", NOW))
    await billing.handle(on.on_part_catalogued, catalogued("25", NOW - timedelta(days=1)))
    async with billing.uow:
        part = await billing.uow.session.get(CataloguePartRow, "P-9")
        assert part is not None and part.list_price == D("30.00")


async def test_statements_chargebacks_and_recoveries_from_events(billing: Billing) -> None:
    settlement = claims.SettlementClosedV1(
        settlement_no="ST-2026-10-DLR-7",
        party="dealer",
        party_id="DLR-7",
        period="2026-10",
        items=[claims.SettledItemV1(reference="WC-1", request_no="SR-1", amount=D("300"))],
        total=D("300.00"),
        currency="CNY",
        closed_at=NOW,
    )
    await billing.handle(on.on_settlement_closed, settlement)
    await billing.handle(on.on_settlement_closed, settlement)
    supplier_side = settlement.model_copy(update={"settlement_no": "ST-S", "party": "supplier"})
    await billing.handle(on.on_settlement_closed, supplier_side)
    [statement] = await billing.rows(DealerStatementRow)
    assert statement.statement_no.endswith("000001") and statement.total == D("300.00")
    [cost] = await billing.rows(CostEntryRow, request_no="SR-1")  # booked once
    assert (cost.kind, cost.amount) == ("other", D("300.00"))
    assert len(await billing.published("billing.dealer_statement.issued")) == 1

    issued = claims.SupplierRecoveryIssuedV1(
        recovery_no="SRC-1",
        supplier_id="SUP-1",
        claim_no="WC-1",
        request_no="SR-1",
        part_nos=["P-9"],
        material=D("100"),
        labour=D("50"),
        travel=D("0"),
        other=D("0"),
        assessment=D("500"),
        total=D("650"),
        currency="CNY",
        dispute_deadline=date(2026, 11, 25),
        issued_at=NOW,
    )
    disputed = claims.SupplierRecoveryDisputedV1(
        recovery_no="SRC-1", supplier_id="SUP-1", reason="非我方零件", disputed_at=NOW
    )
    # The dispute overtakes the issue: the recovery still ends up disputed.
    await billing.handle(on.on_recovery_disputed, disputed)
    await billing.handle(on.on_recovery_issued, issued)
    [recovery] = await billing.rows(SupplierRecoveryRow)
    assert (recovery.status, recovery.total) == ("disputed", D("650.00"))

    finalized = claims.SupplierRecoveryFinalizedV1(
        recovery_no="SRC-1",
        supplier_id="SUP-1",
        claim_no="WC-1",
        request_no="SR-1",
        total=D("600"),
        currency="CNY",
        settle_by="deduction",
        finalized_at=NOW + timedelta(days=6),
    )
    await billing.handle(on.on_recovery_finalized, finalized)
    await billing.handle(on.on_recovery_finalized, finalized)
    await billing.handle(on.on_recovery_issued, issued)  # late: stays final
    disposal = parts.SupplierDisposalChargedV1(
        disposal_no="DSP-1",
        supplier_id="SUP-1",
        lines=[],
        amount=D("80"),
        currency="CNY",
        charged_at=NOW,
    )
    await billing.handle(on.on_disposal_charged, disposal)
    await billing.handle(on.on_disposal_charged, disposal)
    chargebacks = await billing.rows(SupplierChargebackRow)
    assert sorted((c.reference, c.settle_by, c.total) for c in chargebacks) == [
        ("DSP-1", "chargeback", D("80.00")),
        ("SRC-1", "deduction", D("600.00")),
    ]
    [recovery] = await billing.rows(SupplierRecoveryRow)
    assert recovery.status == "final"
    assert len(await billing.published("billing.supplier_chargeback.issued")) == 2
    # Settled by chargeback: an invoice to the supplier, once; a deduction has none.
    by_reference = {c.reference: c for c in chargebacks}
    assert by_reference["SRC-1"].invoice_no is None
    [invoice] = await billing.rows(InvoiceRow, bill_to="supplier")
    assert by_reference["DSP-1"].invoice_no == invoice.invoice_no
    assert (invoice.bill_to_id, invoice.request_no) == ("SUP-1", None)
    assert (invoice.net, invoice.tax, invoice.total) == (D("80.00"), D("0.00"), D("80.00"))
    assert len(await billing.published("billing.invoice.issued")) == 1


async def test_a_cancelled_request_voids_its_open_quote(billing: Billing) -> None:
    number = "SR-2026-000701"
    await billing.handle(on.on_request_triaged, triaged(number, in_warranty=False))
    quote = await create_quote(
        billing.uow, BillingSettings(), number, [QuoteLineInput(LineKind.LABOUR, D(2))], "clerk"
    )
    assert quote.status == "issued" and quote.total == D("361.60")  # 2 × 160 + 13 %
    cancelled = intake.RequestCancelledV1(request_no=number, reason="客户取消", cancelled_at=NOW)
    await billing.handle(on.on_request_cancelled, cancelled)
    [row] = await billing.rows(QuoteRow, quote_no=quote.quote_no)
    assert row.status == "void"
    async with billing.uow:
        count = await billing.uow.session.scalar(select(func.count()).select_from(InvoiceRow))
    assert count == 0


async def test_a_claim_approved_after_invoicing_credits_the_customer(billing: Billing) -> None:
    number = "SR-2026-000801"
    # Intake did not know the warranty: the work is invoiced as paid on completion.
    await billing.handle(on.on_request_triaged, triaged(number, in_warranty=None))
    await billing.handle(on.on_job_completed, completed(number, in_warranty=None))
    [invoice] = await billing.rows(InvoiceRow, request_no=number)
    assert invoice.total == D("485.90")
    approval = decided(claims.ClaimApprovedV1, number, ("part", "90", "90"))
    await billing.handle(on.on_claim_approved, approval)
    await billing.handle(on.on_claim_approved, approval)
    [invoice] = await billing.rows(InvoiceRow, request_no=number)
    assert invoice.credited == D("485.90")
    notes = await billing.published("billing.credit_note.issued")
    assert [n["total"] for n in notes] == ["485.90"]
    [row] = await billing.rows(BillingRequestRow, request_no=number)
    assert row.category == "C" and row.settled_at is not None
    [settled] = await billing.published("billing.request.settled")
    assert settled["total_billed"] == "0.00"


async def test_under_contract_a_partly_approved_claim_bills_the_uncovered_rest_as_b(
    billing: Billing,
) -> None:
    number = "SR-2026-000901"
    await billing.handle(
        on.on_request_triaged, triaged(number, in_warranty=True, customer_id="CUST-DEMO-001")
    )
    await billing.handle(on.on_job_completed, completed(number, "quality_defect", True))
    assert await billing.rows(InvoiceRow, request_no=number) == []  # waits for the claim
    await billing.handle(
        on.on_claim_partially_approved,
        decided(
            claims.ClaimPartiallyApprovedV1,
            number,
            ("part", "90", "60"),
            ("labour", "240", "200"),
        ),
    )
    [quote] = await billing.rows(QuoteRow, request_no=number)
    await answer_quote(billing.uow, BillingSettings(), quote.quote_no, accepted=True)
    [invoice] = await billing.rows(InvoiceRow, request_no=number)
    # The labour rest is covered by the demo contract; the parts rest is not.
    assert (invoice.category, invoice.net, invoice.total) == ("B", D("30.00"), D("33.90"))


async def test_a_workshop_return_without_a_job_bills_its_accepted_quote_when_shipped(
    billing: Billing,
) -> None:
    number = "SR-2026-001001"
    settings = BillingSettings()
    await billing.handle(on.on_request_triaged, triaged(number, in_warranty=False))
    await billing.handle(
        on.on_return_received,
        intake.ReturnReceivedV1(
            request_no=number,
            return_no="RT-9",
            product_model="QJ-200",
            serial_no="s",
            in_warranty=False,
            condition="进水",
            accessories=["电源线"],
            received_at=NOW,
        ),
    )
    quote = await create_quote(
        billing.uow, settings, number, [QuoteLineInput(LineKind.LABOUR, D(3))], "clerk"
    )
    await answer_quote(billing.uow, settings, quote.quote_no, accepted=True)
    assert await billing.rows(InvoiceRow, request_no=number) == []
    await billing.handle(
        on.on_return_shipped,
        intake.ReturnShippedV1(
            request_no=number,
            return_no="RT-9",
            carrier="德邦",
            tracking_no="DB1",
            shipping_cost=D("40.00"),
            shipped_at=NOW + timedelta(days=5),
        ),
    )
    [invoice] = await billing.rows(InvoiceRow, request_no=number)
    lines = await billing.rows(DocumentLineRow, document_no=invoice.invoice_no)
    assert [(x.kind, x.net) for x in lines] == [("labour", D("480.00")), ("other", D("40.00"))]
    assert invoice.quote_no == quote.quote_no and invoice.category == "A"


def ruling(kind: type[Any], number: str, *lines: tuple[str, str, str]) -> EventSchema:
    """A manager's ruling after a dispute: a later decision on the same claim."""
    event = decided(kind, number, *lines)
    return event.model_copy(update={"decided_at": NOW + timedelta(days=9)})


async def test_misuse_found_by_the_claim_is_quoted_and_declined_for_the_call_out_fee(
    billing: Billing,
) -> None:
    """docs/lifecycle.md §4: claims rejects (CDR) → billing quotes the paid work → declined
    → only the call-out fee is invoiced."""
    number = "SR-2026-001101"
    await billing.handle(on.on_request_triaged, triaged(number, in_warranty=True))
    await billing.handle(on.on_job_completed, completed(number, "unknown", in_warranty=True))
    rejection = decided(claims.ClaimRejectedV1, number, ("part", "90", "0"))
    await billing.handle(on.on_claim_rejected, rejection)
    await billing.handle(on.on_claim_rejected, rejection)  # a replay: still one quote
    [quote] = await billing.rows(QuoteRow, request_no=number)
    assert (quote.status, quote.total, quote.call_out_fee) == ("issued", D("485.90"), D("80.00"))
    assert await billing.rows(InvoiceRow, request_no=number) == []
    await answer_quote(billing.uow, BillingSettings(), quote.quote_no, False, "太贵")
    [invoice] = await billing.rows(InvoiceRow, request_no=number)
    assert (invoice.category, invoice.total) == ("A", D("90.40"))  # 80 + 13 %
    [declined] = await billing.published("billing.quote.declined")
    assert declined["call_out_fee"] == "80.00"


async def test_a_ruling_that_rejects_settled_warranty_work_quotes_it_to_the_customer(
    billing: Billing,
) -> None:
    number = "SR-2026-001201"
    await billing.handle(on.on_request_triaged, triaged(number, in_warranty=True))
    await billing.handle(on.on_job_completed, completed(number, "quality_defect", True))
    await billing.handle(
        on.on_claim_approved, decided(claims.ClaimApprovedV1, number, ("part", "90", "90"))
    )
    [row] = await billing.rows(BillingRequestRow, request_no=number)
    assert row.category == "C" and row.settled_at is not None
    reversal = ruling(claims.ClaimRejectedV1, number, ("part", "90", "0"))
    await billing.handle(on.on_claim_rejected, reversal)
    await billing.handle(on.on_claim_rejected, reversal)
    [quote] = await billing.rows(QuoteRow, request_no=number)
    assert (quote.status, quote.total) == ("issued", D("485.90"))
    assert await billing.rows(InvoiceRow, request_no=number) == []
    await answer_quote(billing.uow, BillingSettings(), quote.quote_no, accepted=True)
    [invoice] = await billing.rows(InvoiceRow, request_no=number)
    assert (invoice.category, invoice.total, invoice.quote_no) == ("A", D("485.90"), quote.quote_no)


async def test_a_ruling_that_raises_an_invoiced_share_replaces_the_invoice_once_accepted(
    billing: Billing,
) -> None:
    number = "SR-2026-001301"
    settings = BillingSettings()
    await billing.handle(on.on_request_triaged, triaged(number, in_warranty=True))
    await billing.handle(on.on_job_completed, completed(number, "quality_defect", True))
    await billing.handle(
        on.on_claim_partially_approved,
        decided(
            claims.ClaimPartiallyApprovedV1,
            number,
            ("part", "90", "90"),
            ("labour", "240", "200"),
        ),
    )
    [first_quote] = await billing.rows(QuoteRow, request_no=number)
    await answer_quote(billing.uow, settings, first_quote.quote_no, accepted=True)
    [first] = await billing.rows(InvoiceRow, request_no=number)
    assert first.total == D("45.20")  # the 40.00 of labour not approved, + 13 %
    lines_before = [
        (x.kind, x.net) for x in await billing.rows(DocumentLineRow, document_no=first.invoice_no)
    ]

    await billing.handle(
        on.on_claim_rejected, ruling(claims.ClaimRejectedV1, number, ("part", "90", "0"))
    )
    quotes = await billing.rows(QuoteRow, request_no=number, status="issued")
    assert [q.total for q in quotes] == [D("485.90")]
    [unchanged] = await billing.rows(InvoiceRow, request_no=number)
    assert (unchanged.total, unchanged.credited) == (D("45.20"), D("0.00"))
    await answer_quote(billing.uow, settings, quotes[0].quote_no, accepted=True)

    invoices = {i.invoice_no: i for i in await billing.rows(InvoiceRow, request_no=number)}
    old, new = (
        invoices[first.invoice_no],
        next(i for no, i in invoices.items() if no != first.invoice_no),
    )
    # The issued invoice is never edited: a credit note takes it back, a new one replaces it.
    assert (old.total, old.credited) == (D("45.20"), D("45.20"))
    assert [
        (x.kind, x.net) for x in await billing.rows(DocumentLineRow, document_no=old.invoice_no)
    ] == lines_before
    assert (new.total, new.quote_no) == (D("485.90"), quotes[0].quote_no)
    [row] = await billing.rows(BillingRequestRow, request_no=number)
    assert row.invoice_no == new.invoice_no


async def test_a_ruling_raising_an_invoice_that_the_customer_declines_leaves_it_standing(
    billing: Billing,
) -> None:
    number = "SR-2026-001401"
    # Warranty unknown at intake: invoiced on completion; the claim's ruling then rejects.
    await billing.handle(on.on_request_triaged, triaged(number, in_warranty=None))
    await billing.handle(on.on_job_completed, completed(number, in_warranty=None))
    await billing.handle(
        on.on_claim_partially_approved,
        decided(claims.ClaimPartiallyApprovedV1, number, ("labour", "240", "200")),
    )
    [invoice] = await billing.rows(InvoiceRow, request_no=number)
    assert invoice.total - invoice.credited == D("45.20")
    await billing.handle(
        on.on_claim_rejected, ruling(claims.ClaimRejectedV1, number, ("labour", "240", "0"))
    )
    [quote] = await billing.rows(QuoteRow, request_no=number)
    await answer_quote(billing.uow, BillingSettings(), quote.quote_no, False, "不同意")
    [invoice] = await billing.rows(InvoiceRow, request_no=number)
    assert invoice.total - invoice.credited == D("45.20")  # no call-out fee on top


async def test_an_unanswered_quote_expires_as_declined_once(billing: Billing) -> None:
    number = "SR-2026-001501"
    settings = BillingSettings()
    await billing.handle(on.on_request_triaged, triaged(number, in_warranty=False))
    quote = await create_quote(
        billing.uow, settings, number, [QuoteLineInput(LineKind.LABOUR, D(2))], "clerk"
    )
    assert quote.valid_until is not None
    assert await expire_quotes(billing.uow, settings, quote.valid_until) == []  # still valid
    later = quote.valid_until + timedelta(seconds=1)
    assert await expire_quotes(billing.uow, settings, later) == [quote.quote_no]
    assert await expire_quotes(billing.uow, settings, later) == []
    [row] = await billing.rows(QuoteRow, quote_no=quote.quote_no)
    assert row.status == "expired"
    [declined] = await billing.published("billing.quote.declined")
    assert (declined["reason"], declined["call_out_fee"]) == ("expired", "80.00")
    [invoice] = await billing.rows(InvoiceRow, request_no=number)
    assert invoice.total == D("90.40")
    with pytest.raises(Conflict):
        await answer_quote(billing.uow, settings, quote.quote_no, accepted=True)


async def test_two_instances_expire_a_quote_once(databases: DatabaseFactory) -> None:
    url = await databases.migrated(BILLING.migrations_dir, "billing")
    engines = [create_engine(url), create_engine(url)]
    try:
        first, second = (UnitOfWork(create_session_factory(e)) for e in engines)
        await seed_demo(first)
        settings = BillingSettings()
        numbers = [f"SR-2026-0016{n:02d}" for n in range(1, 11)]
        quotes = []
        for number in numbers:
            await Billing(first).handle(on.on_request_triaged, triaged(number, False))
            quotes.append(
                await create_quote(
                    first, settings, number, [QuoteLineInput(LineKind.LABOUR, D(1))], "clerk"
                )
            )
        later = max(q.valid_until for q in quotes if q.valid_until) + timedelta(seconds=1)
        done = await asyncio.gather(
            expire_quotes(first, settings, later), expire_quotes(second, settings, later)
        )
        assert sorted(done[0] + done[1]) == sorted(q.quote_no for q in quotes)
        assert len(await Billing(first).published("billing.quote.declined")) == len(numbers)
        invoices = await Billing(first).rows(InvoiceRow)
        assert sorted(i.invoice_no[-6:] for i in invoices) == [f"{n:06d}" for n in range(1, 11)]
    finally:
        for engine in engines:
            await engine.dispose()


async def test_reports_are_summed_by_the_database_alike_on_both(billing: Billing) -> None:
    number = "SR-2026-001701"
    await billing.handle(on.on_request_triaged, triaged(number, in_warranty=False))
    await billing.handle(on.on_job_completed, completed(number))  # 485.90; cost 180 + 30
    await billing.handle(
        on.on_parts_consumed,
        parts.PartsConsumedV1(
            request_no=number,
            lines=[
                parts.ConsumedLineV1(
                    part_no="P-2002",
                    quantity=2,
                    warehouse_id="W1",
                    unit_cost=D("15.125"),
                    list_price=D("45"),
                    supplier_id="SUP-1",
                )
            ],
            consumed_at=NOW + timedelta(hours=2),
        ),
    )
    await billing.handle(
        on.on_disposal_charged,
        parts.SupplierDisposalChargedV1(
            disposal_no="DSP-9",
            supplier_id="SUP-1",
            lines=[],
            amount=D("80"),
            currency="CNY",
            charged_at=NOW,
        ),
    )
    [invoice] = await billing.rows(InvoiceRow, request_no=number)
    await receive_payment(
        billing.uow, customer_id="C-1", amount=D("100.00"), method="bank", currency="CNY", actor="x"
    )
    await receive_payment(
        billing.uow, customer_id="C-9", amount=D("20.00"), method="cash", currency="CNY", actor="x"
    )
    cost_month = (NOW + timedelta(hours=2)).strftime("%Y-%m")
    rows = {by: await revenue_and_cost(billing.uow, by) for by in Dimension}
    # The disposal charge is invoiced to the supplier: revenue of category C, of no request.
    assert rows[Dimension.CATEGORY] == [
        {"key": "A", "revenue": D("485.90"), "cost": D("240.25")},
        {"key": "C", "revenue": D("80.00"), "cost": D("0")},
    ]
    assert rows[Dimension.PRODUCT_MODEL] == [
        {"key": "-", "revenue": D("80.00"), "cost": D("0")},
        {"key": "QJ-200", "revenue": D("485.90"), "cost": D("240.25")},
    ]
    assert [r["key"] for r in rows[Dimension.SERVICE_CENTRE]] == ["-", "SP-HZ"]
    assert [r["key"] for r in rows[Dimension.DEALER]] == ["-", "DLR-7"]
    assert rows[Dimension.SUPPLIER] == [
        {"key": "-", "revenue": D("0"), "cost": D("210.00")},
        {"key": "SUP-1", "revenue": D("80.00"), "cost": D("30.25")},
    ]
    by_month = {r["key"]: r for r in rows[Dimension.MONTH]}
    assert sum(r["revenue"] for r in by_month.values()) == D("565.90")
    assert by_month[cost_month]["cost"] == D("240.25")
    await enter_sales(billing.uow, cost_month, D("10000"), "CNY", "x")
    [share] = await cost_share(billing.uow, D("2"))
    assert (share["cost"], share["share_percent"], share["within_target"]) == (
        D("240.25"),
        D("2.40"),
        False,
    )
    receivables = await open_receivables(billing.uow)
    assert [(r["customer_id"], r["owed"], r["credit"], r["outstanding"]) for r in receivables] == [
        ("C-1", D("385.90"), D("0"), D("385.90")),
        ("C-9", D("0"), D("20.00"), D("-20.00")),
        ("SUP-1", D("80.00"), D("0"), D("80.00")),
    ]
    assert receivables[0]["oldest_open_invoice"] == invoice.issued_at.date().isoformat()
    assert [r["bill_to"] for r in receivables] == ["customer", "customer", "supplier"]
    assert await outstanding_total(billing.uow) == {"CNY": D("445.90")}


async def test_a_ruling_before_the_customer_answers_replaces_billings_quote(
    billing: Billing,
) -> None:
    number = "SR-2026-001801"
    await billing.handle(on.on_request_triaged, triaged(number, in_warranty=True))
    await billing.handle(on.on_job_completed, completed(number, "quality_defect", True))
    await billing.handle(
        on.on_claim_partially_approved,
        decided(claims.ClaimPartiallyApprovedV1, number, ("labour", "240", "200")),
    )
    [first] = await billing.rows(QuoteRow, request_no=number)
    assert (first.status, first.total) == ("issued", D("45.20"))
    await billing.handle(
        on.on_claim_rejected, ruling(claims.ClaimRejectedV1, number, ("labour", "240", "0"))
    )
    quotes = {q.quote_no: q for q in await billing.rows(QuoteRow, request_no=number)}
    assert quotes[first.quote_no].status == "void"
    [second] = [q for q in quotes.values() if q.status == "issued"]
    assert second.total == D("485.90")
    # A second ruling approves the claim after all: billing's open quote goes, nothing is owed.
    approval = ruling(claims.ClaimApprovedV1, number, ("labour", "240", "240"))
    await billing.handle(
        on.on_claim_approved, approval.model_copy(update={"decided_at": NOW + timedelta(days=12)})
    )
    assert {q.status for q in await billing.rows(QuoteRow, request_no=number)} == {"void"}
    [row] = await billing.rows(BillingRequestRow, request_no=number)
    assert (row.category, row.invoice_no) == ("C", None) and row.settled_at is not None
    with pytest.raises(Conflict):
        await answer_quote(billing.uow, BillingSettings(), second.quote_no, accepted=True)


async def test_an_approved_quote_is_valid_for_its_full_period_from_approval(
    billing: Billing,
) -> None:
    number = "SR-2026-001901"
    settings = BillingSettings()
    await billing.handle(on.on_request_triaged, triaged(number, in_warranty=False))
    quote = await create_quote(
        billing.uow,
        settings,
        number,
        [QuoteLineInput(LineKind.LABOUR, D(1), unit_price=D("150.00"))],
        "clerk",
    )
    assert quote.status == "awaiting_approval"
    async with billing.uow:  # drafted twenty days ago, approved only now
        row = await billing.uow.session.get(QuoteRow, quote.quote_no)
        assert row is not None and row.valid_until is not None
        row.created_at -= timedelta(days=20)
        row.valid_until -= timedelta(days=20)
        await billing.uow.commit()
    approved = await decide_approval(billing.uow, quote.quote_no, True, "mgr", ["manager"])
    assert approved.valid_until is not None and approved.issued_at is not None
    assert approved.valid_until - approved.issued_at == timedelta(days=settings.quote_valid_days)
    soon = approved.issued_at + timedelta(days=settings.quote_valid_days - 1)
    assert await expire_quotes(billing.uow, settings, soon) == []
