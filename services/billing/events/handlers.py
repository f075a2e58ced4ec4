"""How billing reacts to other services' events. Each runs inside the consumer's unit of
work and must not commit; each is idempotent by the business key it carries, so a replayed
or republished event never books a second cost or issues a second document."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from functools import cache

from services.billing.commands.documents import settle_if_owed_nothing
from services.billing.commands.pricing import keep_catalogue_copy
from services.billing.commands.quotes import void_open_quotes
from services.billing.commands.requests import (
    bill_when_ready,
    book_cost,
    book_visit_if_declined,
    claim_lines_json,
    correct_after_claim,
    request_view,
)
from services.billing.commands.settlements import (
    correct_recovery,
    issue_chargeback,
    issue_dealer_statement,
    note_recovery,
    withdraw_recovery,
)
from services.billing.db.models import CataloguePartRow
from services.billing.domain.categories import Category, ClaimLine, ClaimOutcome
from services.billing.domain.money import LineKind, to_fen
from services.billing.settings import BillingSettings
from shared.db.unit_of_work import UnitOfWork
from shared.events.envelope import Envelope
from shared.events.schemas.claims import (
    ClaimApprovedV1,
    ClaimPartiallyApprovedV1,
    ClaimRejectedV1,
    SettlementClosedV1,
    SupplierRecoveryCorrectedV1,
    SupplierRecoveryDisputedV1,
    SupplierRecoveryFinalizedV1,
    SupplierRecoveryIssuedV1,
    SupplierRecoveryWithdrawnV1,
)
from shared.events.schemas.dispatch import (
    JobAssignedV1,
    JobCompletedV1,
    JobDiagnosedV1,
    JobOnSiteV1,
)
from shared.events.schemas.intake import (
    RequestCancelledV1,
    RequestResolvedRemotelyV1,
    RequestTriagedV2,
    ReturnInspectedV1,
    ReturnReceivedV1,
    ReturnRepairedV1,
    ReturnShippedV1,
)
from shared.events.schemas.parts import (
    PartCataloguedV1,
    PartsConsumedV1,
    SupplierDisposalChargedV1,
)


@cache
def settings() -> BillingSettings:
    # Read once, on the first event, not at import.
    return BillingSettings()


async def on_request_triaged(uow: UnitOfWork, event: RequestTriagedV2, _: Envelope) -> None:
    row = await request_view(uow, event.request_no)
    if row.triaged_at is not None and row.triaged_at > event.triaged_at:
        return  # a newer triage already arrived
    row.triaged_at = event.triaged_at
    row.customer_id = event.customer_id or row.customer_id
    row.customer_name = event.customer_name
    row.product_model, row.product_line = event.product_model, event.product_line
    row.serial_no, row.service_type = event.serial_no, event.kind
    row.in_warranty = event.in_warranty
    row.dealer_id = event.dealer_id or row.dealer_id
    await bill_when_ready(uow, settings(), row)


async def on_request_cancelled(uow: UnitOfWork, event: RequestCancelledV1, _: Envelope) -> None:
    row = await request_view(uow, event.request_no)
    row.cancelled_at = row.cancelled_at or event.cancelled_at
    await void_open_quotes(uow, event.request_no)


async def on_resolved_remotely(
    uow: UnitOfWork, event: RequestResolvedRemotelyV1, _: Envelope
) -> None:
    """Phone guidance is the company's own work: category D, nothing billed, settled."""
    row = await request_view(uow, event.request_no)
    row.resolved_remotely_at = row.resolved_remotely_at or event.resolved_at
    row.product_model = row.product_model or event.product_model
    if row.category is None:
        row.category, row.category_reason = Category.INTERNAL.value, "resolved remotely"
    await settle_if_owed_nothing(uow, row, settings().currency, event.resolved_at)


async def on_return_received(uow: UnitOfWork, event: ReturnReceivedV1, _: Envelope) -> None:
    row = await request_view(uow, event.request_no)
    row.return_no = event.return_no
    row.product_model = row.product_model or event.product_model
    row.serial_no = row.serial_no or event.serial_no
    if row.in_warranty is None:
        row.in_warranty = event.in_warranty


async def on_return_inspected(uow: UnitOfWork, event: ReturnInspectedV1, _: Envelope) -> None:
    row = await request_view(uow, event.request_no)
    row.return_no = row.return_no or event.return_no
    row.return_passed = event.passed


