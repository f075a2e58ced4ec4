"""The catalogue, suppliers and warehouses: kept by staff, imported from CSV, seeded for the
demo. Every part created or changed is announced (claims and billing keep copies)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import select

from services.parts.commands.errors import Conflict
from services.parts.db.models import PartRow, StockRow, SupplierRow, WarehouseRow
from services.parts.db.stockroom import Stockroom
from services.parts.domain.catalogue import PartDefinition, parse_parts
from services.parts.domain.stock import MovementKind, WarehouseKind
from shared.csv_lines import RejectedLine
from shared.db.unit_of_work import UnitOfWork
from shared.events.schemas.parts import PartCataloguedV1


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: list[RejectedLine] = field(default_factory=list)


def _fields(part: PartDefinition) -> dict[str, object]:
    return part.model_dump(exclude={"part_no"})


async def put_part(uow: UnitOfWork, part: PartDefinition, now: datetime) -> str:
    """Create or change a part; 'created', 'updated' or 'unchanged'. Must run inside ``uow``."""
    row = await uow.session.get(PartRow, part.part_no)
    if row is not None and all(getattr(row, k) == v for k, v in _fields(part).items()):
        return "unchanged"
    outcome = "updated" if row is not None else "created"
    if row is None:
        row = PartRow(part_no=part.part_no)
        uow.session.add(row)
    for name, value in _fields(part).items():
        setattr(row, name, value)
    row.changed_at = now
    await uow.session.flush()
    await uow.publish(
        PartCataloguedV1(
            part_no=row.part_no,
            name=row.name,
            fits_models=list(row.fits_models),
            unit_cost=row.unit_cost,
            list_price=row.list_price,
            supplier_id=row.supplier_id,
            genuine=row.genuine,
            return_required=row.return_required,
            changed_at=now,
        )
    )
    return outcome


async def save_part(uow: UnitOfWork, part: PartDefinition) -> str:
    async with uow:
        outcome = await put_part(uow, part, datetime.now(UTC))
        await uow.commit()
    return outcome


async def import_parts(uow: UnitOfWork, csv_text: str) -> ImportReport:
    parsed = parse_parts(csv_text)
    report = ImportReport(rejected=parsed.rejected)
    now = datetime.now(UTC)
    async with uow:
        for _line, part in parsed.rows:
            outcome = await put_part(uow, part, now)
            setattr(report, outcome, getattr(report, outcome) + 1)
        await uow.commit()
    return report


async def put_supplier(uow: UnitOfWork, supplier_id: str, name: str, contact: str | None) -> bool:
    """Create or rename a supplier; true when it was new. Must run inside ``uow``."""
    row = await uow.session.get(SupplierRow, supplier_id)
    created = row is None
    if row is None:
        row = SupplierRow(supplier_id=supplier_id)
        uow.session.add(row)
    row.name, row.contact = name, contact
    await uow.session.flush()
    return created


async def put_warehouse(
    uow: UnitOfWork,
    warehouse_id: str,
    kind: WarehouseKind,
    name: str,
    service_point_id: str | None,
    technician_id: str | None = None,
) -> bool:
    """Create or change a warehouse; true when it was new. Must run inside ``uow``."""
    if kind is WarehouseKind.SERVICE_CENTRE and not service_point_id:
        raise Conflict("a service-centre warehouse names its service point")
    if kind is not WarehouseKind.SERVICE_CENTRE and service_point_id:
        raise Conflict("only a service-centre warehouse belongs to a service point")
    if kind is WarehouseKind.VAN and not technician_id:
        raise Conflict("a van names the technician it belongs to")
    if kind is not WarehouseKind.VAN and technician_id:
        raise Conflict("only a van belongs to a technician")
    if technician_id:
        van = (
            await uow.session.execute(
                select(WarehouseRow.warehouse_id).where(
                    WarehouseRow.technician_id == technician_id,
                    WarehouseRow.warehouse_id != warehouse_id,
                )
            )
        ).scalar_one_or_none()
        if van:
            raise Conflict(f"technician {technician_id} already has van {van}")
    if service_point_id:
        taken = (
            await uow.session.execute(
                select(WarehouseRow.warehouse_id).where(
                    WarehouseRow.service_point_id == service_point_id,
                    WarehouseRow.warehouse_id != warehouse_id,
                )
            )
        ).scalar_one_or_none()
        if taken:
            raise Conflict(f"service point {service_point_id} already has warehouse {taken}")
    row = await uow.session.get(WarehouseRow, warehouse_id)
    created = row is None
    if row is None:
        row = WarehouseRow(warehouse_id=warehouse_id)
        uow.session.add(row)
    elif row.kind != kind.value:
        raise Conflict(f"warehouse {warehouse_id} is a {row.kind} warehouse")
    row.kind, row.name, row.service_point_id = kind.value, name, service_point_id
    row.technician_id = technician_id
    await uow.session.flush()
    return created


# The demo: P-1001 and 21 more parts for WX-200 / WX-300 (pumps) and CK-50 (compressors).
DEMO_SUPPLIERS = [
    ("S-01", "宁波恒达电子有限公司", "0574-88886666"),
    ("S-02", "温州泵阀配件厂", "0577-66668888"),
    ("S-03", "无锡压缩机零部件有限公司", "0510-85556666"),
]
# One service centre per dispatch service point (the ids dispatch's demo uses).
DEMO_WAREHOUSES = [
    ("WH-CENTRAL", WarehouseKind.CENTRAL, "中央仓库", None),
    ("WH-SH-PD", WarehouseKind.SERVICE_CENTRE, "上海浦东服务站备件库", "SP-SH-PD"),
    ("WH-SH-SJ", WarehouseKind.SERVICE_CENTRE, "上海松江服务站备件库", "SP-SH-SJ"),
    ("WH-BJ-CY", WarehouseKind.SERVICE_CENTRE, "北京朝阳服务站备件库", "SP-BJ-CY"),
    ("WH-BJ-DX", WarehouseKind.SERVICE_CENTRE, "北京大兴服务站备件库", "SP-BJ-DX"),
    ("WH-GZ-TH", WarehouseKind.SERVICE_CENTRE, "广州天河服务站备件库", "SP-GZ-TH"),
    ("WH-GZ-HP", WarehouseKind.SERVICE_CENTRE, "广州黄埔服务站备件库", "SP-GZ-HP"),
    ("WH-OLD", WarehouseKind.OLD_PARTS, "旧件库", None),
]
DEMO_PARTS = """part_no,name,fits_models,unit_cost,list_price,supplier_id,genuine,return_required
P-1001,WX-200 主控板,WX-200,180.00,320.00,S-01,true,true
P-1002,WX-300 主控板,WX-300,210.00,380.00,S-01,true,true
P-1003,压力传感器,WX-200;WX-300,45.00,88.00,S-01,true,true
P-1004,流量开关,WX-200;WX-300,32.00,65.00,S-01,true,false
P-1005,显示面板,WX-200;WX-300,60.00,120.00,S-01,true,false
P-2001,叶轮,WX-200,28.00,55.00,S-02,true,false
P-2002,机械密封,WX-200;WX-300,18.00,40.00,S-02,true,false
P-2003,WX-300 叶轮,WX-300,36.00,70.00,S-02,true,false
P-2004,电机 0.75kW,WX-200,260.00,450.00,S-02,true,true
P-2005,电机 1.5kW,WX-300,380.00,650.00,S-02,true,true
P-2006,止回阀,WX-200;WX-300,15.00,35.00,S-02,true,false
P-2007,压力罐,WX-200;WX-300,90.00,170.00,S-02,true,false
P-2008,O 型圈套件,WX-200;WX-300,3.50,12.00,S-02,false,false
P-2009,电容 20uF,WX-200;WX-300,8.00,20.00,S-01,true,false
P-3001,CK-50 压缩机头,CK-50,950.00,1600.00,S-03,true,true
P-3002,CK-50 主控板,CK-50,240.00,420.00,S-01,true,true
P-3003,进气阀,CK-50,55.00,110.00,S-03,true,false
P-3004,空气滤芯,CK-50,12.00,30.00,S-03,true,false
P-3005,压力开关,CK-50,48.00,95.00,S-03,true,true
P-3006,安全阀,CK-50,26.00,60.00,S-03,true,false
P-3007,皮带,CK-50,14.00,35.00,S-03,false,false
P-3008,冷却风扇,CK-50,70.00,140.00,S-03,true,false
"""
# Opening stock (central, each service centre) and reorder point / quantity per warehouse.
DEMO_STOCK = {"WH-CENTRAL": (40, 10, 30)} | {
    warehouse_id: (5, 2, 6)
    for warehouse_id, kind, _name, _point in DEMO_WAREHOUSES
    if kind is WarehouseKind.SERVICE_CENTRE
}


async def seed_demo(uow: UnitOfWork) -> str:
    """Parts's part of the demo: running it again changes nothing."""
    now = datetime.now(UTC)
    parsed = parse_parts(DEMO_PARTS)
    assert not parsed.rejected, parsed.rejected
    async with uow:
        suppliers = sum([await put_supplier(uow, *s) for s in DEMO_SUPPLIERS])
        warehouses = sum([await put_warehouse(uow, *w) for w in DEMO_WAREHOUSES])
        created = 0
        for _line, part in parsed.rows:
            created += await put_part(uow, part, now) == "created"
        stockroom = Stockroom(uow, now, actor="demo seed")
        stocked = 0
        for _line, part in parsed.rows:
            for warehouse_id, (opening, point, quantity) in DEMO_STOCK.items():
                if await uow.session.get(StockRow, (part.part_no, warehouse_id)) is not None:
                    continue
                await stockroom.move(
                    MovementKind.RECEIPT, part.part_no, warehouse_id, opening, reference="opening"
                )
                await stockroom.set_reorder_point(part.part_no, warehouse_id, point, quantity)
                stocked += 1
        await uow.commit()
    return (
        f"parts: {suppliers} suppliers, {warehouses} warehouses, {created} parts and "
        f"{stocked} opening balances added"
    )
