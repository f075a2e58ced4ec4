"""How claims reacts to other services' events. Each runs inside the consumer's unit of work
(inbox row included); it must not commit. Handlers only record facts: the rules run in the
claims desk loop, which knows the service's settings, so facts arriving in any order (an old
part before its claim, a price after it) are judged together."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy import select, update

from services.claims.commands.quality import record_quality_report, record_repeat_repair
from services.claims.commands.recovery import mark_billed
from services.claims.commands.settlements import mark_statement
from services.claims.db.models import ClaimRow, QualityReportRow, RequestFactsRow
from services.claims.db.reference import ReferenceData
from services.claims.db.repository import ClaimRepository
from services.claims.domain.claim import ClaimedPart, ClaimSource, ClaimStatus, WarrantyClaim
from services.claims.domain.opening import Report, opens_claim, under_warranty
from services.claims.domain.policy import CataloguePart, policy_in_force
from services.claims.domain.rules import CoreState
from shared.db.unit_of_work import UnitOfWork
from shared.events.envelope import Envelope
from shared.events.schemas.billing import DealerStatementIssuedV1, SupplierChargebackIssuedV1
from shared.events.schemas.dispatch import JobCompletedV1, JobDiagnosedV1, RepeatRepairFlaggedV1
from shared.events.schemas.intake import (
    ComplaintQualityReportedV1,
    DealerWorkReportedV1,
    RequestTriagedV2,
    ReturnRepairedV1,
)
from shared.events.schemas.parts import (
    CoreOverdueV1,
    CoreReceivedV1,
    EmergencyShippedV1,
    PartCataloguedV1,
)


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


async def _covered(
    uow: UnitOfWork,
    in_warranty: bool | None,
    product_model: str,
    purchase_date: date | None,
    on: date,
) -> bool | None:
    """Under warranty on ``on``: intake's word, else the policy in force at purchase."""
    if in_warranty is not None or purchase_date is None:
        return in_warranty
    policies = await ReferenceData(uow.session).policies(product_model)
    return under_warranty(None, purchase_date, policy_in_force(policies, purchase_date), on)


async def on_job_diagnosed(uow: UnitOfWork, event: JobDiagnosedV1, _envelope: Envelope) -> None:
    """Misuse (or human damage) found on site on a unit under warranty: the request's claim
    opens now, with nothing repaired yet (no lines), so the rules reject it ``CDR`` before
    any paid work is quoted. Any other diagnosis opens nothing: the completed job's report
    does. One claim per request: a later completed job finds it and opens nothing more."""
    covered = await _covered(
        uow, event.in_warranty, event.product_model, event.purchase_date, event.diagnosed_at.date()
    )
    if not opens_claim(Report.DIAGNOSIS, event.cause, covered):
        return
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
            repaired_at=event.diagnosed_at,
            labour_hours=Decimal("0.00"),
            travel_km=Decimal("0.0"),
        ),
    )


async def on_job_completed(uow: UnitOfWork, event: JobCompletedV1, _envelope: Envelope) -> None:
    """Open a claim for our own technician's work: a quality defect or a cause not yet known
    (unless known out of warranty), or misuse on a unit under warranty (rejected ``CDR``).
    One per request: a claim a diagnosis opened stays the request's only claim."""
    covered = await _covered(
        uow, event.in_warranty, event.product_model, event.purchase_date, event.completed_at.date()
    )
    if not opens_claim(Report.REPAIR, event.cause, covered):
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


async def on_return_repaired(uow: UnitOfWork, event: ReturnRepairedV1, _envelope: Envelope) -> None:
    """A unit shipped in and repaired in the workshop: a claim (source ``return``) for the
    parts replaced and the labour, no travel, opened as for a completed job. The report has
    no purchase date, product line or dealer: triage's are used (see on_request_triaged)."""
    facts = await uow.session.get(RequestFactsRow, event.request_no)
    purchase_date = facts.purchase_date if facts else None
    covered = await _covered(
        uow, event.in_warranty, event.product_model, purchase_date, event.repaired_at.date()
    )
    if not opens_claim(Report.REPAIR, event.cause, covered):
        return
    await _open(
        uow,
        WarrantyClaim(
            claim_no="",
            request_no=event.request_no,
            source=ClaimSource.RETURN,
            dealer_id=facts.dealer_id if facts else None,
            serial_no=event.serial_no,
            product_model=event.product_model,
            product_line=facts.product_line if facts else None,
            purchase_date=purchase_date,
            in_warranty_at_intake=event.in_warranty,
            cause=event.cause,
            fault_description=f"return {event.return_no}, repaired by {event.repaired_by}",
            fault_code=event.fault_code,
            repaired_at=event.repaired_at,
            labour_hours=event.labour_hours,
            travel_km=Decimal("0.0"),
            parts=[
                ClaimedPart(p.part_no, p.quantity, p.old_part_serial) for p in event.parts_replaced
            ],
        ),
    )


async def on_request_triaged(uow: UnitOfWork, event: RequestTriagedV2, _envelope: Envelope) -> None:
    """Keep what triage knew (the latest triage wins). A return's claim that arrived first
    and is not yet taken up by the rules gets the facts it lacks."""
    row = await uow.session.get(RequestFactsRow, event.request_no, with_for_update=True)
    if row is None:
        row = RequestFactsRow(request_no=event.request_no, triaged_at=event.triaged_at)
        uow.session.add(row)
    elif row.triaged_at > event.triaged_at:
        return
    row.product_line, row.purchase_date = event.product_line, event.purchase_date
    row.in_warranty, row.dealer_id = event.in_warranty, event.dealer_id
    row.triaged_at = event.triaged_at
    # One statement guarded by the status: the desk may be deciding the claim right now.
    await uow.session.execute(
        update(ClaimRow)
        .where(
            ClaimRow.request_no == event.request_no,
            ClaimRow.source == ClaimSource.RETURN.value,
            ClaimRow.status == ClaimStatus.SUBMITTED.value,
            ClaimRow.purchase_date.is_(None),
        )
        .values(
            purchase_date=event.purchase_date,
            product_line=event.product_line,
            dealer_id=event.dealer_id,
        )
    )
    await uow.session.flush()


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
    await mark_billed(
        uow, event.reference, event.chargeback_no, event.total, event.settle_by, event.issued_at
    )
