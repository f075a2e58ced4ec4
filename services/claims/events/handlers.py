"""How claims reacts to other services' events. Each runs inside the consumer's unit of work
(inbox row included); it must not commit. Handlers only record facts: the rules run in the
claims desk loop, which knows the service's settings, so facts arriving in any order (an old
part before its claim, a price after it) are judged together."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import select

from services.claims.commands.quality import record_quality_report, record_repeat_repair
from services.claims.commands.recovery import mark_billed
from services.claims.commands.settlements import mark_statement
from services.claims.db.models import QualityReportRow
from services.claims.db.reference import ReferenceData
from services.claims.db.repository import ClaimRepository
from services.claims.domain.claim import ClaimedPart, ClaimSource, WarrantyClaim
from services.claims.domain.policy import CataloguePart
from services.claims.domain.rules import CoreState
from shared.db.unit_of_work import UnitOfWork
from shared.events.envelope import Envelope
from shared.events.schemas.billing import DealerStatementIssuedV1, SupplierChargebackIssuedV1
from shared.events.schemas.dispatch import JobCompletedV1, RepeatRepairFlaggedV1
from shared.events.schemas.intake import ComplaintQualityReportedV1, DealerWorkReportedV1
from shared.events.schemas.parts import (
    CoreOverdueV1,
    CoreReceivedV1,
    EmergencyShippedV1,
    PartCataloguedV1,
)

# A completed job opens a claim unless it is known to be out of warranty, or its cause is
# known to be the customer's (misuse) or wear: those are paid service, billing's business.
CLAIMABLE_CAUSES = frozenset({"quality_defect", "unknown"})


async def _open(uow: UnitOfWork, claim: WarrantyClaim) -> None:
    claims = ClaimRepository(uow.session)
    if await claims.for_request(claim.request_no) is not None:
        return
    now = datetime.now(UTC)
    claim.claim_no = str(await claims.next_number(now.year))
    claim.opened_at = now
    flagged = await uow.session.execute(
        select(QualityReportRow.id).where(
            QualityReportRow.kind == "repeat_repair",
            QualityReportRow.request_no == claim.request_no,
        )
    )
    claim.repeat_repair = claim.repeat_repair or flagged.first() is not None
    await claims.add(claim)


async def on_dealer_work_reported(
    uow: UnitOfWork, event: DealerWorkReportedV1, _envelope: Envelope
) -> None:
    """Open a submitted claim for the dealer's work; one per request, whatever is replayed."""
    await _open(
        uow,
        WarrantyClaim(
            claim_no="",
            request_no=event.request_no,
            source=ClaimSource.DEALER_REPORT,
            dealer_id=event.dealer_id,
            serial_no=event.serial_no,
            product_model=event.product_model,
            product_line=event.product_line,
            purchase_date=event.purchase_date,
            in_warranty_at_intake=event.in_warranty,
            cause=event.cause,
            fault_description=event.fault_description,
            fault_code=event.fault_code,
            repaired_at=event.completed_at,
            labour_hours=event.labour_hours,
            travel_km=event.travel_km,
            parts=[
                ClaimedPart(p.part_no, p.quantity, p.old_part_serial) for p in event.parts_replaced
            ],
        ),
    )


async def on_job_completed(uow: UnitOfWork, event: JobCompletedV1, _envelope: Envelope) -> None:
    """Open a claim for our own technician's warranty work (in warranty or not known to be
    out of it; cause a quality defect or not yet known); one per request."""
    if event.in_warranty is False or event.cause not in CLAIMABLE_CAUSES:
        return
    serials = {r.part_no: list(r.serials) for r in event.old_parts_removed}
    await _open(
        uow,
        WarrantyClaim(
            claim_no="",
            request_no=event.request_no,
            source=ClaimSource.JOB,
            dealer_id=event.dealer_id,
            serial_no=event.serial_no,
            product_model=event.product_model,
            product_line=event.product_line,
            purchase_date=event.purchase_date,
            in_warranty_at_intake=event.in_warranty,
            cause=event.cause,
            fault_description=event.findings,
            fault_code=event.fault_code,
            repaired_at=event.completed_at,
            labour_hours=(Decimal(event.labour_minutes) / 60).quantize(Decimal("0.01")),
            travel_km=event.travel_km,
            parts=[
                ClaimedPart(p.part_no, p.quantity, ",".join(serials.get(p.part_no, [])) or None)
                for p in event.parts_used
            ],
            repeat_repair=event.repeat_repair,
        ),
    )


