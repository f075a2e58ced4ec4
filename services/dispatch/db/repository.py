"""Reading and writing dispatch's records of incoming requests."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sqlalchemy import Table, bindparam, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from services.dispatch.db.models import IncomingRequestRow
from services.dispatch.domain.incoming_request import IncomingRequest
from shared.db.prepared import HotStatement

_REQUESTS: Table = IncomingRequestRow.__table__  # type: ignore[assignment]
_COLUMNS = (
    "request_no",
    "customer_name",
    "product_model",
    "fault_description",
    "received_at",
    "recorded_at",
    "correlation_id",
)


def _insert_unless_recorded(
    insert: Callable[[Table], postgresql.Insert | sqlite.Insert],
) -> HotStatement:
    """The request's row unless one with its number is there: one statement, built once."""
    return HotStatement(
        insert(_REQUESTS)
        .values({name: bindparam(name, type_=_REQUESTS.c[name].type) for name in _COLUMNS})
        .on_conflict_do_nothing(index_elements=[_REQUESTS.c.request_no])
    )


_RECORD_PG = _insert_unless_recorded(postgresql.insert)
_RECORD_SQLITE = _insert_unless_recorded(sqlite.insert)


def _values(request: IncomingRequest) -> dict[str, object]:
    return {
        "request_no": request.request_no,
        "customer_name": request.customer_name,
        "product_model": request.product_model,
        "fault_description": request.fault_description,
        "received_at": request.received_at,
        "recorded_at": request.recorded_at,
        "correlation_id": request.correlation_id,
    }


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

    async def record(self, request: IncomingRequest) -> None:
        """The request, unless it is recorded already (an event delivered twice): one
        round trip instead of a read and an insert, and a concurrent recording of the same
        request is waited for rather than failed on the unique number."""
        await self._statement().execute(self._session, _values(request))

    async def record_all(self, requests: Sequence[IncomingRequest]) -> None:
        """``record`` for each, in order, in one round trip (the first of two with one
        number is kept, as two ``record`` would keep it)."""
        await self._statement().many(self._session, [_values(r) for r in requests])

    def _statement(self) -> HotStatement:
        dialect = self._session.get_bind().dialect.name
        return _RECORD_PG if dialect == "postgresql" else _RECORD_SQLITE

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
