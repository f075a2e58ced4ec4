"""Jobs: the visits requests need.

Revision ID: dispatch_0002
Revises: dispatch_0001
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "dispatch_0002"
down_revision: str | None = "dispatch_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "jobs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("request_no", sa.String(20), nullable=False, unique=True),
        sa.Column("kind", sa.String(30), nullable=False),
        sa.Column("severity", sa.String(20), nullable=False),
        sa.Column("required_skill", sa.String(100)),
        sa.Column("product_model", sa.String(100), nullable=False),
        sa.Column("serial_no", sa.String(100), nullable=False),
        sa.Column("customer_name", sa.String(200), nullable=False),
        sa.Column("customer_phone", sa.String(50), nullable=False),
        sa.Column("address", sa.String(500)),
        sa.Column("region", sa.String(100)),
        sa.Column("response_due_at", sa.DateTime(timezone=True)),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("cancel_reason", sa.Text),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_jobs_status_due", "jobs", ["status", "response_due_at"])


def downgrade() -> None:
    op.drop_table("jobs")