async def on_return_shipped(uow: UnitOfWork, event: ReturnShippedV1, _: Envelope) -> None:
    """Shipping back is a cost of the return; who pays it follows the cause (company for
    quality problems, the customer for misuse) through the request's category."""
    row = await request_view(uow, event.request_no)
    row.return_no = row.return_no or event.return_no
    row.return_shipped_at = row.return_shipped_at or event.shipped_at
    if event.shipping_cost:
        row.return_shipping_cost = event.shipping_cost
        await book_cost(
            uow,
            settings(),
            source_key=f"return:{event.return_no}:shipping",
            request_no=event.request_no,
            kind=LineKind.OTHER,
            description=f"return shipping ({event.carrier})",
            quantity=Decimal(1),
            unit_cost=event.shipping_cost,
            occurred_at=event.shipped_at,
        )
    await bill_when_ready(uow, settings(), row)


async def on_return_repaired(uow: UnitOfWork, event: ReturnRepairedV1, _: Envelope) -> None:
    """The workshop's repair of a returned unit is its work, as a job's completion is a
    visit's: its cost is booked (labour hours × the internal rate, parts at the cost price
    of billing's catalogue copy) and, with no dispatch job, it is what the customer is
    billed for if the repair is paid work (misuse: category A)."""
    config = settings()
    row = await request_view(uow, event.request_no)
    row.return_no = row.return_no or event.return_no
    row.product_model = row.product_model or event.product_model
    row.serial_no = row.serial_no or event.serial_no
    if row.in_warranty is None:
        row.in_warranty = event.in_warranty
    if row.return_repaired_at is None or event.repaired_at > row.return_repaired_at:
        row.return_repaired_at = event.repaired_at
        if row.completed_at is None:  # a dispatch job's report, if any, stands
            row.cause = event.cause
            minutes = (event.labour_hours * 60).quantize(Decimal(1), ROUND_HALF_UP)
            row.labour_minutes = int(minutes)
            row.parts_used = [
                {"part_no": p.part_no, "quantity": p.quantity} for p in event.parts_replaced
            ]
    repair = f"return:{event.return_no}:repair:{event.repaired_at.isoformat()}"
    if event.labour_hours > 0:
        await book_cost(
            uow,
            config,
            source_key=f"{repair}:labour",
            request_no=event.request_no,
            kind=LineKind.LABOUR,
            description=f"workshop labour {event.repaired_by}",
            quantity=event.labour_hours.quantize(Decimal("0.001")),
            unit_cost=config.internal_labour_rate,
            occurred_at=event.repaired_at,
        )
    for number, replaced in enumerate(event.parts_replaced):
        part = await uow.session.get(CataloguePartRow, replaced.part_no)
        await book_cost(
            uow,
            config,
            source_key=f"{repair}:{number}:{replaced.part_no}"[:120],
            request_no=event.request_no,
            kind=LineKind.PARTS,
            # Parts' catalogue never told billing this part's cost: booked at 0, named so.
            description=replaced.part_no if part else f"{replaced.part_no} (cost unknown)",
            quantity=Decimal(replaced.quantity),
            unit_cost=part.unit_cost if part else Decimal(0),
            occurred_at=event.repaired_at,
            supplier_id=part.supplier_id if part else None,
        )
    await bill_when_ready(uow, config, row)


async def on_job_assigned(uow: UnitOfWork, event: JobAssignedV1, _: Envelope) -> None:
    """The service point a visit starts from (its standard travel costs a declined visit)."""
    row = await request_view(uow, event.request_no)
    if row.completed_at is None and row.diagnosed_at is None:  # their point is the later fact
        row.service_point_id = event.service_point_id
    # Heard after the declined visit was costed: its standard travel is booked now.
    await book_visit_if_declined(uow, settings(), row)


async def on_job_on_site(uow: UnitOfWork, event: JobOnSiteV1, _: Envelope) -> None:
    row = await request_view(uow, event.request_no)
    if row.arrived_at is None or event.arrived_at > row.arrived_at:
        row.arrived_at = event.arrived_at
    await book_visit_if_declined(uow, settings(), row)


async def on_job_diagnosed(uow: UnitOfWork, event: JobDiagnosedV1, _: Envelope) -> None:
    """The cause found on site, before any repair: billing's category follows it until the
    completed job (whose cause wins) or a claim decides; a visit whose quote is then
    declined is costed from arrival to this diagnosis."""
    row = await request_view(uow, event.request_no)
    if row.diagnosed_at is None or event.diagnosed_at > row.diagnosed_at:
        row.diagnosed_at = event.diagnosed_at
        if row.completed_at is None:
            row.cause = event.cause
            row.service_point_id = event.service_point_id
    row.customer_name = row.customer_name or event.customer_name
    row.product_model = row.product_model or event.product_model
    row.product_line = row.product_line or event.product_line
    row.serial_no = row.serial_no or event.serial_no
    row.service_type = row.service_type or event.kind
    row.dealer_id = row.dealer_id or event.dealer_id
    if row.in_warranty is None:
        row.in_warranty = event.in_warranty
    await book_visit_if_declined(uow, settings(), row)


