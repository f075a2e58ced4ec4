"""Parts's own tables: catalogue, warehouses, stock with its movement ledger, reservations,
emergencies, replenishment plans, old parts (cores) and supplier collections."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.db.types import UtcDateTime

Money = Numeric(12, 2)


class Base(DeclarativeBase):
    metadata = MetaData()


class SupplierRow(Base):
    __tablename__ = "suppliers"

    supplier_id: Mapped[str] = mapped_column(String(20), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    contact: Mapped[str | None] = mapped_column(String(200))


class PartRow(Base):
    __tablename__ = "parts"

    part_no: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    fits_models: Mapped[list[str]] = mapped_column(JSON, default=list)
    unit_cost: Mapped[Decimal] = mapped_column(Money)
    list_price: Mapped[Decimal] = mapped_column(Money)
    supplier_id: Mapped[str | None] = mapped_column(String(20))
    genuine: Mapped[bool] = mapped_column(Boolean, default=True)
    return_required: Mapped[bool] = mapped_column(Boolean, default=False)
    changed_at: Mapped[datetime] = mapped_column(UtcDateTime())


class WarehouseRow(Base):
    __tablename__ = "warehouses"
    __table_args__ = (UniqueConstraint("technician_id", name="uq_warehouses_technician_id"),)

    warehouse_id: Mapped[str] = mapped_column(String(20), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))  # central, service_centre, old_parts
    name: Mapped[str] = mapped_column(String(200))
    # The service point id dispatch uses; one service-centre warehouse per service point.
    service_point_id: Mapped[str | None] = mapped_column(String(40), unique=True)
    # A van is one technician's: the parts they fit come from it before the centre's shelf.
    technician_id: Mapped[str | None] = mapped_column(String(60))


class StockRow(Base):
    """The balance of one part in one warehouse; always the sum of its ledger entries."""

    __tablename__ = "stock"
    __table_args__ = (
        CheckConstraint("on_hand >= 0", name="ck_stock_on_hand_not_negative"),
        CheckConstraint("reserved >= 0", name="ck_stock_reserved_not_negative"),
        CheckConstraint("reserved <= on_hand", name="ck_stock_reserved_within_on_hand"),
    )

    part_no: Mapped[str] = mapped_column(String(40), primary_key=True)
    warehouse_id: Mapped[str] = mapped_column(String(20), primary_key=True)
    on_hand: Mapped[int] = mapped_column(Integer, default=0)
    reserved: Mapped[int] = mapped_column(Integer, default=0)
    reorder_point: Mapped[int | None] = mapped_column(Integer)
    reorder_quantity: Mapped[int | None] = mapped_column(Integer)
    # Set when available fell to the reorder point, cleared when it rose above it again:
    # one suggestion per crossing, not one per movement.
    low: Mapped[bool] = mapped_column(Boolean, default=False)


class MovementRow(Base):
    __tablename__ = "movements"
    __table_args__ = (
        Index("ix_movements_part", "part_no", "id"),
        Index("ix_movements_warehouse_at", "warehouse_id", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    kind: Mapped[str] = mapped_column(String(20))
    part_no: Mapped[str] = mapped_column(String(40))
    warehouse_id: Mapped[str] = mapped_column(String(20))
    quantity: Mapped[int] = mapped_column(Integer)
    on_hand_change: Mapped[int] = mapped_column(Integer)
    reserved_change: Mapped[int] = mapped_column(Integer)
    request_no: Mapped[str | None] = mapped_column(String(20), index=True)
    reference: Mapped[str | None] = mapped_column(String(60))
    reason: Mapped[str | None] = mapped_column(String(500))
    actor: Mapped[str | None] = mapped_column(String(200))


class JobRow(Base):
    """What parts knows of a job from dispatch and intake, whatever order it arrived in."""

    __tablename__ = "jobs"

    request_no: Mapped[str] = mapped_column(String(20), primary_key=True)
    service_point_id: Mapped[str | None] = mapped_column(String(40))
    technician_id: Mapped[str | None] = mapped_column(String(60))
    on_site_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    completed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    cancelled_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class ReservationRow(Base):
    __tablename__ = "reservations"
    __table_args__ = (Index("ix_reservations_status_expiry", "status", "expires_at"),)

    reservation_id: Mapped[str] = mapped_column(String(30), primary_key=True)
    request_no: Mapped[str] = mapped_column(String(20), index=True)
    warehouse_id: Mapped[str] = mapped_column(String(20))
    priority: Mapped[str] = mapped_column(String(20))  # emergency, urgent, ordinary
    status: Mapped[str] = mapped_column(String(20))  # confirmed, backordered, issued, closed...
    technician_id: Mapped[str | None] = mapped_column(String(60))
    requested_at: Mapped[datetime] = mapped_column(UtcDateTime())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    close_reason: Mapped[str | None] = mapped_column(String(20))


class ReservationLineRow(Base):
    __tablename__ = "reservation_lines"
    __table_args__ = (
        Index("ix_reservation_lines_backorder", "part_no", "backordered"),
        CheckConstraint("reserved >= 0 AND backordered >= 0", name="ck_reservation_line_qty"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    reservation_id: Mapped[str] = mapped_column(
        ForeignKey("reservations.reservation_id"), index=True
    )
    part_no: Mapped[str] = mapped_column(String(40))
    requested: Mapped[int] = mapped_column(Integer)
    reserved: Mapped[int] = mapped_column(Integer, default=0)  # still held in the warehouse
    backordered: Mapped[int] = mapped_column(Integer, default=0)  # still waiting for stock
    issued: Mapped[int] = mapped_column(Integer, default=0)
    released: Mapped[int] = mapped_column(Integer, default=0)


class TechnicianHoldingRow(Base):
    """Parts issued for a job and not yet consumed or returned."""

    __tablename__ = "technician_holdings"
    __table_args__ = (UniqueConstraint("request_no", "part_no", "warehouse_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    request_no: Mapped[str] = mapped_column(String(20))
    part_no: Mapped[str] = mapped_column(String(40))
    warehouse_id: Mapped[str] = mapped_column(String(20))
    technician_id: Mapped[str | None] = mapped_column(String(60), index=True)
    issued: Mapped[int] = mapped_column(Integer, default=0)
    consumed: Mapped[int] = mapped_column(Integer, default=0)
    returned: Mapped[int] = mapped_column(Integer, default=0)


class EmergencyRow(Base):
    __tablename__ = "emergencies"

    emergency_no: Mapped[str] = mapped_column(String(20), primary_key=True)
    request_no: Mapped[str] = mapped_column(String(20), index=True)
    service_point_id: Mapped[str | None] = mapped_column(String(40))
    lines: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    reason: Mapped[str] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(20))  # requested, approved, rejected, shipped
    requested_by: Mapped[str] = mapped_column(String(200))
    requested_at: Mapped[datetime] = mapped_column(UtcDateTime())
    decided_by: Mapped[str | None] = mapped_column(String(200))
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    reservation_id: Mapped[str | None] = mapped_column(String(30))
    warehouse_id: Mapped[str | None] = mapped_column(String(20))
    carrier: Mapped[str | None] = mapped_column(String(100))
    tracking_no: Mapped[str | None] = mapped_column(String(100))
    shipped_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class ReplenishmentPlanRow(Base):
    __tablename__ = "replenishment_plans"

    plan_no: Mapped[str] = mapped_column(String(20), primary_key=True)
    warehouse_id: Mapped[str] = mapped_column(String(20), index=True)
    status: Mapped[str] = mapped_column(String(20))  # draft, submitted, filled
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    submitted_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    submitted_by: Mapped[str | None] = mapped_column(String(200))
    filled_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class ReplenishmentLineRow(Base):
    __tablename__ = "replenishment_lines"
    __table_args__ = (UniqueConstraint("plan_no", "part_no"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    plan_no: Mapped[str] = mapped_column(ForeignKey("replenishment_plans.plan_no"))
    part_no: Mapped[str] = mapped_column(String(40))
    quantity: Mapped[int] = mapped_column(Integer)
    received: Mapped[int] = mapped_column(Integer, default=0)
    suggested: Mapped[bool] = mapped_column(Boolean, default=False)


class ExpectedReturnRow(Base):
    """An old part replaced under warranty that must come back to the old-parts store."""

    __tablename__ = "expected_returns"
    __table_args__ = (
        UniqueConstraint("request_no", "part_no"),
        Index("ix_expected_returns_due", "status", "due_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    request_no: Mapped[str] = mapped_column(String(20))
    part_no: Mapped[str] = mapped_column(String(40))
    supplier_id: Mapped[str | None] = mapped_column(String(20))
    service_point_id: Mapped[str | None] = mapped_column(String(40))
    quantity_expected: Mapped[int] = mapped_column(Integer)
    serials_expected: Mapped[list[str]] = mapped_column(JSON, default=list)
    quantity_received: Mapped[int] = mapped_column(Integer, default=0)
    serials_received: Mapped[list[str]] = mapped_column(JSON, default=list)
    mismatches: Mapped[list[str]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(20))  # expected, received, mismatched
    due_at: Mapped[datetime] = mapped_column(UtcDateTime())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    received_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    overdue_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class CoreReceiptRow(Base):
    """Every old part handed in, matched or not (what quality checks against the list)."""

    __tablename__ = "core_receipts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    request_no: Mapped[str] = mapped_column(String(20), index=True)
    part_no: Mapped[str] = mapped_column(String(40))
    quantity: Mapped[int] = mapped_column(Integer)
    serials: Mapped[list[str]] = mapped_column(JSON, default=list)
    matched: Mapped[bool] = mapped_column(Boolean)
    mismatches: Mapped[list[str]] = mapped_column(JSON, default=list)
    received_by: Mapped[str] = mapped_column(String(200))
    received_at: Mapped[datetime] = mapped_column(UtcDateTime())


class SupplierCollectionRow(Base):
    __tablename__ = "supplier_collections"
    __table_args__ = (Index("ix_supplier_collections_due", "status", "due_at"),)

    collection_no: Mapped[str] = mapped_column(String(20), primary_key=True)
    recovery_no: Mapped[str] = mapped_column(String(40), unique=True)
    supplier_id: Mapped[str] = mapped_column(String(20))
    request_no: Mapped[str] = mapped_column(String(20))
    part_nos: Mapped[list[str]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(20))  # notified, collected, disposed, withdrawn
    notified_at: Mapped[datetime] = mapped_column(UtcDateTime())
    due_at: Mapped[datetime] = mapped_column(UtcDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    disposal_no: Mapped[str | None] = mapped_column(String(20))
    amount: Mapped[Decimal | None] = mapped_column(Money)


class CounterRow(Base):
    """Per-kind, per-year counters for gap-free numbers (EM-, RP-, SC-, DSP-)."""

    __tablename__ = "counters"

    kind: Mapped[str] = mapped_column(String(10), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    value: Mapped[int] = mapped_column(Integer)
