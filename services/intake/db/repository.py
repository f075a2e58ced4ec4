"""Reading and writing service requests and their timelines in intake's database."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake.db.models import RequestNumberCounter, ServiceRequestRow, TimelineEntryRow
from services.intake.domain.service_request import (
    Channel,
    Customer,
    CustomerAsks,
    Department,
    Kind,
    RequestNumber,
    ServiceRequest,
    Severity,
    Technician,
    TimelineEntry,
    WorkDone,
)
from services.intake.domain.workflow import RequestStatus
from shared.db.prepared import HotStatement
from shared.db.sequences import increment_statement


def _columns(request: ServiceRequest) -> dict[str, Any]:
    """The request's columns (``id`` aside); the technician's only once one is assigned, so
    that saving a request never clears them."""
    columns: dict[str, Any] = {
        "request_no": request.request_no,
        "channel": request.channel.value,
        "kind": request.kind.value if request.kind else None,
        "severity": request.severity.value if request.severity else None,
        "customer_request": request.customer_asks.value if request.customer_asks else None,
        "customer_name": request.customer.name,
        "customer_phone": request.customer.phone,
        "customer_address": request.customer.address,
        "customer_region": request.customer.region,
        "product_model": request.product_model,
        "product_line": request.product_line,
        "serial_no": request.serial_no,
        "purchase_date": request.purchase_date,
        "quantity": request.quantity,
        "fault_description": request.fault_description,
        "fault_code": request.fault_code,
        "fault_occurred_at": request.fault_occurred_at,
        "in_warranty": request.in_warranty,
        "warranty_expires_on": request.warranty_expires_on,
        "visit_needed": request.visit_needed,
        "dealer_id": request.dealer_id,
        "dealer_report_no": request.dealer_report_no,
        "work_done": request.work_done.as_json() if request.work_done else None,
        "customer_id": request.customer_id,
        "last_department_update_at": request.last_department_update_at,
        "status": request.status.value,
        "received_at": request.received_at,
        "updated_at": request.updated_at or request.received_at,
    }
    if request.technician is not None:
        columns["technician_id"] = request.technician.technician_id
        columns["technician_name"] = request.technician.name
        columns["technician_assigned_at"] = request.technician.assigned_at
    return columns


def _to_row(request: ServiceRequest, row: ServiceRequestRow) -> None:
    for key, value in _columns(request).items():
        setattr(row, key, value)


# Every column but ``id``, each named in every insert, so that one compiled form serves all.
_UNSET_COLUMNS = {c.key: None for c in ServiceRequestRow.__table__.columns if c.key != "id"}
# Built once: a statement built per call costs more CPU (construction, cache key) than its
# round trip.
_INSERT_REQUEST = HotStatement(insert(ServiceRequestRow.__table__))
INSERT_TIMELINE = HotStatement(insert(TimelineEntryRow.__table__))
_LOCKED_STATUS = HotStatement(
    select(ServiceRequestRow.__table__.c.status)
    .where(ServiceRequestRow.__table__.c.request_no == bindparam("request_no"))
    .with_for_update()
)
_NEXT_NUMBER = {
    dialect: HotStatement(
        increment_statement(dialect, RequestNumberCounter.__table__, ("year",), "last_sequence")
    )
    for dialect in ("postgresql", "sqlite")
}
_NEXT_NUMBERS = {
    dialect: HotStatement(
        increment_statement(
            dialect, RequestNumberCounter.__table__, ("year",), "last_sequence", step="count"
        )
    )
    for dialect in ("postgresql", "sqlite")
}


def _row_values(request: ServiceRequest) -> dict[str, Any]:
    """The row of a request, as values for a Core insert."""
    return {**_UNSET_COLUMNS, **_columns(request)}


def entry_values(request_no: str, entry: TimelineEntry) -> dict[str, Any]:
    return {
        "request_no": request_no,
        "at": entry.at,
        "department": entry.department.value,
        "status": entry.status.value,
        "summary": entry.summary,
        "details": entry.details,
        "actor": entry.actor,
    }


def request_from_row(row: ServiceRequestRow) -> ServiceRequest:
    return ServiceRequest(
        request_no=row.request_no,
        channel=Channel(row.channel),
        customer=Customer(
            name=row.customer_name,
            phone=row.customer_phone,
            address=row.customer_address,
            region=row.customer_region,
        ),
        product_model=row.product_model,
        serial_no=row.serial_no,
        fault_description=row.fault_description,
        received_at=row.received_at,
        customer_asks=CustomerAsks(row.customer_request) if row.customer_request else None,
        kind=Kind(row.kind) if row.kind else None,
        severity=Severity(row.severity) if row.severity else None,
        product_line=row.product_line,
        purchase_date=row.purchase_date,
        quantity=row.quantity,
        fault_code=row.fault_code,
        fault_occurred_at=row.fault_occurred_at,
        in_warranty=row.in_warranty,
        warranty_expires_on=row.warranty_expires_on,
        visit_needed=row.visit_needed,
        dealer_id=row.dealer_id,
        dealer_report_no=row.dealer_report_no,
        work_done=WorkDone.from_json(row.work_done) if row.work_done else None,
        customer_id=row.customer_id,
        status=RequestStatus(row.status),
        updated_at=row.updated_at,
        last_department_update_at=row.last_department_update_at,
        technician=(
            Technician(row.technician_id, row.technician_name or "", row.technician_assigned_at)
            if row.technician_id is not None and row.technician_assigned_at is not None
            else None
        ),
    )


class ServiceRequestRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def next_number(self, year: int) -> RequestNumber:
        statement = _NEXT_NUMBER[self._session.get_bind().dialect.name]
        sequence = (await statement.execute(self._session, {"key_year": year}))[0][0]
        return RequestNumber(year=year, sequence=sequence)

    async def next_numbers(self, year: int, count: int) -> list[RequestNumber]:
        """``count`` consecutive numbers in one statement (the counter row locked once)."""
        if count == 1:
            return [await self.next_number(year)]
        statement = _NEXT_NUMBERS[self._session.get_bind().dialect.name]
        found = await statement.execute(self._session, {"key_year": year, "count": count})
        last: int = found[0][0]
        return [RequestNumber(year=year, sequence=n) for n in range(last - count + 1, last + 1)]

    async def add(self, request: ServiceRequest) -> None:
        row = ServiceRequestRow()
        _to_row(request, row)
        self._session.add(row)
        for entry in request.timeline:
            self._add_entry(request.request_no, entry)
        await self._session.flush()

    async def insert(self, requests: Sequence[ServiceRequest]) -> None:
        """``add`` for requests nobody reads back in this transaction: two Core statements
        whatever their number (the requests, then their timelines, each one executemany),
        nothing kept in the session."""
        # On the tables, not the mapped classes: a Core statement skips the ORM's bulk
        # machinery, which costs more CPU here than the round trip.
        await _INSERT_REQUEST.many(self._session, [_row_values(request) for request in requests])
        await INSERT_TIMELINE.many(
            self._session,
            [
                entry_values(request.request_no, entry)
                for request in requests
                for entry in request.timeline
            ],
        )

    async def locked_status(self, request_no: str) -> RequestStatus | None:
        """The request's status, its row locked until the transaction ends (as ``get`` with
        ``lock``), read without loading the row."""
        found = await _LOCKED_STATUS.execute(self._session, {"request_no": request_no})
        return RequestStatus(found[0][0]) if found else None

    async def save(self, request: ServiceRequest, new_entries: list[TimelineEntry]) -> None:
        row = await self._row(request.request_no, lock=True)
        if row is None:
            raise LookupError(request.request_no)
        _to_row(request, row)
        for entry in new_entries:
            self._add_entry(request.request_no, entry)
        await self._session.flush()

    def _add_entry(self, request_no: str, entry: TimelineEntry) -> None:
        self._session.add(
            TimelineEntryRow(
                request_no=request_no,
                at=entry.at,
                department=entry.department.value,
                status=entry.status.value,
                summary=entry.summary,
                details=entry.details,
                actor=entry.actor,
            )
        )

    async def _row(self, request_no: str, lock: bool = False) -> ServiceRequestRow | None:
        statement = select(ServiceRequestRow).where(ServiceRequestRow.request_no == request_no)
        if lock:
            statement = statement.with_for_update()
        return (await self._session.execute(statement)).scalar_one_or_none()

    async def get(
        self, request_no: str, with_timeline: bool = False, lock: bool = False
    ) -> ServiceRequest | None:
        row = await self._row(request_no, lock=lock)
        if row is None:
            return None
        request = request_from_row(row)
        if with_timeline:
            request.timeline = await self.timeline(request_no)
        return request

    async def get_for_dealer(self, dealer_id: str, dealer_report_no: str) -> ServiceRequest | None:
        row = (
            await self._session.execute(
                select(ServiceRequestRow).where(
                    ServiceRequestRow.dealer_id == dealer_id,
                    ServiceRequestRow.dealer_report_no == dealer_report_no,
                )
            )
        ).scalar_one_or_none()
        return None if row is None else request_from_row(row)

    async def timeline(self, request_no: str) -> list[TimelineEntry]:
        rows = (
            await self._session.execute(
                select(TimelineEntryRow)
                .where(TimelineEntryRow.request_no == request_no)
                .order_by(TimelineEntryRow.at, TimelineEntryRow.id)
            )
        ).scalars()
        return [
            TimelineEntry(
                at=row.at,
                department=Department(row.department),
                status=RequestStatus(row.status),
                summary=row.summary,
                details=row.details,
                actor=row.actor,
            )
            for row in rows
        ]

    async def dealer_page(
        self,
        dealer_id: str,
        limit: int,
        statuses: list[RequestStatus] | None = None,
        updated_since: datetime | None = None,
        after: tuple[datetime, int] | None = None,
    ) -> list[tuple[ServiceRequest, int]]:
        """A dealer's reports, newest update first, after a (updated_at, id) cursor."""
        statement = select(ServiceRequestRow).where(ServiceRequestRow.dealer_id == dealer_id)
        if statuses is not None:
            statement = statement.where(ServiceRequestRow.status.in_([s.value for s in statuses]))
        if updated_since is not None:
            statement = statement.where(ServiceRequestRow.updated_at >= updated_since)
        if after is not None:
            updated_at, row_id = after
            statement = statement.where(
                (ServiceRequestRow.updated_at < updated_at)
                | ((ServiceRequestRow.updated_at == updated_at) & (ServiceRequestRow.id < row_id))
            )
        statement = statement.order_by(
            ServiceRequestRow.updated_at.desc(), ServiceRequestRow.id.desc()
        ).limit(limit)
        rows = (await self._session.execute(statement)).scalars().all()
        return [(request_from_row(row), row.id) for row in rows]