async def on_job_completed(uow: UnitOfWork, event: JobCompletedV1, _: Envelope) -> None:
    config = settings()
    row = await request_view(uow, event.request_no)
    if row.completed_at is None or event.completed_at > row.completed_at:
        row.completed_at = event.completed_at
        row.service_point_id = event.service_point_id
        row.cause = event.cause
        row.labour_minutes = event.labour_minutes
        row.travel_km = event.travel_km
        row.parts_used = [{"part_no": p.part_no, "quantity": p.quantity} for p in event.parts_used]
    row.customer_name = row.customer_name or event.customer_name
    row.product_model = row.product_model or event.product_model
    row.product_line = row.product_line or event.product_line
    row.serial_no = row.serial_no or event.serial_no
    row.service_type = row.service_type or event.kind
    row.dealer_id = row.dealer_id or event.dealer_id
    if row.in_warranty is None:
        row.in_warranty = event.in_warranty
    visit = f"job:{event.request_no}:{event.completed_at.isoformat()}"
    hours = Decimal(event.labour_minutes) / 60
    if hours > 0:
        await book_cost(
            uow,
            config,
            source_key=f"{visit}:labour",
            request_no=event.request_no,
            kind=LineKind.LABOUR,
            description=f"labour {event.technician_name}",
            quantity=hours.quantize(Decimal("0.001")),
            unit_cost=config.internal_labour_rate,
            occurred_at=event.completed_at,
        )
    if event.travel_km > 0:
        await book_cost(
            uow,
            config,
            source_key=f"{visit}:travel",
            request_no=event.request_no,
            kind=LineKind.TRAVEL,
            description="travel (km)",
            quantity=event.travel_km,
            unit_cost=config.internal_travel_per_km,
            occurred_at=event.completed_at,
        )
    await bill_when_ready(uow, config, row)


async def on_parts_consumed(uow: UnitOfWork, event: PartsConsumedV1, _: Envelope) -> None:
    """Parts are costed at their cost price, whoever pays for the work."""
    await request_view(uow, event.request_no)
    for number, consumed in enumerate(event.lines):
        await book_cost(
            uow,
            settings(),
            source_key=(
                f"parts:{event.request_no}:{event.consumed_at.isoformat()}:"
                f"{number}:{consumed.part_no}"
            ),
            request_no=event.request_no,
            kind=LineKind.PARTS,
            description=consumed.part_no,
            quantity=Decimal(consumed.quantity),
            unit_cost=consumed.unit_cost,
            occurred_at=event.consumed_at,
            supplier_id=consumed.supplier_id,
        )


async def on_part_catalogued(uow: UnitOfWork, event: PartCataloguedV1, _: Envelope) -> None:
    await keep_catalogue_copy(
        uow,
        event.part_no,
        event.name,
        event.unit_cost,
        event.list_price,
        event.supplier_id,
        event.changed_at,
    )


async def _on_claim_decided(
    uow: UnitOfWork,
    event: ClaimApprovedV1 | ClaimPartiallyApprovedV1 | ClaimRejectedV1,
    outcome: ClaimOutcome,
) -> None:
    """The latest decision counts (a ruling after a dispute replaces the first decision),
    as long as nothing has been invoiced or settled yet."""
    row = await request_view(uow, event.request_no)
    if row.claim_decided_at is not None and row.claim_decided_at >= event.decided_at:
        return
    row.claim_outcome, row.claim_source = outcome.value, event.source
    row.claim_decided_at = event.decided_at
    row.claim_lines = claim_lines_json(
        [
            ClaimLine(
                kind=x.kind,
                description=x.description,
                part_no=x.part_no,
                quantity=x.quantity,
                amount_claimed=x.amount_claimed,
                amount_approved=x.amount_approved,
            )
            for x in event.lines
        ]
    )
    row.product_model = row.product_model or event.product_model
    row.serial_no = row.serial_no or event.serial_no
    row.dealer_id = row.dealer_id or event.dealer_id
    row.cause = row.cause or event.cause
    await bill_when_ready(uow, settings(), row)
    await correct_after_claim(uow, settings(), row)


async def on_claim_approved(uow: UnitOfWork, event: ClaimApprovedV1, _: Envelope) -> None:
    await _on_claim_decided(uow, event, ClaimOutcome.APPROVED)


