"""Reading and writing dispatch's records of incoming requests."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.dispatch.db.models import IncomingRequestRow
from services.dispatch.domain.incoming_request import IncomingRequest


def _from_row(row: IncomingRequestRow) -> IncomingRequest:
    return IncomingRequest(
        request_no=row.request_no,
        customer_name=row.customer_name,
        product_model=row.product_model,
        fault_description=row.fault_description,
        received_at=row.received_at,
        recorded_at=row.recorded_at,
        correlation_id=row.correlation_id,
    )


class IncomingRequestRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, request: IncomingRequest) -> None:
        self._session.add(
            IncomingRequestRow(
                request_no=request.request_no,
                customer_name=request.customer_name,
                product_model=request.product_model,
                fault_description=request.fault_description,
                received_at=request.received_at,
                recorded_at=request.recorded_at,
                correlation_id=request.correlation_id,
            )
        )
        await self._session.flush()

    async def get(self, request_no: str) -> IncomingRequest | None:
        row = (
            await self._session.execute(
                select(IncomingRequestRow).where(IncomingRequestRow.request_no == request_no)
            )
        ).scalar_one_or_none()
        return None if row is None else _from_row(row)

    async def count(self) -> int:
        return (
            await self._session.execute(select(func.count()).select_from(IncomingRequestRow))
        ).scalar_one()
