"""Dealer statements are payables: issued until paid, with the payment made.

Revision ID: billing_0004
Revises: billing_0003
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from shared.db.types import UtcDateTime

revision: str = "billing_0004"
down_revision: str | None = "billing_0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MONEY = sa.Numeric(14, 2)


def upgrade() -> None:
    with op.batch_alter_table("dealer_statements") as batch:
        batch.add_column(
            sa.Column("status", sa.String(20), nullable=False, server_default="issued")
        )
        batch.add_column(sa.Column("paid_at", UtcDateTime()))
        batch.create_index("ix_dealer_statements_status", ["status"])
    op.create_table(
        "dealer_payments",
        sa.Column("payment_no", sa.String(20), primary_key=True),
        sa.Column("statement_no", sa.String(20), nullable=False, unique=True),
        sa.Column("dealer_id", sa.String(50), nullable=False),
        sa.Column("amount", MONEY, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("method", sa.String(20), nullable=False),
        sa.Column("bank_reference", sa.String(100)),
        sa.Column("paid_by", sa.String(200), nullable=False),
        sa.Column("paid_at", UtcDateTime(), nullable=False),
    )
    op.create_index("ix_dealer_payments_dealer_id", "dealer_payments", ["dealer_id"])


def downgrade() -> None:
    op.drop_index("ix_dealer_payments_dealer_id", "dealer_payments")
    op.drop_table("dealer_payments")
    with op.batch_alter_table("dealer_statements") as batch:
        batch.drop_index("ix_dealer_statements_status")
        batch.drop_column("paid_at")
        batch.drop_column("status")
