"""A technician's van as a warehouse of its own.

Revision ID: parts_0003
Revises: parts_0002
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "parts_0003"
down_revision: str | None = "parts_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("warehouses") as batch:
        batch.add_column(sa.Column("technician_id", sa.String(length=60), nullable=True))
        batch.create_unique_constraint("uq_warehouses_technician_id", ["technician_id"])


def downgrade() -> None:
    with op.batch_alter_table("warehouses") as batch:
        batch.drop_constraint("uq_warehouses_technician_id", type_="unique")
        batch.drop_column("technician_id")
