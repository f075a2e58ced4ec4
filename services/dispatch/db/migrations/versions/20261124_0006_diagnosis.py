"""The technician's diagnosis on site (cause, fault code, findings), before any repair.

Revision ID: dispatch_0006
Revises: dispatch_0005
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "dispatch_0006"
down_revision: str | None = "dispatch_0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("diagnosis", sa.JSON()))


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("diagnosis")
