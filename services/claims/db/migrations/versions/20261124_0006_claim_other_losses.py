"""Other losses staff enter on a claim for a supplier before its recovery is issued.

Revision ID: claims_0006
Revises: claims_0005
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "claims_0006"
down_revision: str | None = "claims_0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("warranty_claims") as batch:
        batch.add_column(sa.Column("other_losses", sa.JSON, nullable=False, server_default="{}"))


def downgrade() -> None:
    with op.batch_alter_table("warranty_claims") as batch:
        batch.drop_column("other_losses")
