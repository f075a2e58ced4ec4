"""Reserving a job's parts, filling backorders as stock arrives, expiry and release, issue to
the technician, consumption confirmed by the job's completion, and return of unused parts.

Every function here runs inside an open unit of work (the caller commits): an event handler's,
or a route's.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.parts.commands.errors import Conflict, NotFound
from services.parts.db import jobs
from services.parts.db.models import (
    EmergencyRow,
    JobRow,
    PartRow,
    ReservationLineRow,
    ReservationRow,
    StockRow,
    TechnicianHoldingRow,
    WarehouseRow,
)
from services.parts.db.stockroom import (
    Stockroom,
    central_warehouse,
    service_centre_of,
    van_of,
)
from services.parts.domain.allocation import Priority, WaitingLine, allocate, share_out
from services.parts.domain.stock import MovementKind, WarehouseKind
from services.parts.metrics import RESERVATION_LATENCY
from shared.events.schemas.parts import (
    BackorderedLineV1,
    ConsumedLineV1,
    PartsConsumedV1,
    PartsIssuedV1,
    ReservationBackorderedV1,
    ReservationConfirmedV1,
    ReservationReleasedV1,
    ReservedLineV1,
)


@dataclass(frozen=True)
class JobParts:
    """What a job asks for (from dispatch, or an approved emergency)."""

    request_no: str
    service_point_id: str | None
    technician_id: str | None
    priority: Priority
    lines: list[tuple[str, int]]
    requested_at: datetime


def _merged(lines: Iterable[tuple[str, int]]) -> dict[str, int]:
    merged: dict[str, int] = defaultdict(int)
    for part_no, quantity in lines:
        if quantity > 0:
            merged[part_no] += quantity
    return dict(sorted(merged.items()))


async def reserve(stockroom: Stockroom, wanted: JobParts, hold: timedelta) -> ReservationRow | None:
    """Reserve from the job's service centre, then central (moved over by a transfer); what
    neither has is backordered. None when the job is already cancelled or completed."""
    session, now = stockroom.session, stockroom.now
    job = await jobs.job(session, wanted.request_no)
    job.service_point_id = wanted.service_point_id or job.service_point_id
    job.technician_id = wanted.technician_id or job.technician_id
    if job.cancelled_at is not None or job.completed_at is not None:
        return None
    lines = _merged(wanted.lines)
    # A job asks again when its appointment is rescheduled: what it already holds or waits
    # for counts, only the rest is reserved. An emergency moves its job's waiting lines to
    # the front of every queue.
    already = await jobs.open_reservations(session, wanted.request_no, lock=False)
    covered: dict[str, int] = defaultdict(int)
    for held in already:
        if wanted.priority is Priority.EMERGENCY:
            held.priority = Priority.EMERGENCY.value
        for line in await jobs.lines_of(session, held.reservation_id, lock=False):
            covered[line.part_no] += line.reserved + line.backordered + line.issued
    lines = {p: q - covered[p] for p, q in lines.items() if q > covered[p]}
    if not lines:
        return already[0] if already else None
    centre = await service_centre_of(session, wanted.service_point_id)
    central = await central_warehouse(session)
    home = centre or central
    if home is None:
        raise Conflict("no warehouse to reserve from: set up the central warehouse first")
    reservation = ReservationRow(
        reservation_id=await _reservation_id(session, wanted.request_no),
        request_no=wanted.request_no,
        warehouse_id=home.warehouse_id,
        priority=wanted.priority.value,
        status="confirmed",
        technician_id=job.technician_id,
        requested_at=wanted.requested_at,
        created_at=now,
        # A job already on site uses its parts now: its reservation does not expire.
        expires_at=None if job.on_site_at else now + hold,
    )
    session.add(reservation)
    keys = [(p, home.warehouse_id) for p in lines]
    if central is not None and central is not home:
        keys += [(p, central.warehouse_id) for p in lines]
    rows = await stockroom.lock(keys)
    reserved: list[ReservedLineV1] = []
    backordered: list[BackorderedLineV1] = []
    for part_no, quantity in lines.items():
        local = rows[(part_no, home.warehouse_id)]
        far = rows.get((part_no, central.warehouse_id)) if central is not home and central else None
        allocation = allocate(
            part_no,
            quantity,
            local.on_hand - local.reserved,
            (far.on_hand - far.reserved) if far is not None else 0,
        )
        if allocation.from_central and central is not None:
            await _transfer(
                stockroom,
                part_no,
                central.warehouse_id,
                home.warehouse_id,
                allocation.from_central,
                wanted.request_no,
                reservation.reservation_id,
            )
        taken, missing = allocation.reserved, allocation.backordered
        if missing and wanted.priority is Priority.EMERGENCY:
            # A machine is down: units held for jobs nobody has started on go to it first.
            freed = await _preempt(stockroom, part_no, home.warehouse_id, missing)
            taken, missing = taken + freed, missing - freed
        if taken:
            await stockroom.move(
                MovementKind.RESERVATION, part_no, home.warehouse_id, taken,
                request_no=wanted.request_no, reference=reservation.reservation_id,
            )  # fmt: skip
            reserved.append(
                ReservedLineV1(part_no=part_no, quantity=taken, warehouse_id=home.warehouse_id)
            )
        if missing:
            backordered.append(BackorderedLineV1(part_no=part_no, quantity=missing))
        session.add(
            ReservationLineRow(
                reservation_id=reservation.reservation_id,
                part_no=part_no,
                requested=quantity,
                reserved=taken,
                backordered=missing,
                issued=0,
                released=0,
            )
        )
    if backordered:
        reservation.status = "backordered"
    await session.flush()
    if reserved:
        await stockroom.uow.publish(
            ReservationConfirmedV1(
                request_no=wanted.request_no,
                reservation_id=reservation.reservation_id,
                lines=reserved,
                expires_at=reservation.expires_at,
                confirmed_at=now,
            )
        )
    if backordered:
        await stockroom.uow.publish(
            ReservationBackorderedV1(
                request_no=wanted.request_no,
                reservation_id=reservation.reservation_id,
                lines=backordered,
                backordered_at=now,
            )
        )
    RESERVATION_LATENCY.observe(max(0.0, (now - wanted.requested_at).total_seconds()))
    return reservation


async def _preempt(stockroom: Stockroom, part_no: str, warehouse_id: str, wanted: int) -> int:
    """Take back up to ``wanted`` reserved units of ``part_no`` from jobs not in progress
    (ordinary before urgent, newest first); those jobs wait for them again as backorders.
    The stock row is already locked by the caller; the lines are locked after it."""
    session = stockroom.session
    found = (
        await session.execute(
            select(ReservationLineRow, ReservationRow)
            .join(
                ReservationRow, ReservationRow.reservation_id == ReservationLineRow.reservation_id
            )
            .outerjoin(JobRow, JobRow.request_no == ReservationRow.request_no)
            .where(
                ReservationLineRow.part_no == part_no,
                ReservationLineRow.reserved > 0,
                ReservationRow.warehouse_id == warehouse_id,
                ReservationRow.status.in_(("confirmed", "backordered")),
                ReservationRow.priority != Priority.EMERGENCY.value,
                JobRow.on_site_at.is_(None),
            )
            .with_for_update(of=ReservationLineRow)
            .execution_options(populate_existing=True)
        )
    ).all()
    found.sort(key=lambda x: (Priority.of(x[1].priority).rank, x[1].created_at), reverse=True)
    freed = 0
    for line, reservation in found:
        take = min(wanted - freed, line.reserved)
        if take <= 0:
            break
        await stockroom.move(MovementKind.RELEASE, part_no, warehouse_id, take,
                             request_no=reservation.request_no,
                             reference=reservation.reservation_id, reason="emergency")  # fmt: skip
        line.reserved -= take
        line.backordered += take
        reservation.status = "backordered"
        freed += take
        await stockroom.uow.publish(
            ReservationReleasedV1(
                request_no=reservation.request_no,
                reservation_id=reservation.reservation_id,
                reason="emergency",
                lines=[ReservedLineV1(part_no=part_no, quantity=take, warehouse_id=warehouse_id)],
                released_at=stockroom.now,
            )
        )
        await stockroom.uow.publish(
            ReservationBackorderedV1(
                request_no=reservation.request_no,
                reservation_id=reservation.reservation_id,
                lines=[BackorderedLineV1(part_no=part_no, quantity=take)],
                backordered_at=stockroom.now,
            )
        )
    return freed


async def _reservation_id(session: AsyncSession, request_no: str) -> str:
    """``RSV-<request>-<n>``: numbered per job (under the job's row lock), so reservations of
    different jobs never queue on one shared counter."""
    count = (
        await session.execute(select(func.count()).where(ReservationRow.request_no == request_no))
    ).scalar_one()
    return f"RSV-{request_no}-{count + 1}"


async def _transfer(
    stockroom: Stockroom,
    part_no: str,
    source: str,
    target: str,
    quantity: int,
    request_no: str | None,
    reference: str | None,
) -> None:
    await stockroom.move(MovementKind.TRANSFER_OUT, part_no, source, quantity,
                         request_no=request_no, reference=reference)  # fmt: skip
    await stockroom.move(MovementKind.TRANSFER_IN, part_no, target, quantity,
                         request_no=request_no, reference=reference)  # fmt: skip


async def fill_backorders(stockroom: Stockroom, part_no: str, warehouse_id: str) -> int:
    """Stock of ``part_no`` arrived in ``warehouse_id``: give it to the waiting backorders in
    order of priority, then age. Central stock serves every service centre (by transfer);
    a service centre's serves its own jobs. Returns the units given."""
    session, now = stockroom.session, stockroom.now
    source = await session.get(WarehouseRow, warehouse_id)
    # Old parts serve nobody; a van's stock is its technician's own, not for the queue.
    if source is None or source.kind in (WarehouseKind.OLD_PARTS.value, WarehouseKind.VAN.value):
        return 0
    query = (
        select(ReservationLineRow, ReservationRow)
        .join(ReservationRow, ReservationRow.reservation_id == ReservationLineRow.reservation_id)
        .where(
            ReservationLineRow.part_no == part_no,
            ReservationLineRow.backordered > 0,
            ReservationRow.status == "backordered",
        )
    )
    if source.kind == WarehouseKind.SERVICE_CENTRE.value:
        query = query.where(ReservationRow.warehouse_id == warehouse_id)
    waiting = (await session.execute(query)).all()
    if not waiting:
        return 0
    rows = await stockroom.lock(
        [(part_no, warehouse_id)] + [(part_no, r.warehouse_id) for _line, r in waiting]
    )
    # Lock the lines after the stock rows (the order every path takes), then re-read them.
    lines = {
        line.id: line
        for line in (
            await session.execute(
                select(ReservationLineRow)
                .where(ReservationLineRow.id.in_([line.id for line, _r in waiting]))
                .with_for_update()
                .execution_options(populate_existing=True)
            )
        ).scalars()
    }
    reservations = {r.reservation_id: r for _line, r in waiting}
    candidates = [
        WaitingLine(line.id, Priority.of(reservations[line.reservation_id].priority),
                    reservations[line.reservation_id].created_at, line.backordered)
        for line in lines.values() if line.backordered > 0
    ]  # fmt: skip
    stock: StockRow = rows[(part_no, warehouse_id)]
    given_total = 0
    filled: dict[str, list[ReservedLineV1]] = defaultdict(list)
    for waiting_line, take in share_out(stock.on_hand - stock.reserved, candidates):
        line = lines[waiting_line.line_id]
        reservation = reservations[line.reservation_id]
        target = reservation.warehouse_id
        if target != warehouse_id:
            await _transfer(stockroom, part_no, warehouse_id, target, take,
                            reservation.request_no, reservation.reservation_id)  # fmt: skip
        await stockroom.move(MovementKind.RESERVATION, part_no, target, take,
                             request_no=reservation.request_no,
                             reference=reservation.reservation_id)  # fmt: skip
        line.reserved += take
        line.backordered -= take
        given_total += take
        filled[reservation.reservation_id].append(
            ReservedLineV1(part_no=part_no, quantity=take, warehouse_id=target)
        )
    await session.flush()
    for reservation_id, reserved in filled.items():
        reservation = reservations[reservation_id]
        remaining = await jobs.lines_of(session, reservation_id)
        if not any(line.backordered for line in remaining):
            reservation.status = "confirmed"
            if reservation.expires_at is not None:
                # The hold runs from the moment everything is there (as long as it was set).
                hold = reservation.expires_at - reservation.created_at
                reservation.expires_at = now + hold
        await stockroom.uow.publish(
            ReservationConfirmedV1(
                request_no=reservation.request_no,
                reservation_id=reservation_id,
                lines=reserved,
                expires_at=reservation.expires_at,
                confirmed_at=now,
            )
        )
    return given_total


async def _lines_after_stock(
    stockroom: Stockroom, reservation: ReservationRow
) -> Sequence[ReservationLineRow]:
    """The reservation's lines, locked after the stock rows they draw on: the order filling
    backorders takes too, so the two never wait on each other in a circle."""
    unlocked = await jobs.lines_of(stockroom.session, reservation.reservation_id, lock=False)
    await stockroom.lock([(line.part_no, reservation.warehouse_id) for line in unlocked])
    return await jobs.lines_of(stockroom.session, reservation.reservation_id)


async def release(stockroom: Stockroom, reservation: ReservationRow, reason: str) -> None:
    """Give back what the reservation still holds, drop what it still waits for, close it."""
    released: list[ReservedLineV1] = []
    freed: list[str] = []
    for line in await _lines_after_stock(stockroom, reservation):
        if line.reserved:
            await stockroom.move(
                MovementKind.RELEASE, line.part_no, reservation.warehouse_id, line.reserved,
                request_no=reservation.request_no, reference=reservation.reservation_id,
                reason=reason,
            )  # fmt: skip
            released.append(
                ReservedLineV1(part_no=line.part_no, quantity=line.reserved,
                               warehouse_id=reservation.warehouse_id)
            )  # fmt: skip
            line.released += line.reserved
            line.reserved = 0
            freed.append(line.part_no)
        line.backordered = 0
    reservation.status = "closed"
    reservation.closed_at = stockroom.now
    reservation.close_reason = reason
    await stockroom.session.flush()
    if released:
        await stockroom.uow.publish(
            ReservationReleasedV1(
                request_no=reservation.request_no,
                reservation_id=reservation.reservation_id,
                reason=reason,
                lines=released,
                released_at=stockroom.now,
            )
        )
    # What went back to the shelf may be what another job is waiting for.
    for part_no in freed:
        await fill_backorders(stockroom, part_no, reservation.warehouse_id)


async def release_job(stockroom: Stockroom, request_no: str, reason: str) -> int:
    reservations = await jobs.open_reservations(stockroom.session, request_no)
    for reservation in reservations:
        await release(stockroom, reservation, reason)
    return len(reservations)


async def cancel_job(stockroom: Stockroom, request_no: str) -> int:
    job = await jobs.job(stockroom.session, request_no)
    job.cancelled_at = job.cancelled_at or stockroom.now
    # An emergency not yet shipped is no longer needed either.
    pending = await stockroom.session.execute(
        select(EmergencyRow)
        .where(EmergencyRow.request_no == request_no,
               EmergencyRow.status.in_(("requested", "approved")))
        .with_for_update()
    )  # fmt: skip
    for emergency in pending.scalars():
        emergency.status = "cancelled"
    return await release_job(stockroom, request_no, "cancelled")


async def job_on_site(stockroom: Stockroom, request_no: str, technician_id: str) -> None:
    """The job is in progress: its reservations no longer expire."""
    job = await jobs.job(stockroom.session, request_no)
    job.on_site_at = job.on_site_at or stockroom.now
    job.technician_id = job.technician_id or technician_id
    for reservation in await jobs.open_reservations(stockroom.session, request_no):
        reservation.expires_at = None


async def expire_due(stockroom: Stockroom, limit: int = 100) -> list[str]:
    """Release reservations whose hold ran out. Jobs in progress never expire, nor do
    reservations still waiting for stock (their hold starts once filled). Several instances
    share the work (SKIP LOCKED)."""
    due = (
        (
            await stockroom.session.execute(
                select(ReservationRow)
                .where(
                    ReservationRow.status == "confirmed",
                    ReservationRow.expires_at.is_not(None),
                    ReservationRow.expires_at <= stockroom.now,
                )
                .order_by(ReservationRow.expires_at)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        )
        .scalars()
        .all()
    )
    for reservation in due:
        await release(stockroom, reservation, "expired")
    return [r.reservation_id for r in due]


async def issue(
    stockroom: Stockroom, reservation_id: str, technician_id: str | None
) -> list[ReservedLineV1]:
    """Hand what the reservation holds to the technician."""
    session = stockroom.session
    reservation = await session.get(ReservationRow, reservation_id, with_for_update=True)
    if reservation is None:
        raise NotFound(f"No reservation {reservation_id}.")
    if reservation.status not in ("confirmed", "backordered", "issued"):
        raise Conflict(
            f"reservation {reservation_id} is {reservation.status}; "
            "only confirmed or backordered reservations can be issued"
        )
    technician = technician_id or reservation.technician_id
    issued: list[ReservedLineV1] = []
    lines = await _lines_after_stock(stockroom, reservation)
    for line in lines:
        if not line.reserved:
            continue
        await stockroom.move(MovementKind.ISSUE, line.part_no, reservation.warehouse_id,
                             line.reserved, request_no=reservation.request_no,
                             reference=reservation_id)  # fmt: skip
        held = await jobs.holding(session, reservation.request_no, line.part_no,
                                  reservation.warehouse_id, technician)  # fmt: skip
        held.issued += line.reserved
        issued.append(ReservedLineV1(part_no=line.part_no, quantity=line.reserved,
                                     warehouse_id=reservation.warehouse_id))  # fmt: skip
        line.issued += line.reserved
        line.reserved = 0
    if not issued:
        raise Conflict(f"reservation {reservation_id} holds nothing to issue yet")
    reservation.technician_id = technician
    if not any(line.backordered for line in lines):
        reservation.status = "issued"
    await session.flush()
    await stockroom.uow.publish(
        PartsIssuedV1(
            request_no=reservation.request_no,
            technician_id=technician,
            lines=issued,
            issued_at=stockroom.now,
        )
    )
    return issued


async def consume(
    stockroom: Stockroom,
    request_no: str,
    service_point_id: str | None,
    technician_id: str | None,
    used: Iterable[tuple[str, int]],
) -> list[ConsumedLineV1]:
    """The job is done and says what it fitted: take it from what the technician holds, then
    from what is reserved for the job, then from the service centre's shelf. Whatever parts
    never gave out (the technician's or dealer's own stock) is still reported, for costing."""
    session = stockroom.session
    job = await jobs.job(session, request_no)
    job.completed_at = job.completed_at or stockroom.now
    by_source: dict[tuple[str, str], int] = defaultdict(int)
    for part_no, quantity in _merged(used).items():
        need = quantity
        for held in await jobs.holdings(session, request_no, part_no):
            take = min(need, held.issued - held.consumed - held.returned)
            if take > 0:
                await _consume(stockroom, held, take, request_no)
                by_source[(part_no, held.warehouse_id)] += take
                need -= take
        for reservation in await jobs.open_reservations(session, request_no):
            for line in await jobs.lines_of(session, reservation.reservation_id):
                take = min(need, line.reserved) if line.part_no == part_no else 0
                if take > 0:
                    await stockroom.move(MovementKind.ISSUE, part_no, reservation.warehouse_id,
                                         take, request_no=request_no,
                                         reference=reservation.reservation_id)  # fmt: skip
                    line.reserved -= take
                    line.issued += take
                    held = await jobs.holding(session, request_no, part_no,
                                              reservation.warehouse_id, technician_id)  # fmt: skip
                    held.issued += take
                    await _consume(stockroom, held, take, request_no)
                    by_source[(part_no, reservation.warehouse_id)] += take
                    need -= take
        centre = await service_centre_of(session, service_point_id)
        # Not given out for the job: the technician's own van first, then the centre's shelf.
        for shelf_of in (await van_of(session, technician_id), centre):
            if need <= 0 or shelf_of is None:
                continue
            shelf = await stockroom.row(part_no, shelf_of.warehouse_id)
            take = min(need, shelf.on_hand - shelf.reserved)
            if take > 0:
                await stockroom.move(MovementKind.RESERVATION, part_no, shelf_of.warehouse_id,
                                     take, request_no=request_no,
                                     reference="unreserved use")  # fmt: skip
                await stockroom.move(MovementKind.ISSUE, part_no, shelf_of.warehouse_id, take,
                                     request_no=request_no, reference="unreserved use")  # fmt: skip
                held = await jobs.holding(session, request_no, part_no, shelf_of.warehouse_id,
                                          technician_id)  # fmt: skip
                held.issued += take
                await _consume(stockroom, held, take, request_no)
                by_source[(part_no, shelf_of.warehouse_id)] += take
                need -= take
        if need > 0:
            source = centre.warehouse_id if centre is not None else "outside"
            by_source[(part_no, source)] += need
    # What stays reserved for the finished job goes back to the shelf.
    await release_job(stockroom, request_no, "returned")
    consumed = []
    for (part_no, warehouse_id), quantity in sorted(by_source.items()):
        part = await session.get(PartRow, part_no)
        consumed.append(
            ConsumedLineV1(
                part_no=part_no,
                quantity=quantity,
                warehouse_id=warehouse_id,
                unit_cost=part.unit_cost if part else 0,
                list_price=part.list_price if part else 0,
                supplier_id=part.supplier_id if part else None,
            )
        )
    if consumed:
        await stockroom.uow.publish(
            PartsConsumedV1(request_no=request_no, lines=consumed, consumed_at=stockroom.now)
        )
    return consumed


async def _consume(
    stockroom: Stockroom, held: TechnicianHoldingRow, quantity: int, request_no: str
) -> None:
    await stockroom.move(MovementKind.CONSUMPTION, held.part_no, held.warehouse_id, quantity,
                         request_no=request_no)  # fmt: skip
    held.consumed += quantity


async def return_unused(
    stockroom: Stockroom,
    request_no: str,
    part_no: str,
    quantity: int,
    technician_id: str | None,
) -> int:
    """Unused parts back from the technician to the warehouse that issued them. With
    ``technician_id`` only that technician's own holdings may be returned."""
    need = quantity
    outstanding = [
        held
        for held in await jobs.holdings(stockroom.session, request_no, part_no)
        if technician_id is None or held.technician_id == technician_id
    ]
    out = sum(h.issued - h.consumed - h.returned for h in outstanding)
    if out < quantity:
        raise Conflict(
            f"only {out} of {part_no} are out for {request_no}; cannot return {quantity}"
        )
    for held in outstanding:
        take = min(need, held.issued - held.consumed - held.returned)
        if take <= 0:
            continue
        await stockroom.move(MovementKind.RETURN, part_no, held.warehouse_id, take,
                             request_no=request_no, reference="unused")  # fmt: skip
        held.returned += take
        need -= take
        await fill_backorders(stockroom, part_no, held.warehouse_id)
    return quantity
