"""How billing recovers from each supplier: chargeback or deduction.

Revision ID: claims_0004
Revises: claims_0003
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "claims_0004"
down_revision: str | None = "claims_0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("suppliers") as batch:
        batch.add_column(
            sa.Column("settle_by", sa.String(20), nullable=False, server_default="chargeback")
        )


def downgrade() -> None:
    with op.batch_alter_table("suppliers") as batch:
        batch.drop_column("settle_by")
