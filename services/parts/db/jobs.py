"""Jobs, reservations and technicians' holdings as parts keeps them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.parts.db.models import (
    JobRow,
    ReservationLineRow,
    ReservationRow,
    TechnicianHoldingRow,
)

OPEN_STATES = ("confirmed", "backordered", "issued")


def _locked(query: Select[Any]) -> Select[Any]:
    # Re-read what this session may already hold: the locked row is the truth.
    return query.with_for_update().execution_options(populate_existing=True)


async def job(session: AsyncSession, request_no: str) -> JobRow:
    """The job's row, created on first mention (events arrive in any order)."""
    row = await session.get(JobRow, request_no, with_for_update=True, populate_existing=True)
    if row is None:
        row = JobRow(request_no=request_no)
        session.add(row)
        await session.flush()
    return row


async def open_reservations(
    session: AsyncSession, request_no: str, lock: bool = True
) -> Sequence[ReservationRow]:
    query = (
        select(ReservationRow)
        .where(ReservationRow.request_no == request_no, ReservationRow.status.in_(OPEN_STATES))
        .order_by(ReservationRow.created_at, ReservationRow.reservation_id)
    )
    return (await session.execute(_locked(query) if lock else query)).scalars().all()


async def lines_of(
    session: AsyncSession, reservation_id: str, lock: bool = True
) -> Sequence[ReservationLineRow]:
    query = (
        select(ReservationLineRow)
        .where(ReservationLineRow.reservation_id == reservation_id)
        .order_by(ReservationLineRow.id)
    )
    return (await session.execute(_locked(query) if lock else query)).scalars().all()


async def holdings(
    session: AsyncSession, request_no: str, part_no: str | None = None
) -> Sequence[TechnicianHoldingRow]:
    query = select(TechnicianHoldingRow).where(TechnicianHoldingRow.request_no == request_no)
    if part_no is not None:
        query = query.where(TechnicianHoldingRow.part_no == part_no)
    return (await session.execute(_locked(query.order_by(TechnicianHoldingRow.id)))).scalars().all()


async def holding(
    session: AsyncSession,
    request_no: str,
    part_no: str,
    warehouse_id: str,
    technician_id: str | None,
) -> TechnicianHoldingRow:
    row = (
        await session.execute(
            select(TechnicianHoldingRow)
            .where(
                TechnicianHoldingRow.request_no == request_no,
                TechnicianHoldingRow.part_no == part_no,
                TechnicianHoldingRow.warehouse_id == warehouse_id,
            )
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).scalar_one_or_none()
    if row is None:
        row = TechnicianHoldingRow(
            request_no=request_no,
            part_no=part_no,
            warehouse_id=warehouse_id,
            technician_id=technician_id,
            issued=0,
            consumed=0,
            returned=0,
        )
        session.add(row)
        await session.flush()
    elif technician_id and not row.technician_id:
        row.technician_id = technician_id
    return row
