"""One account row per supplier and currency, locked by every entry of the supplier payables
ledger, so that concurrent payments and deductions queue on it.

Revision ID: billing_0006
Revises: billing_0005
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "billing_0006"
down_revision: str | None = "billing_0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "supplier_accounts",
        sa.Column("supplier_id", sa.String(50), primary_key=True),
        sa.Column("currency", sa.String(3), primary_key=True),
    )
    # Rows are also created on first use; these are only for suppliers already in the ledger.
    op.execute(
        "INSERT INTO supplier_accounts (supplier_id, currency) "
        "SELECT DISTINCT supplier_id, currency FROM supplier_ledger_entries"
    )


def downgrade() -> None:
    op.drop_table("supplier_accounts")