async def on_claim_partially_approved(
    uow: UnitOfWork, event: ClaimPartiallyApprovedV1, _: Envelope
) -> None:
    await _on_claim_decided(uow, event, ClaimOutcome.PARTIALLY_APPROVED)


async def on_claim_rejected(uow: UnitOfWork, event: ClaimRejectedV1, _: Envelope) -> None:
    await _on_claim_decided(uow, event, ClaimOutcome.REJECTED)


async def on_settlement_closed(uow: UnitOfWork, event: SettlementClosedV1, _: Envelope) -> None:
    """A dealer's monthly settlement becomes its reimbursement statement (a payable) and each
    item a cost of its request. A supplier's settlement needs nothing here: its recoveries
    arrive one by one as finalized."""
    if event.party != "dealer":
        return
    await issue_dealer_statement(
        uow,
        settlement_no=event.settlement_no,
        dealer_id=event.party_id,
        period=event.period,
        items=[
            {"reference": i.reference, "request_no": i.request_no, "amount": str(i.amount)}
            for i in event.items
        ],
        total=event.total,
        currency=event.currency,
        at=event.closed_at,
    )
    # What the dealer is reimbursed is what the dealer's warranty work cost the company.
    for item in event.items:
        await book_cost(
            uow,
            settings(),
            source_key=f"dealer:{event.settlement_no}:{item.reference}"[:120],
            request_no=item.request_no,
            kind=LineKind.OTHER,
            description=f"dealer reimbursement {event.party_id} ({item.reference})",
            quantity=Decimal(1),
            unit_cost=item.amount,
            occurred_at=event.closed_at,
        )


async def on_recovery_issued(uow: UnitOfWork, event: SupplierRecoveryIssuedV1, _: Envelope) -> None:
    await note_recovery(
        uow,
        recovery_no=event.recovery_no,
        supplier_id=event.supplier_id,
        status="pending",
        at=event.issued_at,
        claim_no=event.claim_no,
        request_no=event.request_no,
        total=event.total,
        currency=event.currency,
        dispute_deadline=event.dispute_deadline,
    )


async def on_recovery_disputed(
    uow: UnitOfWork, event: SupplierRecoveryDisputedV1, _: Envelope
) -> None:
    await note_recovery(
        uow,
        recovery_no=event.recovery_no,
        supplier_id=event.supplier_id,
        status="disputed",
        at=event.disputed_at,
        dispute_reason=event.reason,
    )


async def on_recovery_finalized(
    uow: UnitOfWork, event: SupplierRecoveryFinalizedV1, _: Envelope
) -> None:
    recovery = await note_recovery(
        uow,
        recovery_no=event.recovery_no,
        supplier_id=event.supplier_id,
        status="final",
        at=event.finalized_at,
        claim_no=event.claim_no,
        request_no=event.request_no,
        total=event.total,
        currency=event.currency,
    )
    if recovery.status == "withdrawn":
        return  # the withdrawal overtook it: nothing is charged
    await issue_chargeback(
        uow,
        reference=event.recovery_no,
        source="recovery",
        supplier_id=event.supplier_id,
        settle_by=event.settle_by,
        total=event.total,
        currency=event.currency,
        at=event.finalized_at,
        request_no=event.request_no,
    )


async def on_disposal_charged(
    uow: UnitOfWork, event: SupplierDisposalChargedV1, _: Envelope
) -> None:
    await issue_chargeback(
        uow,
        reference=event.disposal_no,
        source="disposal",
        supplier_id=event.supplier_id,
        settle_by=settings().disposal_settle_by,
        total=event.amount,
        currency=event.currency,
        at=event.charged_at,
    )


async def on_recovery_withdrawn(
    uow: UnitOfWork, event: SupplierRecoveryWithdrawnV1, _: Envelope
) -> None:
    """Billing reverses what it charged whether or not ``was_final`` says it was final: it
    knows what it charged (nothing, if the recovery never became final here)."""
    await withdraw_recovery(
        uow,
        recovery_no=event.recovery_no,
        supplier_id=event.supplier_id,
        claim_no=event.claim_no,
        request_no=event.request_no,
        reason=event.reason,
        at=event.withdrawn_at,
    )


async def on_recovery_corrected(
    uow: UnitOfWork, event: SupplierRecoveryCorrectedV1, _: Envelope
) -> None:
    await correct_recovery(
        uow,
        recovery_no=event.recovery_no,
        supplier_id=event.supplier_id,
        claim_no=event.claim_no,
        request_no=event.request_no,
        total=to_fen(event.total),
        difference=to_fen(event.total - event.previous_total),
        settle_by=event.settle_by,
        currency=event.currency,
        reason=event.reason,
        at=event.corrected_at,
    )
