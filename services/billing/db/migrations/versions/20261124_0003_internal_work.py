"""Requests a manager marks as internal work (category D).

Revision ID: billing_0003
Revises: billing_0002
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "billing_0003"
down_revision: str | None = "billing_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("billing_requests") as batch:
        batch.add_column(
            sa.Column("internal", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(sa.Column("internal_by", sa.String(200)))


def downgrade() -> None:
    with op.batch_alter_table("billing_requests") as batch:
        batch.drop_column("internal_by")
        batch.drop_column("internal")
