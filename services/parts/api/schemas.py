"""Request and response bodies of the staff API."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from services.parts.domain.stock import WarehouseKind

PartNo = Field(min_length=1, max_length=40)
WarehouseId = Field(min_length=1, max_length=20, pattern=r"^[A-Za-z0-9._\-]+$")
Quantity = Field(gt=0, le=100_000)


class _In(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class SupplierWrite(_In):
    name: str = Field(min_length=1, max_length=200)
    contact: str | None = Field(None, max_length=200)


class SupplierRead(_Out):
    supplier_id: str
    name: str
    contact: str | None


class PartWrite(_In):
    name: str = Field(min_length=1, max_length=200)
    fits_models: list[Annotated[str, Field(min_length=1, max_length=100)]] = Field(
        default_factory=list, max_length=200
    )
    unit_cost: Decimal = Field(ge=0, max_digits=12, decimal_places=2)
    list_price: Decimal = Field(ge=0, max_digits=12, decimal_places=2)
    supplier_id: str | None = Field(None, max_length=20)
    genuine: bool = True
    return_required: bool = False


class PartRead(_Out):
    part_no: str
    name: str
    fits_models: list[str]
    unit_cost: Decimal
    list_price: Decimal
    supplier_id: str | None
    genuine: bool
    return_required: bool
    changed_at: datetime


class WarehouseWrite(_In):
    kind: WarehouseKind
    name: str = Field(min_length=1, max_length=200)
    service_point_id: str | None = Field(None, max_length=40)
    technician_id: str | None = Field(None, min_length=1, max_length=60,
                                      description="The technician a van belongs to")  # fmt: skip


class WarehouseRead(_Out):
    warehouse_id: str
    kind: str
    name: str
    service_point_id: str | None
    technician_id: str | None = None


class RejectedLineRead(BaseModel):
    line: int
    errors: list[str]


class ImportReportRead(BaseModel):
    created: int
    updated: int
    unchanged: int
    rejected: list[RejectedLineRead]


class StockRead(_Out):
    part_no: str
    warehouse_id: str
    on_hand: int
    reserved: int
    available: int
    reorder_point: int | None
    reorder_quantity: int | None
    below_reorder_point: bool


class MovementRead(_Out):
    id: int
    at: datetime
    kind: str
    part_no: str
    warehouse_id: str
    quantity: int
    on_hand_change: int
    reserved_change: int
    request_no: str | None
    reference: str | None
    reason: str | None
    actor: str | None


class ReceiptWrite(_In):
    part_no: str = PartNo
    warehouse_id: str = WarehouseId
    quantity: int = Quantity
    reference: str | None = Field(None, max_length=60, description="Delivery note, order no.")
    plan_no: str | None = Field(None, max_length=20, description="The plan this receipt fills")


class TransferWrite(_In):
    part_no: str = PartNo
    from_warehouse_id: str = WarehouseId
    to_warehouse_id: str = WarehouseId
    quantity: int = Quantity
    reference: str | None = Field(None, max_length=60)
    plan_no: str | None = Field(None, max_length=20)


class AdjustmentWrite(_In):
    part_no: str = PartNo
    warehouse_id: str = WarehouseId
    change: int = Field(ge=-100_000, le=100_000, description="Units found (+) or missing (-)")
    reason: str = Field(min_length=1, max_length=500)


class ScrapWrite(_In):
    part_no: str = PartNo
    warehouse_id: str = WarehouseId
    quantity: int = Quantity
    reason: str = Field(min_length=1, max_length=500)


class ReorderWrite(_In):
    reorder_point: int | None = Field(None, ge=0, le=100_000)
    reorder_quantity: int | None = Field(None, ge=1, le=100_000)


class StockChangeRead(BaseModel):
    part_no: str
    warehouse_id: str
    to_backorders: int = Field(description="Units that went straight to waiting backorders")


class ReservationLineRead(_Out):
    part_no: str
    requested: int
    reserved: int
    backordered: int
    issued: int
    released: int


class ReservationRead(_Out):
    reservation_id: str
    request_no: str
    warehouse_id: str
    priority: str
    status: str
    technician_id: str | None
    requested_at: datetime
    created_at: datetime
    expires_at: datetime | None
    closed_at: datetime | None
    close_reason: str | None
    lines: list[ReservationLineRead] = Field(default_factory=list)


class BackorderRead(BaseModel):
    reservation_id: str
    request_no: str
    warehouse_id: str
    priority: str
    created_at: datetime
    part_no: str
    waiting: int


class IssueWrite(_In):
    technician_id: str | None = Field(None, max_length=60)


class IssuedLineRead(BaseModel):
    part_no: str
    quantity: int
    warehouse_id: str


class ReturnWrite(_In):
    request_no: str = Field(min_length=1, max_length=20)
    part_no: str = PartNo
    quantity: int = Quantity


class HoldingRead(_Out):
    request_no: str
    part_no: str
    warehouse_id: str
    technician_id: str | None
    issued: int
    consumed: int
    returned: int


class EmergencyLine(_In):
    part_no: str = PartNo
    quantity: int = Quantity


class EmergencyWrite(_In):
    request_no: str = Field(min_length=1, max_length=20)
    service_point_id: str | None = Field(None, max_length=40)
    lines: list[EmergencyLine] = Field(min_length=1, max_length=50)
    reason: str = Field(min_length=1, max_length=500)


class DecisionWrite(_In):
    approve: bool


class ShipmentWrite(_In):
    carrier: str = Field(min_length=1, max_length=100)
    tracking_no: str = Field(min_length=1, max_length=100)


class EmergencyRead(_Out):
    emergency_no: str
    request_no: str
    service_point_id: str | None
    lines: list[dict[str, str | int]]
    reason: str
    status: str
    requested_by: str
    requested_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    reservation_id: str | None
    warehouse_id: str | None
    carrier: str | None
    tracking_no: str | None
    shipped_at: datetime | None


class CoreReceiptWrite(_In):
    request_no: str = Field(min_length=1, max_length=20)
    part_no: str = PartNo
    quantity: int = Quantity
    serials: list[Annotated[str, Field(min_length=1, max_length=100)]] = Field(
        default_factory=list, max_length=100
    )


class CoreReceiptRead(_Out):
    id: int
    request_no: str
    part_no: str
    quantity: int
    serials: list[str]
    matched: bool
    mismatches: list[str]
    received_by: str
    received_at: datetime


class ExpectedReturnRead(_Out):
    request_no: str
    part_no: str
    supplier_id: str | None
    service_point_id: str | None
    quantity_expected: int
    serials_expected: list[str]
    quantity_received: int
    serials_received: list[str]
    mismatches: list[str]
    status: str
    due_at: datetime
    received_at: datetime | None
    overdue_at: datetime | None


class CollectionRead(_Out):
    collection_no: str
    recovery_no: str
    supplier_id: str
    request_no: str
    part_nos: list[str]
    status: str
    notified_at: datetime
    due_at: datetime
    closed_at: datetime | None
    disposal_no: str | None
    amount: Decimal | None


class PlanLineWrite(_In):
    part_no: str = PartNo
    quantity: int = Field(ge=0, le=100_000, description="0 removes the line")


class PlanWrite(_In):
    lines: list[PlanLineWrite] = Field(min_length=1, max_length=500)


class PlanLineRead(_Out):
    part_no: str
    quantity: int
    received: int
    suggested: bool


class PlanRead(_Out):
    plan_no: str
    warehouse_id: str
    status: str
    created_at: datetime
    submitted_at: datetime | None
    submitted_by: str | None
    filled_at: datetime | None
    lines: list[PlanLineRead] = Field(default_factory=list)


class ReconciledPartRead(BaseModel):
    part_no: str
    issued: int
    consumed: int
    returned: int
    still_out: int


class ReconciliationRead(BaseModel):
    warehouse_id: str
    period_start: datetime
    period_end: datetime
    parts: list[ReconciledPartRead]
    totals: ReconciledPartRead
