"""Emergency ("machine down") requests: a manager approves, then they are served before
everyone (priority ``emergency`` in reservation and backorder order); the shipment record
goes to intake and claims."""

from __future__ import annotations

from datetime import timedelta

from services.parts.commands.errors import Conflict, NotFound
from services.parts.commands.reservations import JobParts, reserve
from services.parts.db.models import EmergencyRow, ReservationRow
from services.parts.db.numbers import next_number
from services.parts.db.stockroom import Stockroom
from services.parts.domain.allocation import Priority
from shared.events.schemas.parts import BackorderedLineV1, EmergencyShippedV1


async def request_emergency(
    stockroom: Stockroom,
    request_no: str,
    service_point_id: str | None,
    lines: dict[str, int],
    reason: str,
) -> EmergencyRow:
    row = EmergencyRow(
        emergency_no=await next_number(stockroom.session, "EM", stockroom.now.year),
        request_no=request_no,
        service_point_id=service_point_id,
        lines=[{"part_no": p, "quantity": q} for p, q in sorted(lines.items())],
        reason=reason,
        status="requested",
        requested_by=stockroom.actor or "unknown",
        requested_at=stockroom.now,
    )
    stockroom.session.add(row)
    await stockroom.session.flush()
    return row


async def _get(stockroom: Stockroom, emergency_no: str) -> EmergencyRow:
    row = await stockroom.session.get(EmergencyRow, emergency_no, with_for_update=True)
    if row is None:
        raise NotFound(f"No emergency request {emergency_no}.")
    return row


async def decide(
    stockroom: Stockroom, emergency_no: str, approve: bool, hold: timedelta
) -> EmergencyRow:
    row = await _get(stockroom, emergency_no)
    if row.status != "requested":
        raise Conflict(f"emergency {emergency_no} is {row.status}; allowed from: requested")
    row.decided_by, row.decided_at = stockroom.actor, stockroom.now
    if not approve:
        row.status = "rejected"
        return row
    row.status = "approved"
    reservation = await reserve(
        stockroom,
        JobParts(
            request_no=row.request_no,
            service_point_id=row.service_point_id,
            technician_id=None,
            priority=Priority.EMERGENCY,
            lines=[(line["part_no"], int(line["quantity"])) for line in row.lines],
            requested_at=row.requested_at,
        ),
        hold,
    )
    if reservation is not None:
        row.reservation_id = reservation.reservation_id
        row.warehouse_id = reservation.warehouse_id
    return row


async def ship(
    stockroom: Stockroom, emergency_no: str, carrier: str, tracking_no: str
) -> EmergencyRow:
    row = await _get(stockroom, emergency_no)
    if row.status != "approved":
        raise Conflict(f"emergency {emergency_no} is {row.status}; allowed from: approved")
    if row.reservation_id:
        reservation = await stockroom.session.get(ReservationRow, row.reservation_id)
        if reservation is not None and reservation.status == "backordered":
            raise Conflict(f"emergency {emergency_no} still waits for stock; ship when reserved")
    row.status, row.carrier, row.tracking_no, row.shipped_at = (
        "shipped", carrier, tracking_no, stockroom.now,
    )  # fmt: skip
    await stockroom.uow.publish(
        EmergencyShippedV1(
            request_no=row.request_no,
            emergency_no=row.emergency_no,
            warehouse_id=row.warehouse_id or "",
            service_point_id=row.service_point_id,
            lines=[
                BackorderedLineV1(part_no=x["part_no"], quantity=x["quantity"]) for x in row.lines
            ],
            carrier=carrier,
            tracking_no=tracking_no,
            approved_by=row.decided_by or "",
            shipped_at=stockroom.now,
        )
    )
    return row
