"""The complaints register.

Revision ID: intake_0006
Revises: intake_0005
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "intake_0006"
down_revision: str | None = "intake_0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "complaints",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("complaint_no", sa.String(20), nullable=False, unique=True),
        sa.Column("request_no", sa.String(20), nullable=False, unique=True),
        sa.Column("product_model", sa.String(100), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("cause", sa.String(30), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("steps", sa.JSON, nullable=False),
        sa.Column("result", sa.Text),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reported_at", sa.DateTime(timezone=True)),
        sa.Column("resolved_at", sa.DateTime(timezone=True)),
        sa.Column("opened_by", sa.String(200)),
    )
    op.create_index("ix_complaints_received", "complaints", ["received_at"])


def downgrade() -> None:
    op.drop_index("ix_complaints_received", "complaints")
    op.drop_table("complaints")
