"""Product models and registered units: bulk import (CSV) and the demo data."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from services.intake.db.catalogue import Customers, ProductCatalogue
from services.intake.db.models import ProductModelRow, UnitRow
from services.intake.domain.catalogue_import import (
    ProductModelLine,
    UnitLine,
    parse_models,
    parse_units,
)
from services.intake.domain.service_request import Customer
from shared.csv_lines import RejectedLine
from shared.db.unit_of_work import UnitOfWork


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    rejected: list[RejectedLine] = field(default_factory=list)


async def import_models(uow: UnitOfWork, csv_text: str) -> ImportReport:
    parsed = parse_models(csv_text)
    report = ImportReport(rejected=parsed.rejected)
    async with uow:
        catalogue = ProductCatalogue(uow.session)
        for _line, line in parsed.rows:
            created = await _put_model(catalogue, uow, line)
            report.created += created
            report.updated += not created
        await uow.commit()
    return report


async def _put_model(catalogue: ProductCatalogue, uow: UnitOfWork, line: ProductModelLine) -> bool:
    row = await catalogue.model(line.model)
    created = row is None
    if row is None:
        row = ProductModelRow(model=line.model)
        uow.session.add(row)
    row.name = line.name
    row.product_line = line.product_line
    row.warranty_months = line.warranty_months
    row.covers_parts = line.covers_parts
    row.covers_labour = line.covers_labour
    row.covers_travel = line.covers_travel
    await uow.session.flush()
    return created


async def import_units(uow: UnitOfWork, csv_text: str) -> ImportReport:
    parsed = parse_units(csv_text)
    report = ImportReport(rejected=parsed.rejected)
    async with uow:
        for _line, line in parsed.rows:
            created = await _put_unit(uow, line)
            report.created += created
            report.updated += not created
        await uow.commit()
    return report


async def _put_unit(uow: UnitOfWork, line: UnitLine) -> bool:
    owner_id = None
    if line.owner_name and line.owner_phone:
        owner_id = await Customers(uow.session).find_or_add(
            Customer(
                name=line.owner_name,
                phone=line.owner_phone,
                address=line.owner_address,
                region=line.owner_region,
                latitude=line.owner_latitude,
                longitude=line.owner_longitude,
            )
        )
    unit = await uow.session.get(UnitRow, line.serial_no)
    created = unit is None
    if unit is None:
        unit = UnitRow(serial_no=line.serial_no, registered_at=datetime.now(UTC))
        uow.session.add(unit)
    unit.product_model = line.model
    unit.purchase_date = line.purchase_date
    unit.owner_customer_id = owner_id if owner_id is not None else unit.owner_customer_id
    unit.selling_dealer_id = line.selling_dealer_id
    await uow.session.flush()
    return created


DEMO_MODELS = """model,name,product_line,warranty_months
WX-200,WX-200 家用增压水泵,pumps,12
WX-300,WX-300 商用增压水泵,pumps,12
CK-50,CK-50 空气压缩机,compressors,24
"""

DEMO_UNITS = """serial_no,model,purchase_date,owner_name,owner_phone,owner_region,owner_address,owner_latitude,owner_longitude
WX200-2025-000123,WX-200,2026-03-01,张伟,13800138000,上海,上海市浦东新区世纪大道100号,31.2354,121.5055
WX200-2025-000124,WX-200,2025-06-15,李娜,13700000001,北京,北京市朝阳区建国路88号,39.9087,116.4605
WX300-2026-000010,WX-300,2026-01-20,王芳,13900000002,广州,广州市天河区体育西路1号,23.1372,113.3224
WX300-2024-000077,WX-300,2024-09-01,赵敏,13600000003,上海,上海市徐汇区漕溪北路20号,31.1943,121.4365
CK50-2025-000501,CK-50,2025-02-10,广州华南机电有限公司,02088886666,广州,广州市黄埔区开发大道9号,23.1810,113.4800
CK50-2023-000042,CK-50,2023-11-30,北京宏达制冷设备厂,01066667777,北京,北京市大兴区亦庄路5号,39.7950,116.5060
"""  # noqa: E501


async def seed_demo(uow: UnitOfWork) -> str:
    """Intake's part of the demo: running it again changes nothing."""
    models = await import_models(uow, DEMO_MODELS)
    units = await import_units(uow, DEMO_UNITS)
    return (
        f"intake: {models.created} product models and {units.created} units added "
        f"({models.updated + units.updated} already there)"
    )
