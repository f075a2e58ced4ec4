"""How claims reacts to other services' events. Each runs inside the consumer's unit of work
(inbox row included); it must not commit."""

from __future__ import annotations

from datetime import UTC, datetime

from services.claims.db.repository import ClaimRepository
from services.claims.domain.claim import ClaimedPart, ClaimSource, WarrantyClaim
from shared.db.unit_of_work import UnitOfWork
from shared.events.envelope import Envelope
from shared.events.schemas.intake import DealerWorkReportedV1


async def on_dealer_work_reported(
    uow: UnitOfWork, event: DealerWorkReportedV1, _envelope: Envelope
) -> None:
    """Open a submitted claim for the dealer's work; one per request, whatever is replayed."""
    claims = ClaimRepository(uow.session)
    if await claims.for_request(event.request_no) is not None:
        return
    now = datetime.now(UTC)
    await claims.add(
        WarrantyClaim(
            claim_no=str(await claims.next_number(now.year)),
            request_no=event.request_no,
            source=ClaimSource.DEALER_REPORT,
            dealer_id=event.dealer_id,
            serial_no=event.serial_no,
            product_model=event.product_model,
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
            opened_at=now,
        )
    )
