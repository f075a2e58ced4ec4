"""Product models, registered units and customers in intake's database."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake.db.models import CustomerRow, ProductModelRow, UnitRow
from services.intake.domain.service_request import Customer


class ProductCatalogue:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def model(self, model: str) -> ProductModelRow | None:
        return await self._session.get(ProductModelRow, model)

    async def unit(self, serial_no: str) -> UnitRow | None:
        return await self._session.get(UnitRow, serial_no)

    async def register_unit(
        self,
        serial_no: str,
        model: str,
        purchase_date: date | None,
        selling_dealer_id: str | None = None,
    ) -> UnitRow:
        """Register a unit unless a concurrent first report just did; either way return it."""
        dialect = self._session.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        await self._session.execute(
            insert(UnitRow)
            .values(
                serial_no=serial_no,
                product_model=model,
                purchase_date=purchase_date,
                selling_dealer_id=selling_dealer_id,
                registered_at=datetime.now(UTC),
            )
            .on_conflict_do_nothing(index_elements=["serial_no"])
        )
        unit = await self._session.get(UnitRow, serial_no, populate_existing=True)
        assert unit is not None
        return unit


class Customers:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def find_or_add(self, customer: Customer) -> int:
        """The same person calling again (same name and phone) is one customer; a new address
        or region they give is kept."""
        row = (
            await self._session.execute(
                select(CustomerRow)
                .where(CustomerRow.phone == customer.phone, CustomerRow.name == customer.name)
                .limit(1)
            )
        ).scalar_one_or_none()
        if row is None:
            row = CustomerRow(
                name=customer.name,
                phone=customer.phone,
                other_phones=[],
                address=customer.address,
                region=customer.region,
                created_at=datetime.now(UTC),
            )
            self._session.add(row)
            await self._session.flush()
        else:
            row.address = customer.address or row.address
            row.region = customer.region or row.region
        return row.id
