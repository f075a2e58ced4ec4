"""Warranty claims and their numbers.

Revision ID: claims_0002
Revises: claims_0001
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "claims_0002"
down_revision: str | None = "claims_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "warranty_claims",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("claim_no", sa.String(20), nullable=False, unique=True),
        sa.Column("request_no", sa.String(20), nullable=False, unique=True),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("dealer_id", sa.String(20)),
        sa.Column("serial_no", sa.String(100), nullable=False),
        sa.Column("product_model", sa.String(100), nullable=False),
        sa.Column("purchase_date", sa.Date),
        sa.Column("in_warranty_at_intake", sa.Boolean),
        sa.Column("cause", sa.String(30), nullable=False),
        sa.Column("fault_description", sa.Text, nullable=False),
        sa.Column("fault_code", sa.String(50)),
        sa.Column("repaired_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("labour_hours", sa.Numeric(8, 2), nullable=False),
        sa.Column("travel_km", sa.Numeric(9, 1), nullable=False),
        sa.Column("parts", sa.JSON, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_warranty_claims_dealer_id", "warranty_claims", ["dealer_id"])
    op.create_table(
        "claim_number_counters",
        sa.Column("year", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("last_sequence", sa.Integer, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("claim_number_counters")
    op.drop_table("warranty_claims")
