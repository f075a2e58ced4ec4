"""Catalogue, warehouses, stock and its ledger, reservations, emergencies, replenishment,
old parts and supplier collections.

Revision ID: parts_0002
Revises: parts_0001
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "parts_0002"
down_revision: str | None = "parts_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "core_receipts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("request_no", sa.String(length=20), nullable=False),
        sa.Column("part_no", sa.String(length=40), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("serials", sa.JSON(), nullable=False),
        sa.Column("matched", sa.Boolean(), nullable=False),
        sa.Column("mismatches", sa.JSON(), nullable=False),
        sa.Column("received_by", sa.String(length=200), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("core_receipts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_core_receipts_request_no"), ["request_no"], unique=False
        )

    op.create_table(
        "counters",
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("value", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("kind", "year"),
    )
    op.create_table(
        "emergencies",
        sa.Column("emergency_no", sa.String(length=20), nullable=False),
        sa.Column("request_no", sa.String(length=20), nullable=False),
        sa.Column("service_point_id", sa.String(length=40), nullable=True),
        sa.Column("lines", sa.JSON(), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("requested_by", sa.String(length=200), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.String(length=200), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reservation_id", sa.String(length=30), nullable=True),
        sa.Column("warehouse_id", sa.String(length=20), nullable=True),
        sa.Column("carrier", sa.String(length=100), nullable=True),
        sa.Column("tracking_no", sa.String(length=100), nullable=True),
        sa.Column("shipped_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("emergency_no"),
    )
    with op.batch_alter_table("emergencies", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_emergencies_request_no"), ["request_no"], unique=False)

    op.create_table(
        "expected_returns",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("request_no", sa.String(length=20), nullable=False),
        sa.Column("part_no", sa.String(length=40), nullable=False),
        sa.Column("supplier_id", sa.String(length=20), nullable=True),
        sa.Column("service_point_id", sa.String(length=40), nullable=True),
        sa.Column("quantity_expected", sa.Integer(), nullable=False),
        sa.Column("serials_expected", sa.JSON(), nullable=False),
        sa.Column("quantity_received", sa.Integer(), nullable=False),
        sa.Column("serials_received", sa.JSON(), nullable=False),
        sa.Column("mismatches", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("overdue_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("request_no", "part_no"),
    )
    with op.batch_alter_table("expected_returns", schema=None) as batch_op:
        batch_op.create_index("ix_expected_returns_due", ["status", "due_at"], unique=False)

    op.create_table(
        "jobs",
        sa.Column("request_no", sa.String(length=20), nullable=False),
        sa.Column("service_point_id", sa.String(length=40), nullable=True),
        sa.Column("technician_id", sa.String(length=60), nullable=True),
        sa.Column("on_site_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("request_no"),
    )
    op.create_table(
        "movements",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("part_no", sa.String(length=40), nullable=False),
        sa.Column("warehouse_id", sa.String(length=20), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("on_hand_change", sa.Integer(), nullable=False),
        sa.Column("reserved_change", sa.Integer(), nullable=False),
        sa.Column("request_no", sa.String(length=20), nullable=True),
        sa.Column("reference", sa.String(length=60), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("actor", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("movements", schema=None) as batch_op:
        batch_op.create_index("ix_movements_part", ["part_no", "id"], unique=False)
        batch_op.create_index(batch_op.f("ix_movements_request_no"), ["request_no"], unique=False)
        batch_op.create_index("ix_movements_warehouse_at", ["warehouse_id", "at"], unique=False)

    op.create_table(
        "parts",
        sa.Column("part_no", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("fits_models", sa.JSON(), nullable=False),
        sa.Column("unit_cost", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("list_price", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("supplier_id", sa.String(length=20), nullable=True),
        sa.Column("genuine", sa.Boolean(), nullable=False),
        sa.Column("return_required", sa.Boolean(), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("part_no"),
    )
    op.create_table(
        "replenishment_plans",
        sa.Column("plan_no", sa.String(length=20), nullable=False),
        sa.Column("warehouse_id", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("submitted_by", sa.String(length=200), nullable=True),
        sa.Column("filled_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("plan_no"),
    )
    with op.batch_alter_table("replenishment_plans", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_replenishment_plans_warehouse_id"), ["warehouse_id"], unique=False
        )

    op.create_table(
        "reservations",
        sa.Column("reservation_id", sa.String(length=30), nullable=False),
        sa.Column("request_no", sa.String(length=20), nullable=False),
        sa.Column("warehouse_id", sa.String(length=20), nullable=False),
        sa.Column("priority", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("technician_id", sa.String(length=60), nullable=True),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("close_reason", sa.String(length=20), nullable=True),
        sa.PrimaryKeyConstraint("reservation_id"),
    )
    with op.batch_alter_table("reservations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_reservations_request_no"), ["request_no"], unique=False
        )
        batch_op.create_index(
            "ix_reservations_status_expiry", ["status", "expires_at"], unique=False
        )

    op.create_table(
        "stock",
        sa.Column("part_no", sa.String(length=40), nullable=False),
        sa.Column("warehouse_id", sa.String(length=20), nullable=False),
        sa.Column("on_hand", sa.Integer(), nullable=False),
        sa.Column("reserved", sa.Integer(), nullable=False),
        sa.Column("reorder_point", sa.Integer(), nullable=True),
        sa.Column("reorder_quantity", sa.Integer(), nullable=True),
        sa.Column("low", sa.Boolean(), nullable=False),
        sa.CheckConstraint("on_hand >= 0", name="ck_stock_on_hand_not_negative"),
        sa.CheckConstraint("reserved <= on_hand", name="ck_stock_reserved_within_on_hand"),
        sa.CheckConstraint("reserved >= 0", name="ck_stock_reserved_not_negative"),
        sa.PrimaryKeyConstraint("part_no", "warehouse_id"),
    )
    op.create_table(
        "supplier_collections",
        sa.Column("collection_no", sa.String(length=20), nullable=False),
        sa.Column("recovery_no", sa.String(length=40), nullable=False),
        sa.Column("supplier_id", sa.String(length=20), nullable=False),
        sa.Column("request_no", sa.String(length=20), nullable=False),
        sa.Column("part_nos", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("notified_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("disposal_no", sa.String(length=20), nullable=True),
        sa.Column("amount", sa.Numeric(precision=12, scale=2), nullable=True),
        sa.PrimaryKeyConstraint("collection_no"),
        sa.UniqueConstraint("recovery_no"),
    )
    with op.batch_alter_table("supplier_collections", schema=None) as batch_op:
        batch_op.create_index("ix_supplier_collections_due", ["status", "due_at"], unique=False)

    op.create_table(
        "suppliers",
        sa.Column("supplier_id", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("contact", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("supplier_id"),
    )
    op.create_table(
        "technician_holdings",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("request_no", sa.String(length=20), nullable=False),
        sa.Column("part_no", sa.String(length=40), nullable=False),
        sa.Column("warehouse_id", sa.String(length=20), nullable=False),
        sa.Column("technician_id", sa.String(length=60), nullable=True),
        sa.Column("issued", sa.Integer(), nullable=False),
        sa.Column("consumed", sa.Integer(), nullable=False),
        sa.Column("returned", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("request_no", "part_no", "warehouse_id"),
    )
    with op.batch_alter_table("technician_holdings", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_technician_holdings_technician_id"), ["technician_id"], unique=False
        )

    op.create_table(
        "warehouses",
        sa.Column("warehouse_id", sa.String(length=20), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("service_point_id", sa.String(length=40), nullable=True),
        sa.PrimaryKeyConstraint("warehouse_id"),
        sa.UniqueConstraint("service_point_id"),
    )
    op.create_table(
        "replenishment_lines",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("plan_no", sa.String(length=20), nullable=False),
        sa.Column("part_no", sa.String(length=40), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("received", sa.Integer(), nullable=False),
        sa.Column("suggested", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["plan_no"],
            ["replenishment_plans.plan_no"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("plan_no", "part_no"),
    )
    op.create_table(
        "reservation_lines",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("reservation_id", sa.String(length=30), nullable=False),
        sa.Column("part_no", sa.String(length=40), nullable=False),
        sa.Column("requested", sa.Integer(), nullable=False),
        sa.Column("reserved", sa.Integer(), nullable=False),
        sa.Column("backordered", sa.Integer(), nullable=False),
        sa.Column("issued", sa.Integer(), nullable=False),
        sa.Column("released", sa.Integer(), nullable=False),
        sa.CheckConstraint("reserved >= 0 AND backordered >= 0", name="ck_reservation_line_qty"),
        sa.ForeignKeyConstraint(
            ["reservation_id"],
            ["reservations.reservation_id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("reservation_lines", schema=None) as batch_op:
        batch_op.create_index(
            "ix_reservation_lines_backorder", ["part_no", "backordered"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_reservation_lines_reservation_id"), ["reservation_id"], unique=False
        )


def downgrade() -> None:

    with op.batch_alter_table("reservation_lines", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reservation_lines_reservation_id"))
        batch_op.drop_index("ix_reservation_lines_backorder")

    op.drop_table("reservation_lines")
    op.drop_table("replenishment_lines")
    op.drop_table("warehouses")
    with op.batch_alter_table("technician_holdings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_technician_holdings_technician_id"))

    op.drop_table("technician_holdings")
    op.drop_table("suppliers")
    with op.batch_alter_table("supplier_collections", schema=None) as batch_op:
        batch_op.drop_index("ix_supplier_collections_due")

    op.drop_table("supplier_collections")
    op.drop_table("stock")
    with op.batch_alter_table("reservations", schema=None) as batch_op:
        batch_op.drop_index("ix_reservations_status_expiry")
        batch_op.drop_index(batch_op.f("ix_reservations_request_no"))

    op.drop_table("reservations")
    with op.batch_alter_table("replenishment_plans", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_replenishment_plans_warehouse_id"))

    op.drop_table("replenishment_plans")
    op.drop_table("parts")
    with op.batch_alter_table("movements", schema=None) as batch_op:
        batch_op.drop_index("ix_movements_warehouse_at")
        batch_op.drop_index(batch_op.f("ix_movements_request_no"))
        batch_op.drop_index("ix_movements_part")

    op.drop_table("movements")
    op.drop_table("jobs")
    with op.batch_alter_table("expected_returns", schema=None) as batch_op:
        batch_op.drop_index("ix_expected_returns_due")

    op.drop_table("expected_returns")
    with op.batch_alter_table("emergencies", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_emergencies_request_no"))

    op.drop_table("emergencies")
    op.drop_table("counters")
    with op.batch_alter_table("core_receipts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_core_receipts_request_no"))

    op.drop_table("core_receipts")
