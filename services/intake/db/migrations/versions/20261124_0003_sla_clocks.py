"""SLA clocks of service requests.

Revision ID: intake_0003
Revises: intake_0002
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "intake_0003"
down_revision: str | None = "intake_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sla_clocks",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("request_no", sa.String(20), nullable=False),
        sa.Column("target", sa.String(50), nullable=False),
        sa.Column("basis", sa.String(20), nullable=False),
        sa.Column("duration_seconds", sa.Integer, nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("pauses", sa.JSON, nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True)),
        sa.Column("met_at", sa.DateTime(timezone=True)),
        sa.Column("breached_at", sa.DateTime(timezone=True)),
        sa.UniqueConstraint("request_no", "target", name="uq_sla_clocks_request_target"),
    )
    op.create_index("ix_sla_clocks_open_due", "sla_clocks", ["met_at", "breached_at", "due_at"])


def downgrade() -> None:
    op.drop_table("sla_clocks")