async def on_part_catalogued(uow: UnitOfWork, event: PartCataloguedV1, _envelope: Envelope) -> None:
    await ReferenceData(uow.session).catalogue(
        CataloguePart(
            part_no=event.part_no,
            name=event.name,
            list_price=event.list_price,
            unit_cost=event.unit_cost,
            supplier_id=event.supplier_id,
            return_required=event.return_required,
            changed_at=event.changed_at,
        )
    )


async def on_core_received(uow: UnitOfWork, event: CoreReceivedV1, _envelope: Envelope) -> None:
    state = CoreState.RECEIVED if event.matched else CoreState.MISMATCHED
    detail = (
        f"{event.quantity} received" if event.matched else "; ".join(event.mismatches) or "mismatch"
    )
    await ClaimRepository(uow.session).record_core(
        event.request_no, event.part_no, state, detail, event.received_at
    )


async def on_core_overdue(uow: UnitOfWork, event: CoreOverdueV1, _envelope: Envelope) -> None:
    await ClaimRepository(uow.session).record_core(
        event.request_no,
        event.part_no,
        CoreState.OVERDUE,
        f"{event.quantity_received} of {event.quantity_expected} back by {event.due_on.date()}",
        event.at,
    )


async def on_quality_complaint(
    uow: UnitOfWork, event: ComplaintQualityReportedV1, _envelope: Envelope
) -> None:
    await record_quality_report(
        uow,
        "complaint",
        event.complaint_no,
        event.request_no,
        event.product_model,
        event.description,
        {
            "serial_no": event.serial_no,
            "dealer_id": event.dealer_id,
            "cause": event.cause,
            "received_at": event.received_at.isoformat(),
        },
        event.reported_at,
    )


async def on_repeat_repair(
    uow: UnitOfWork, event: RepeatRepairFlaggedV1, _envelope: Envelope
) -> None:
    await record_repeat_repair(
        uow,
        event.request_no,
        event.request_no,
        f"{event.fault_code} again on {event.serial_no} after {event.previous_request_no}",
        {
            "serial_no": event.serial_no,
            "fault_code": event.fault_code,
            "previous_request_no": event.previous_request_no,
            "previous_completed_at": event.previous_completed_at.isoformat(),
        },
        event.completed_at,
        event.product_model,
    )


async def on_emergency_shipped(
    uow: UnitOfWork, event: EmergencyShippedV1, _envelope: Envelope
) -> None:
    await record_quality_report(
        uow,
        "emergency_shipment",
        event.emergency_no,
        event.request_no,
        None,
        f"shipped by {event.carrier} {event.tracking_no}, approved by {event.approved_by}",
        {
            "warehouse_id": event.warehouse_id,
            "service_point_id": event.service_point_id,
            "lines": [{"part_no": x.part_no, "quantity": x.quantity} for x in event.lines],
            "carrier": event.carrier,
            "tracking_no": event.tracking_no,
        },
        event.shipped_at,
    )


async def on_dealer_statement(
    uow: UnitOfWork, event: DealerStatementIssuedV1, _envelope: Envelope
) -> None:
    await mark_statement(uow, event.settlement_no, event.statement_no)


async def on_supplier_chargeback(
    uow: UnitOfWork, event: SupplierChargebackIssuedV1, _envelope: Envelope
) -> None:
    await mark_billed(uow, event.reference, event.chargeback_no)
