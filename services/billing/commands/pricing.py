"""Price lists, billing's copy of the parts catalogue, and maintenance contracts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from services.billing.commands.documents import issue_invoice
from services.billing.commands.errors import Conflict, Invalid, NotFound
from services.billing.commands.numbers import next_number
from services.billing.db.models import CataloguePartRow, ContractRow, InvoiceRow, PriceRow
from services.billing.domain.money import LineKind, line
from services.billing.domain.pricing import Price, PriceItem, labour_key, labour_price
from services.billing.domain.pricing import price_in_effect as _in_effect
from services.billing.settings import BillingSettings
from shared.db.unit_of_work import UnitOfWork


def price_key(
    item: PriceItem, product_line: str | None, service_type: str | None, part_no: str | None
) -> str:
    if item is PriceItem.LABOUR:
        return labour_key(product_line, service_type)
    if item is PriceItem.PART:
        if not part_no:
            raise Invalid("part_no", "A part price needs the part number.")
        return part_no
    return "*"


async def add_price(
    uow: UnitOfWork,
    item: PriceItem,
    key: str,
    amount: Decimal,
    effective_from: date,
    currency: str,
    actor: str | None,
) -> PriceRow:
    """A new price from a date on; earlier prices and issued documents stay as they were."""
    async with uow:
        clash = await uow.session.execute(
            select(PriceRow.id).where(
                PriceRow.item == item.value,
                PriceRow.key == key,
                PriceRow.effective_from == effective_from,
            )
        )
        if clash.first() is not None:
            raise Conflict(f"A {item} price for {key} already starts on {effective_from}.")
        row = PriceRow(
            item=item.value,
            key=key,
            amount=amount,
            currency=currency,
            effective_from=effective_from,
            entered_by=actor,
            entered_at=datetime.now(UTC),
        )
        uow.session.add(row)
        try:
            await uow.commit()
        except IntegrityError as exc:
            # The same price entered by someone else at the same moment: the unique key saw it.
            raise Conflict(f"A {item} price for {key} already starts on {effective_from}.") from exc
    return row


async def list_prices(uow: UnitOfWork, item: PriceItem | None = None) -> list[PriceRow]:
    async with uow:
        query = select(PriceRow).order_by(PriceRow.item, PriceRow.key, PriceRow.effective_from)
        if item is not None:
            query = query.where(PriceRow.item == item.value)
        return list((await uow.session.execute(query)).scalars())


async def load_prices(uow: UnitOfWork) -> list[Price]:
    rows = (await uow.session.execute(select(PriceRow))).scalars()
    return [Price(PriceItem(r.item), r.key, r.amount, r.effective_from) for r in rows]


@dataclass(frozen=True)
class StandardPrices:
    """The prices in effect on one day, read once for a whole document."""

    prices: list[Price]
    parts: dict[str, CataloguePartRow]
    on: date

    def unit_price(
        self,
        kind: LineKind,
        product_line: str | None,
        service_type: str | None,
        part_no: str | None,
    ) -> Decimal | None:
        found: Price | None
        if kind is LineKind.LABOUR:
            found = labour_price(self.prices, product_line, service_type, self.on)
        elif kind is LineKind.PARTS:
            found = _in_effect(self.prices, PriceItem.PART, part_no or "", self.on)
            if found is None and part_no in self.parts:
                return self.parts[part_no].list_price
        elif kind is LineKind.TRAVEL:
            found = _in_effect(self.prices, PriceItem.TRAVEL_KM, "*", self.on)
        elif kind is LineKind.CALL_OUT:
            found = _in_effect(self.prices, PriceItem.CALL_OUT, "*", self.on)
        else:
            return None
        return found.amount if found is not None else None

    def flat(self, item: PriceItem) -> Decimal | None:
        found = _in_effect(self.prices, item, "*", self.on)
        return found.amount if found is not None else None


async def standard_prices(uow: UnitOfWork, on: date) -> StandardPrices:
    parts = (await uow.session.execute(select(CataloguePartRow))).scalars()
    return StandardPrices(await load_prices(uow), {p.part_no: p for p in parts}, on)


async def keep_catalogue_copy(
    uow: UnitOfWork,
    part_no: str,
    name: str,
    unit_cost: Decimal,
    list_price: Decimal,
    supplier_id: str | None,
    changed_at: datetime,
) -> None:
    """Latest ``changed_at`` wins, so a late, older change never overwrites a newer one."""
    row = await uow.session.get(CataloguePartRow, part_no, with_for_update=True)
    if row is None:
        uow.session.add(
            CataloguePartRow(
                part_no=part_no,
                name=name,
                unit_cost=unit_cost,
                list_price=list_price,
                supplier_id=supplier_id,
                changed_at=changed_at,
            )
        )
    elif changed_at > row.changed_at:
        row.name, row.unit_cost, row.list_price = name, unit_cost, list_price
        row.supplier_id, row.changed_at = supplier_id, changed_at


async def create_contract(
    uow: UnitOfWork,
    customer_id: str,
    customer_name: str,
    serial_nos: list[str],
    covers: list[LineKind],
    valid_from: date,
    valid_to: date,
    fee: Decimal,
    currency: str,
    actor: str | None,
) -> ContractRow:
    if valid_to < valid_from:
        raise Invalid("valid_to", "A contract cannot end before it starts.")
    async with uow:
        now = datetime.now(UTC)
        row = ContractRow(
            contract_no=await next_number(uow, "MC", now),
            customer_id=customer_id,
            customer_name=customer_name,
            serial_nos=serial_nos,
            covers=[kind.value for kind in covers],
            valid_from=valid_from,
            valid_to=valid_to,
            fee=fee,
            currency=currency,
            created_by=actor,
            created_at=now,
        )
        uow.session.add(row)
        await uow.commit()
    return row


async def list_contracts(uow: UnitOfWork, customer_id: str | None = None) -> list[ContractRow]:
    async with uow:
        query = select(ContractRow).order_by(ContractRow.contract_no)
        if customer_id is not None:
            query = query.where(ContractRow.customer_id == customer_id)
        return list((await uow.session.execute(query)).scalars())


async def contract_covering(
    uow: UnitOfWork, customer_id: str | None, serial_no: str | None, on: date
) -> ContractRow | None:
    if customer_id is None:
        return None
    rows = (
        await uow.session.execute(select(ContractRow).where(ContractRow.customer_id == customer_id))
    ).scalars()
    for row in rows:
        in_force = row.valid_from <= on <= row.valid_to
        # A contract listing no serial numbers covers every unit of the customer.
        if in_force and (not row.serial_nos or serial_no in row.serial_nos):
            return row
    return None


DEMO_CUSTOMER = "CUST-DEMO-001"
_DEMO_PRICES = [
    (PriceItem.LABOUR, "pumps/*", "150.00"),
    (PriceItem.LABOUR, "pumps/repair", "160.00"),
    (PriceItem.LABOUR, "compressors/*", "200.00"),
    (PriceItem.LABOUR, "compressors/repair", "220.00"),
    (PriceItem.LABOUR, "*/*", "140.00"),
    (PriceItem.TRAVEL_KM, "*", "2.50"),
    (PriceItem.TRAVEL_FLAT, "*", "50.00"),
    (PriceItem.CALL_OUT, "*", "80.00"),
    (PriceItem.PART, "P-1001", "260.00"),
    (PriceItem.PART, "P-2002", "45.00"),
]


async def seed_demo(uow: UnitOfWork) -> str:
    """A price list for pumps and compressors and one maintenance contract; run twice,
    it adds nothing."""
    start = date(2026, 1, 1)
    added = 0
    async with uow:
        now = datetime.now(UTC)
        existing = {
            (r.item, r.key)
            for r in (
                await uow.session.execute(select(PriceRow).where(PriceRow.effective_from == start))
            ).scalars()
        }
        for item, key, amount in _DEMO_PRICES:
            if (item.value, key) in existing:
                continue
            uow.session.add(
                PriceRow(
                    item=item.value,
                    key=key,
                    amount=Decimal(amount),
                    currency="CNY",
                    effective_from=start,
                    entered_by="demo",
                    entered_at=now,
                )
            )
            added += 1
        contract = (
            await uow.session.execute(
                select(ContractRow.contract_no).where(ContractRow.customer_id == DEMO_CUSTOMER)
            )
        ).first()
        if contract is None:
            uow.session.add(
                ContractRow(
                    contract_no=await next_number(uow, "MC", now),
                    customer_id=DEMO_CUSTOMER,
                    customer_name="杭州示范水务有限公司",
                    serial_nos=[],
                    covers=[LineKind.LABOUR.value, LineKind.TRAVEL.value],
                    valid_from=start,
                    valid_to=date(2027, 12, 31),
                    fee=Decimal("12000.00"),
                    currency="CNY",
                    created_by="demo",
                    created_at=now,
                )
            )
        await uow.commit()
    made = "already there" if contract is not None else "added"
    return f"billing: {added} prices added, the demo maintenance contract {made}"


async def invoice_contract_fee(
    uow: UnitOfWork, settings: BillingSettings, contract_no: str
) -> InvoiceRow:
    """The contract's fee, invoiced once to its customer (category B)."""
    async with uow:
        contract = await uow.session.get(ContractRow, contract_no, with_for_update=True)
        if contract is None:
            raise NotFound(f"contract {contract_no}")
        if contract.fee <= 0:
            raise Conflict(f"Contract {contract_no} has no fee to invoice.")
        fee = line(
            LineKind.OTHER,
            f"维保合同 {contract_no} {contract.valid_from}–{contract.valid_to}",
            Decimal(1),
            contract.fee,
            settings.vat_rates(),
        )
        invoice = await issue_invoice(
            uow,
            source_key=f"contract:{contract_no}",
            lines=[fee],
            category="B",
            bill_to="customer",
            bill_to_id=contract.customer_id,
            bill_to_name=contract.customer_name,
            currency=contract.currency,
        )
        await uow.commit()
    return invoice
