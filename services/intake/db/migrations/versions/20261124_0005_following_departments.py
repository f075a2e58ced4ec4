"""Following the other departments: the assigned technician, quality alerts by model.

Revision ID: intake_0005
Revises: intake_0004
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "intake_0005"
down_revision: str | None = "intake_0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("service_requests") as table:
        table.add_column(sa.Column("technician_id", sa.String(50)))
        table.add_column(sa.Column("technician_name", sa.String(200)))
        table.add_column(sa.Column("technician_assigned_at", sa.DateTime(timezone=True)))
    op.create_table(
        "quality_alerts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("product_model", sa.String(100), nullable=False),
        sa.Column("fault_code", sa.String(50), nullable=False),
        sa.Column("quarter", sa.String(7), nullable=False),
        sa.Column("count", sa.Integer, nullable=False),
        sa.Column("threshold", sa.Integer, nullable=False),
        sa.Column("raised_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint(
            "product_model", "fault_code", "quarter", name="uq_quality_alerts_model_code_quarter"
        ),
    )


def downgrade() -> None:
    op.drop_table("quality_alerts")
    with op.batch_alter_table("service_requests") as table:
        table.drop_column("technician_assigned_at")
        table.drop_column("technician_name")
        table.drop_column("technician_id")
