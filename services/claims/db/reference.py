"""Claims' reference data in its database: policies, labour operations and rates, the part
catalogue copy and suppliers."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.claims.db.models import (
    CataloguePartRow,
    LabourOperationRow,
    LabourRateRow,
    PolicyRow,
    SupplierRow,
)
from services.claims.domain.policy import (
    CataloguePart,
    LabourOperation,
    LabourRate,
    Supplier,
    WarrantyPolicy,
)


def policy_from_row(row: PolicyRow) -> WarrantyPolicy:
    return WarrantyPolicy(
        id=row.id,
        product_model=row.product_model,
        effective_from=row.effective_from,
        effective_to=row.effective_to,
        period_months=row.period_months,
        covers_parts=row.covers_parts,
        covers_labour=row.covers_labour,
        covers_travel=row.covers_travel,
        excluded_causes=tuple(row.excluded_causes),
        excluded_parts=tuple(row.excluded_parts),
        travel_cap_km=row.travel_cap_km,
    )


def _fill_policy(row: PolicyRow, policy: WarrantyPolicy) -> None:
    row.product_model = policy.product_model
    row.effective_from = policy.effective_from
    row.effective_to = policy.effective_to
    row.period_months = policy.period_months
    row.covers_parts = policy.covers_parts
    row.covers_labour = policy.covers_labour
    row.covers_travel = policy.covers_travel
    row.excluded_causes = list(policy.excluded_causes)
    row.excluded_parts = list(policy.excluded_parts)
    row.travel_cap_km = policy.travel_cap_km


def _operation(row: LabourOperationRow) -> LabourOperation:
    return LabourOperation(
        row.code, row.product_line, row.description, row.standard_hours, row.fault_code
    )


def _part(row: CataloguePartRow) -> CataloguePart:
    return CataloguePart(
        row.part_no,
        row.name,
        row.list_price,
        row.unit_cost,
        row.supplier_id,
        row.return_required,
        row.changed_at,
    )


def _supplier(row: SupplierRow) -> Supplier:
    return Supplier(
        row.supplier_id, row.name, row.assessment_per_unit, row.dispute_days, row.settle_by
    )


class ReferenceData:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    # Policies
    async def policies(self, product_model: str | None = None) -> list[WarrantyPolicy]:
        query = select(PolicyRow).order_by(PolicyRow.product_model, PolicyRow.effective_from)
        if product_model is not None:
            query = query.where(PolicyRow.product_model == product_model)
        return [policy_from_row(r) for r in (await self._session.execute(query)).scalars()]

    async def policy(self, policy_id: int) -> WarrantyPolicy | None:
        row = await self._session.get(PolicyRow, policy_id)
        return None if row is None else policy_from_row(row)

    async def add_policy(self, policy: WarrantyPolicy) -> WarrantyPolicy:
        row = PolicyRow()
        _fill_policy(row, policy)
        self._session.add(row)
        await self._session.flush()
        return policy_from_row(row)

    async def replace_policy(self, policy_id: int, policy: WarrantyPolicy) -> WarrantyPolicy | None:
        row = await self._session.get(PolicyRow, policy_id)
        if row is None:
            return None
        _fill_policy(row, policy)
        await self._session.flush()
        return policy_from_row(row)

    async def delete_policy(self, policy_id: int) -> bool:
        row = await self._session.get(PolicyRow, policy_id)
        if row is None:
            return False
        await self._session.delete(row)
        await self._session.flush()
        return True

    # Labour operations
    async def operations(self, product_line: str | None = None) -> list[LabourOperation]:
        query = select(LabourOperationRow).order_by(LabourOperationRow.code)
        if product_line is not None:
            query = query.where(LabourOperationRow.product_line == product_line)
        return [_operation(r) for r in (await self._session.execute(query)).scalars()]

    async def operation(self, code: str) -> LabourOperation | None:
        row = await self._session.get(LabourOperationRow, code)
        return None if row is None else _operation(row)

    async def put_operation(self, operation: LabourOperation) -> bool:
        """Create or replace; True when it was new."""
        row = await self._session.get(LabourOperationRow, operation.code)
        created = row is None
        if row is None:
            row = LabourOperationRow(code=operation.code)
            self._session.add(row)
        row.product_line = operation.product_line
        row.description = operation.description
        row.standard_hours = operation.standard_hours
        row.fault_code = operation.fault_code
        await self._session.flush()
        return created

    async def delete_operation(self, code: str) -> bool:
        row = await self._session.get(LabourOperationRow, code)
        if row is None:
            return False
        await self._session.delete(row)
        await self._session.flush()
        return True

    # Labour rates
    async def rates(self) -> list[LabourRate]:
        rows = await self._session.execute(
            select(LabourRateRow).order_by(LabourRateRow.product_line)
        )
        return [LabourRate(r.product_line, r.hourly_rate, r.per_km_rate) for r in rows.scalars()]

    async def rate(self, product_line: str | None) -> LabourRate | None:
        row = await self._session.get(LabourRateRow, product_line or "")
        return (
            None if row is None else LabourRate(row.product_line, row.hourly_rate, row.per_km_rate)
        )

    async def put_rate(self, rate: LabourRate) -> None:
        row = await self._session.get(LabourRateRow, rate.product_line)
        if row is None:
            row = LabourRateRow(product_line=rate.product_line)
            self._session.add(row)
        row.hourly_rate, row.per_km_rate = rate.hourly_rate, rate.per_km_rate
        await self._session.flush()

    # Catalogue copy
    async def parts(self, part_nos: Iterable[str] | None = None) -> dict[str, CataloguePart]:
        query = select(CataloguePartRow).order_by(CataloguePartRow.part_no)
        if part_nos is not None:
            query = query.where(CataloguePartRow.part_no.in_(list(part_nos)))
        return {r.part_no: _part(r) for r in (await self._session.execute(query)).scalars()}

    async def catalogue(self, part: CataloguePart) -> bool:
        """Keep the latest data of a part; an older or repeated event changes nothing."""
        row = await self._session.get(CataloguePartRow, part.part_no)
        if row is not None and row.changed_at >= part.changed_at:
            return False
        if row is None:
            row = CataloguePartRow(part_no=part.part_no)
            self._session.add(row)
        row.name, row.list_price, row.unit_cost = part.name, part.list_price, part.unit_cost
        row.supplier_id, row.return_required = part.supplier_id, part.return_required
        row.changed_at = part.changed_at
        await self._session.flush()
        return True

    # Suppliers
    async def suppliers(self) -> list[Supplier]:
        rows = await self._session.execute(select(SupplierRow).order_by(SupplierRow.supplier_id))
        return [_supplier(r) for r in rows.scalars()]

    async def supplier(self, supplier_id: str) -> Supplier | None:
        row = await self._session.get(SupplierRow, supplier_id)
        return None if row is None else _supplier(row)

    async def put_supplier(self, supplier: Supplier) -> None:
        row = await self._session.get(SupplierRow, supplier.supplier_id)
        if row is None:
            row = SupplierRow(supplier_id=supplier.supplier_id)
            self._session.add(row)
        row.name, row.assessment_per_unit = supplier.name, supplier.assessment_per_unit
        row.dispute_days = supplier.dispute_days
        row.settle_by = supplier.settle_by
        await self._session.flush()
