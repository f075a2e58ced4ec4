"""Reading and writing warranty claims in claims' database."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.claims.db.models import ClaimNumberCounter, ClaimRow
from services.claims.domain.claim import (
    ClaimedPart,
    ClaimNumber,
    ClaimSource,
    ClaimStatus,
    WarrantyClaim,
)
from shared.db.sequences import upsert_increment


def _from_row(row: ClaimRow) -> WarrantyClaim:
    return WarrantyClaim(
        claim_no=row.claim_no,
        request_no=row.request_no,
        source=ClaimSource(row.source),
        dealer_id=row.dealer_id,
        serial_no=row.serial_no,
        product_model=row.product_model,
        purchase_date=row.purchase_date,
        in_warranty_at_intake=row.in_warranty_at_intake,
        cause=row.cause,
        fault_description=row.fault_description,
        fault_code=row.fault_code,
        repaired_at=row.repaired_at,
        labour_hours=row.labour_hours,
        travel_km=row.travel_km,
        parts=[ClaimedPart(**part) for part in row.parts],
        status=ClaimStatus(row.status),
        opened_at=row.opened_at,
    )


class ClaimRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def next_number(self, year: int) -> ClaimNumber:
        statement = upsert_increment(
            self._session, ClaimNumberCounter.__table__, {"year": year}, "last_sequence"
        )
        return ClaimNumber(year, (await self._session.execute(statement)).scalar_one())

    async def for_request(self, request_no: str) -> WarrantyClaim | None:
        row = (
            await self._session.execute(select(ClaimRow).where(ClaimRow.request_no == request_no))
        ).scalar_one_or_none()
        return None if row is None else _from_row(row)

    async def get(self, claim_no: str) -> WarrantyClaim | None:
        row = (
            await self._session.execute(select(ClaimRow).where(ClaimRow.claim_no == claim_no))
        ).scalar_one_or_none()
        return None if row is None else _from_row(row)

    async def add(self, claim: WarrantyClaim) -> None:
        self._session.add(
            ClaimRow(
                claim_no=claim.claim_no,
                request_no=claim.request_no,
                source=claim.source.value,
                dealer_id=claim.dealer_id,
                serial_no=claim.serial_no,
                product_model=claim.product_model,
                purchase_date=claim.purchase_date,
                in_warranty_at_intake=claim.in_warranty_at_intake,
                cause=claim.cause,
                fault_description=claim.fault_description,
                fault_code=claim.fault_code,
                repaired_at=claim.repaired_at,
                labour_hours=claim.labour_hours,
                travel_km=claim.travel_km,
                parts=[
                    {
                        "part_no": p.part_no,
                        "quantity": p.quantity,
                        "old_part_serial": p.old_part_serial,
                    }
                    for p in claim.parts
                ],
                status=claim.status.value,
                opened_at=claim.opened_at,
            )
        )
        await self._session.flush()

    async def by_status(self, status: ClaimStatus, limit: int) -> list[WarrantyClaim]:
        rows = await self._session.execute(
            select(ClaimRow)
            .where(ClaimRow.status == status.value)
            .order_by(ClaimRow.opened_at, ClaimRow.id)
            .limit(limit)
        )
        return [_from_row(row) for row in rows.scalars()]
