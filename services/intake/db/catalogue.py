"""Product models, registered units and customers in intake's database."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake.db.models import CustomerRow, ProductModelRow, QualityAlertRow, UnitRow
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
        """The same person calling again (same name and phone) is one customer; a new address,
        region or position they give is kept."""
        row = (
            await self._session.execute(
                select(CustomerRow)
                .where(CustomerRow.phone == customer.phone, CustomerRow.name == customer.name)
                .limit(1)
            )
        ).scalar_one_or_none()
        if row is None:
            row = CustomerRow(name=customer.name, phone=customer.phone, other_phones=[],
                              created_at=datetime.now(UTC))  # fmt: skip
            self._session.add(row)
        _keep(row, customer)
        await self._session.flush()
        return row.id

    async def add(self, customer: Customer, other_phones: list[str]) -> CustomerRow:
        row = CustomerRow(name=customer.name, phone=customer.phone, other_phones=other_phones,
                          created_at=datetime.now(UTC))  # fmt: skip
        _keep(row, customer)
        self._session.add(row)
        await self._session.flush()
        return row

    async def get(self, customer_id: int, lock: bool = False) -> CustomerRow | None:
        statement = select(CustomerRow).where(CustomerRow.id == customer_id)
        if lock:
            statement = statement.with_for_update()
        return (await self._session.execute(statement)).scalar_one_or_none()

    async def position(self, customer_id: int | None) -> tuple[Decimal | None, Decimal | None]:
        row = None if customer_id is None else await self.get(customer_id)
        return (None, None) if row is None else position_of(row)


def position_of(row: CustomerRow) -> tuple[Decimal | None, Decimal | None]:
    if row.latitude is None or row.longitude is None:
        return None, None
    return _degrees(row.latitude), _degrees(row.longitude)


def _degrees(value: float) -> Decimal:
    # Stored as a float; six decimals are about 0.1 m, more than any address gives.
    return Decimal(str(round(value, 6)))


def _keep(row: CustomerRow, customer: Customer) -> None:
    """What the customer told us now, over what we knew; nothing given erases nothing."""
    row.address = customer.address or row.address
    row.region = customer.region or row.region
    if customer.latitude is not None and customer.longitude is not None:
        row.latitude = float(customer.latitude)
        row.longitude = float(customer.longitude)


class QualityAlerts:
    """Claims' quality alerts, as agents see them on a model and its requests."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def listed(self, product_model: str | None = None) -> list[QualityAlertRow]:
        statement = select(QualityAlertRow).order_by(
            QualityAlertRow.raised_at.desc(), QualityAlertRow.id.desc()
        )
        if product_model is not None:
            statement = statement.where(QualityAlertRow.product_model == product_model)
        return list((await self._session.execute(statement.limit(200))).scalars())
