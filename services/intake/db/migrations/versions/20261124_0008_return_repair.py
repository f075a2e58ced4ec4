"""The workshop's repair report on a return that passed inspection.

Revision ID: intake_0008
Revises: intake_0007
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "intake_0008"
down_revision: str | None = "intake_0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("returns_for_repair") as batch:
        batch.add_column(sa.Column("repair", sa.JSON()))


def downgrade() -> None:
    with op.batch_alter_table("returns_for_repair") as batch:
        batch.drop_column("repair")
