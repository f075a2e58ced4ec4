"""Keeping customers' records: who they are, where they can be reached and where they are."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from services.intake.commands.errors import NotFound
from services.intake.db.catalogue import Customers
from services.intake.db.models import CustomerRow
from services.intake.domain.service_request import Customer
from shared.db.unit_of_work import UnitOfWork


@dataclass(frozen=True)
class CustomerChange:
    """Fields left ``None`` stay as they are; a position is changed as a pair."""

    name: str | None = None
    phone: str | None = None
    other_phones: list[str] | None = None
    address: str | None = None
    region: str | None = None
    latitude: Decimal | None = None
    longitude: Decimal | None = None


async def add_customer(uow: UnitOfWork, customer: Customer, other_phones: list[str]) -> CustomerRow:
    async with uow:
        row = await Customers(uow.session).add(customer, other_phones)
        await uow.commit()
    return row


async def change_customer(uow: UnitOfWork, customer_id: int, change: CustomerChange) -> CustomerRow:
    async with uow:
        row = await Customers(uow.session).get(customer_id, lock=True)
        if row is None:
            raise NotFound(str(customer_id))
        row.name = change.name or row.name
        row.phone = change.phone or row.phone
        if change.other_phones is not None:
            row.other_phones = list(change.other_phones)
        row.address = change.address if change.address is not None else row.address
        row.region = change.region if change.region is not None else row.region
        if change.latitude is not None and change.longitude is not None:
            row.latitude, row.longitude = float(change.latitude), float(change.longitude)
        await uow.commit()
    return row


async def find_customer(uow: UnitOfWork, customer_id: int) -> CustomerRow | None:
    async with uow:
        return await Customers(uow.session).get(customer_id)
