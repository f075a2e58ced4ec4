"""Other losses entered by staff (with a reason), the failed units a supplier's assessment
counts, a correction a final recovery needs, and the claimant's dispute deadline.

Revision ID: claims_0005
Revises: claims_0004
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "claims_0005"
down_revision: str | None = "claims_0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("supplier_recoveries") as batch:
        batch.add_column(
            sa.Column("failed_units", sa.Integer(), nullable=False, server_default="1")
        )
        batch.add_column(sa.Column("assessment_per_unit", sa.Numeric(10, 2), nullable=True))
        batch.add_column(
            sa.Column("other_entered", sa.Numeric(12, 2), nullable=False, server_default="0")
        )
        batch.add_column(sa.Column("other_reason", sa.Text(), nullable=True))
        batch.add_column(sa.Column("correction_needed", sa.Text(), nullable=True))
        batch.add_column(
            sa.Column("correction_noted_at", sa.DateTime(timezone=True), nullable=True)
        )
    with op.batch_alter_table("warranty_claims") as batch:
        batch.add_column(sa.Column("dispute_deadline", sa.Date(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("warranty_claims") as batch:
        batch.drop_column("dispute_deadline")
    with op.batch_alter_table("supplier_recoveries") as batch:
        for column in (
            "correction_noted_at",
            "correction_needed",
            "other_reason",
            "other_entered",
            "assessment_per_unit",
            "failed_units",
        ):
            batch.drop_column(column)
