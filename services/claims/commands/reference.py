"""Claims' reference data: the demo set (idempotent)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from services.claims.db.reference import ReferenceData
from services.claims.domain.policy import LabourOperation, LabourRate, Supplier, WarrantyPolicy
from shared.db.unit_of_work import UnitOfWork

DEMO_POLICIES = [
    WarrantyPolicy("WX-200", date(2020, 1, 1), None, 12, travel_cap_km=Decimal("300")),
    WarrantyPolicy("WX-300", date(2020, 1, 1), None, 12, travel_cap_km=Decimal("300")),
    WarrantyPolicy("CK-50", date(2020, 1, 1), None, 24, travel_cap_km=Decimal("500")),
]
DEMO_OPERATIONS = [
    LabourOperation("PMP-100", "pumps", "水泵检修 pump general repair", Decimal("2.00")),
    LabourOperation("PMP-142", "pumps", "更换电机 motor replacement", Decimal("1.50"), "E42"),
    LabourOperation("CMP-100", "compressors", "压缩机检修 compressor repair", Decimal("3.00")),
    LabourOperation("CMP-210", "compressors", "更换阀组 valve set", Decimal("2.50"), "E21"),
]
DEMO_RATES = [
    LabourRate("pumps", Decimal("120.00"), Decimal("1.50")),
    LabourRate("compressors", Decimal("150.00"), Decimal("1.50")),
]
DEMO_SUPPLIERS = [Supplier("S-01", "华东电机有限公司", Decimal("800.00"))]


async def seed_demo(uow: UnitOfWork) -> str:
    """Claims' part of the demo: running it again changes nothing."""
    async with uow:
        reference = ReferenceData(uow.session)
        added = 0
        for policy in DEMO_POLICIES:
            known = await reference.policies(policy.product_model)
            if not any(p.effective_from == policy.effective_from for p in known):
                await reference.add_policy(policy)
                added += 1
        for operation in DEMO_OPERATIONS:
            if await reference.operation(operation.code) is None:
                await reference.put_operation(operation)
                added += 1
        for rate in DEMO_RATES:
            if await reference.rate(rate.product_line) is None:
                await reference.put_rate(rate)
                added += 1
        for supplier in DEMO_SUPPLIERS:
            if await reference.supplier(supplier.supplier_id) is None:
                await reference.put_supplier(supplier)
                added += 1
        await uow.commit()
    return f"claims: {added} policies, operations, rates and suppliers added"
