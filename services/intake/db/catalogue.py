"""Product models, registered units and customers in intake's database."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    ARRAY,
    Date,
    Executable,
    Float,
    String,
    bindparam,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake.db.models import CustomerRow, ProductModelRow, QualityAlertRow, UnitRow
from services.intake.domain.service_request import Customer
from shared.db.prepared import HotStatement
from shared.db.types import UtcDateTime

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

# PostgreSQL, for a group of reports: one statement for all their units, one to find all their
# customers and one to add the new ones (arrays unnested in the order given, so rows are
# locked in that order). Each needs distinct keys: ON CONFLICT DO UPDATE may not touch a row
# twice in one statement.
_UNITS_UPSERT = HotStatement(
    text(
        "INSERT INTO units"
        " (serial_no, product_model, purchase_date, selling_dealer_id, registered_at)"
        " SELECT t.serial_no, t.product_model, t.purchase_date, t.selling_dealer_id,"
        " :registered_at"
        " FROM unnest(:serial_nos, :models, :purchase_dates, :dealer_ids) WITH ORDINALITY"
        " AS t(serial_no, product_model, purchase_date, selling_dealer_id, n)"
        " ORDER BY t.n"
        " ON CONFLICT (serial_no) DO UPDATE"
        " SET purchase_date = coalesce(units.purchase_date, excluded.purchase_date)"
        " RETURNING serial_no, purchase_date"
    ).bindparams(
        bindparam("serial_nos", type_=ARRAY(String)),
        bindparam("models", type_=ARRAY(String)),
        bindparam("purchase_dates", type_=ARRAY(Date)),
        bindparam("dealer_ids", type_=ARRAY(String)),
        bindparam("registered_at", type_=UtcDateTime()),
    )
)
_CUSTOMERS_FOUND = HotStatement(
    text(
        "SELECT DISTINCT ON (c.phone, c.name)"
        " c.phone, c.name, c.id, c.address, c.region, c.latitude, c.longitude"
        " FROM customers AS c JOIN unnest(:phones, :names) AS t(phone, name)"
        " ON c.phone = t.phone AND c.name = t.name"
        " ORDER BY c.phone, c.name, c.id"
    ).bindparams(bindparam("phones", type_=ARRAY(String)), bindparam("names", type_=ARRAY(String)))
)
_CUSTOMERS_ADDED = HotStatement(
    text(
        "INSERT INTO customers"
        " (name, phone, other_phones, address, region, latitude, longitude, created_at)"
        " SELECT t.name, t.phone, CAST('[]' AS json), t.address, t.region, t.latitude,"
        " t.longitude, :created_at"
        " FROM unnest(:names, :phones, :addresses, :regions, :latitudes, :longitudes)"
        " WITH ORDINALITY AS t(name, phone, address, region, latitude, longitude, n)"
        " ORDER BY t.n"
        " RETURNING phone, name, id"
    ).bindparams(
        bindparam("names", type_=ARRAY(String)),
        bindparam("phones", type_=ARRAY(String)),
        bindparam("addresses", type_=ARRAY(String)),
        bindparam("regions", type_=ARRAY(String)),
        bindparam("latitudes", type_=ARRAY(Float)),
        bindparam("longitudes", type_=ARRAY(Float)),
        bindparam("created_at", type_=UtcDateTime()),
    )
)


@dataclass(frozen=True)
class UnitReported:
    """A unit as a report names it; registered on its first report."""

    serial_no: str
    product_model: str
    purchase_date: date | None
    selling_dealer_id: str | None


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

    async def purchase_dates_of(self, units: Sequence[UnitReported]) -> list[date | None]:
        """``purchase_date_of`` for each unit, as if one after another in the order given;
        on PostgreSQL in one statement (a serial number named again in the same call is
        looked at once more afterwards, seeing what the first did)."""
        if len(units) == 1 or self._session.get_bind().dialect.name != "postgresql":
            return [
                await self.purchase_date_of(
                    u.serial_no, u.product_model, u.purchase_date, u.selling_dealer_id
                )
                for u in units
            ]
        first: dict[str, int] = {}
        again: list[int] = []
        for i, unit in enumerate(units):
            if unit.serial_no in first:
                again.append(i)
            else:
                first[unit.serial_no] = i
        ordered = [units[i] for i in first.values()]
        rows = await _UNITS_UPSERT.execute(
            self._session,
            {
                "serial_nos": [u.serial_no for u in ordered],
                "models": [u.product_model for u in ordered],
                "purchase_dates": [u.purchase_date for u in ordered],
                "dealer_ids": [u.selling_dealer_id for u in ordered],
                "registered_at": datetime.now(UTC),
            },
        )
        stored: dict[str, date | None] = dict(rows)
        dates = [stored.get(unit.serial_no) for unit in units]
        for i in again:
            unit = units[i]
            dates[i] = await self.purchase_date_of(
                unit.serial_no, unit.product_model, unit.purchase_date, unit.selling_dealer_id
            )
        return dates

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

    async def placed_all(self, customers: Sequence[Customer]) -> list[PlacedCustomer]:
        """``placed`` for each customer, as if one after another in the order given; on
        PostgreSQL one statement finds them all and one adds the new ones (a person named
        again in the same call is found as the first one left them)."""
        if len(customers) == 1 or self._session.get_bind().dialect.name != "postgresql":
            return [await self.placed(customer) for customer in customers]
        found = await _CUSTOMERS_FOUND.execute(
            self._session,
            {"phones": [c.phone for c in customers], "names": [c.name for c in customers]},
        )
        # (phone, name) → [id or None while not yet added, address, region, latitude, longitude]
        known: dict[tuple[str, str], list[Any]] = {
            (phone, name): [customer_id, address, region, latitude, longitude]
            for phone, name, customer_id, address, region, latitude, longitude in found
        }
        added: list[Customer] = []
        kept: set[tuple[str, str]] = set()
        positions: list[tuple[float | None, float | None]] = []
        for customer in customers:
            person = (customer.phone, customer.name)
            latitude, longitude = _given_position(customer)
            stored = known.get(person)
            if stored is None:
                known[person] = [None, customer.address, customer.region, latitude, longitude]
                added.append(customer)
            else:
                now_known = [
                    stored[0],
                    customer.address or stored[1],
                    customer.region or stored[2],
                    stored[3] if latitude is None else latitude,
                    stored[4] if longitude is None else longitude,
                ]
                if now_known != stored:
                    known[person] = now_known
                    kept.add(person)
            positions.append((known[person][3], known[person][4]))
        if added:
            rows = await _CUSTOMERS_ADDED.execute(
                self._session,
                {
                    "names": [c.name for c in added],
                    "phones": [c.phone for c in added],
                    "addresses": [c.address for c in added],
                    "regions": [c.region for c in added],
                    "latitudes": [_given_position(c)[0] for c in added],
                    "longitudes": [_given_position(c)[1] for c in added],
                    "created_at": datetime.now(UTC),
                },
            )
            for phone, name, customer_id in rows:
                known[(phone, name)][0] = customer_id
        # In one order (rows locked by two calls at once cannot deadlock); one added and then
        # told more within this call is added as first told, then kept up to date here.
        for person in sorted(kept):
            customer_id, address, region, latitude, longitude = known[person]
            await _CUSTOMER_KEPT.execute(
                self._session,
                {
                    "customer_id": customer_id,
                    "address": address,
                    "region": region,
                    "latitude": latitude,
                    "longitude": longitude,
                },
            )
        return [
            _placed(known[(c.phone, c.name)][0], latitude, longitude)
            for c, (latitude, longitude) in zip(customers, positions, strict=True)
        ]

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


def _given_position(customer: Customer) -> tuple[float | None, float | None]:
    if customer.latitude is None or customer.longitude is None:
        return None, None
    return float(customer.latitude), float(customer.longitude)


def _placed(customer_id: int, latitude: float | None, longitude: float | None) -> PlacedCustomer:
    if latitude is None or longitude is None:
        return PlacedCustomer(customer_id, None, None)
    return PlacedCustomer(customer_id, _degrees(latitude), _degrees(longitude))


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
