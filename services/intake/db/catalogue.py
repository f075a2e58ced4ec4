"""Product models, registered units and customers in intake's database."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy import Executable, bindparam, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake.db.models import CustomerRow, ProductModelRow, QualityAlertRow, UnitRow
from services.intake.domain.service_request import Customer
from shared.db.prepared import HotStatement

_MODELS = ProductModelRow.__table__.c
_UNITS = UnitRow.__table__
_CUSTOMERS = CustomerRow.__table__


def _unit_upsert(insert_: type[postgresql.Insert] | type[sqlite.Insert]) -> Executable:
    statement = insert_(_UNITS)
    return statement.on_conflict_do_update(
        index_elements=["serial_no"],
        # A known date is the register's and stays; an unknown one is taken from the report.
        set_={
            "purchase_date": func.coalesce(_UNITS.c.purchase_date, statement.excluded.purchase_date)
        },
    ).returning(_UNITS.c.purchase_date)


# The statements of every report, built once: a statement built per call costs more CPU in
# SQLAlchemy (construction, cache key) than its round trip. Values are given when executed.
_TERMS = HotStatement(
    select(_MODELS.product_line, _MODELS.warranty_months).where(_MODELS.model == bindparam("model"))
)
_UNIT_UPSERT = {
    "postgresql": HotStatement(_unit_upsert(postgresql.Insert)),
    "sqlite": HotStatement(_unit_upsert(sqlite.Insert)),
}
_CUSTOMER_FOUND = HotStatement(
    select(
        _CUSTOMERS.c.id,
        _CUSTOMERS.c.address,
        _CUSTOMERS.c.region,
        _CUSTOMERS.c.latitude,
        _CUSTOMERS.c.longitude,
    )
    .where(_CUSTOMERS.c.phone == bindparam("phone"), _CUSTOMERS.c.name == bindparam("name"))
    .limit(1)
)
_CUSTOMER_ADDED = HotStatement(insert(_CUSTOMERS).returning(_CUSTOMERS.c.id))
_CUSTOMER_KEPT = HotStatement(update(_CUSTOMERS).where(_CUSTOMERS.c.id == bindparam("customer_id")))


@dataclass(frozen=True)
class ModelTerms:
    """What registering a request needs of its product model."""

    product_line: str
    warranty_months: int


@dataclass(frozen=True)
class PlacedCustomer:
    customer_id: int
    latitude: Decimal | None
    longitude: Decimal | None


class ProductCatalogue:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def model(self, model: str) -> ProductModelRow | None:
        return await self._session.get(ProductModelRow, model)

    async def terms(self, model: str) -> ModelTerms | None:
        """The model's line and warranty, read without loading the row into the session."""
        found = await _TERMS.execute(self._session, {"model": model})
        return ModelTerms(*found[0]) if found else None

    async def purchase_date_of(
        self,
        serial_no: str,
        model: str,
        purchase_date: date | None,
        selling_dealer_id: str | None,
    ) -> date | None:
        """The unit's purchase date, registering the unit on its first report (with the date
        given) and filling in a date it lacked; one statement whatever the case."""
        statement = _UNIT_UPSERT[self._session.get_bind().dialect.name]
        values = {
            "serial_no": serial_no,
            "product_model": model,
            "purchase_date": purchase_date,
            "selling_dealer_id": selling_dealer_id,
            "registered_at": datetime.now(UTC),
        }
        stored: date | None = (await statement.execute(self._session, values))[0][0]
        return stored

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

    async def placed(self, customer: Customer) -> PlacedCustomer:
        """``find_or_add`` in Core statements (no rows loaded into the session), with the
        customer's stored position: one statement, two when something is new."""
        rows = await _CUSTOMER_FOUND.execute(
            self._session, {"phone": customer.phone, "name": customer.name}
        )
        latitude, longitude = (
            (float(customer.latitude), float(customer.longitude))
            if customer.latitude is not None and customer.longitude is not None
            else (None, None)
        )
        if not rows:
            values = {
                "name": customer.name,
                "phone": customer.phone,
                "other_phones": [],
                "address": customer.address,
                "region": customer.region,
                "latitude": latitude,
                "longitude": longitude,
                "created_at": datetime.now(UTC),
            }
            customer_id = (await _CUSTOMER_ADDED.execute(self._session, values))[0][0]
        else:
            customer_id, address, region, stored_latitude, stored_longitude = rows[0]
            kept = {
                "address": customer.address or address,
                "region": customer.region or region,
                "latitude": stored_latitude if latitude is None else latitude,
                "longitude": stored_longitude if longitude is None else longitude,
            }
            stored = (address, region, stored_latitude, stored_longitude)
            if tuple(kept.values()) != stored:
                await _CUSTOMER_KEPT.execute(self._session, {"customer_id": customer_id, **kept})
            latitude, longitude = kept["latitude"], kept["longitude"]
        if latitude is None or longitude is None:
            return PlacedCustomer(customer_id, None, None)
        return PlacedCustomer(customer_id, _degrees(latitude), _degrees(longitude))

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
