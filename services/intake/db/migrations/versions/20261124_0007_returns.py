"""Return-for-repair.

Revision ID: intake_0007
Revises: intake_0006
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "intake_0007"
down_revision: str | None = "intake_0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "returns_for_repair",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("return_no", sa.String(20), nullable=False, unique=True),
        sa.Column("request_no", sa.String(20), nullable=False, unique=True),
        sa.Column("product_model", sa.String(100), nullable=False),
        sa.Column("serial_no", sa.String(100), nullable=False),
        sa.Column("in_warranty", sa.Boolean),
        sa.Column("condition", sa.Text, nullable=False),
        sa.Column("accessories", sa.JSON, nullable=False),
        sa.Column("status", sa.String(30), nullable=False),
        sa.Column("location", sa.String(200)),
        sa.Column("repair_rounds", sa.Integer, nullable=False),
        sa.Column("carrier", sa.String(100)),
        sa.Column("tracking_no", sa.String(100)),
        sa.Column("shipping_cost", sa.Numeric(12, 2)),
        sa.Column("history", sa.JSON, nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("shipped_at", sa.DateTime(timezone=True)),
        sa.Column("confirmed_at", sa.DateTime(timezone=True)),
    )


def downgrade() -> None:
    op.drop_table("returns_for_repair")
