"""Reading and writing service requests in intake's database."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake.db.models import RequestNumberCounter, ServiceRequestRow
from services.intake.domain.service_request import (
    Channel,
    RequestNumber,
    RequestStatus,
    ServiceRequest,
)


class ServiceRequestRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def next_number(self, year: int) -> RequestNumber:
        # One upsert: the counter row stays locked until the transaction ends, so concurrent
        # registrations queue for it and no number is given twice or skipped.
        dialect = self._session.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        table = RequestNumberCounter.__table__
        statement = (
            insert(table)
            .values(year=year, last_sequence=1)
            .on_conflict_do_update(
                index_elements=[table.c.year],
                set_={"last_sequence": table.c.last_sequence + 1},
            )
            .returning(table.c.last_sequence)
        )
        sequence = (await self._session.execute(statement)).scalar_one()
        return RequestNumber(year=year, sequence=sequence)

    async def add(self, request: ServiceRequest) -> None:
        self._session.add(
            ServiceRequestRow(
                request_no=request.request_no,
                channel=request.channel.value,
                customer_name=request.customer_name,
                customer_phone=request.customer_phone,
                product_model=request.product_model,
                serial_no=request.serial_no,
                fault_description=request.fault_description,
                status=request.status.value,
                received_at=request.received_at,
            )
        )
        await self._session.flush()

    async def get(self, request_no: str) -> ServiceRequest | None:
        row = (
            await self._session.execute(
                select(ServiceRequestRow).where(ServiceRequestRow.request_no == request_no)
            )
        ).scalar_one_or_none()
        if row is None:
            return None
        return ServiceRequest(
            request_no=row.request_no,
            channel=Channel(row.channel),
            customer_name=row.customer_name,
            customer_phone=row.customer_phone,
            product_model=row.product_model,
            serial_no=row.serial_no,
            fault_description=row.fault_description,
            received_at=row.received_at,
            status=RequestStatus(row.status),
        )
