"""Service requests, request numbers, outbox and inbox.

Revision ID: intake_0001
Revises:
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from shared.db.messaging_migration import create_messaging_tables_v1, drop_messaging_tables_v1

revision: str = "intake_0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_messaging_tables_v1()
    op.create_table(
        "service_requests",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("request_no", sa.String(20), nullable=False, unique=True),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("customer_name", sa.String(200), nullable=False),
        sa.Column("customer_phone", sa.String(50), nullable=False),
        sa.Column("product_model", sa.String(100), nullable=False),
        sa.Column("serial_no", sa.String(100), nullable=False),
        sa.Column("fault_description", sa.Text, nullable=False),
        sa.Column("status", sa.String(30), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "request_number_counters",
        sa.Column("year", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("last_sequence", sa.Integer, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("request_number_counters")
    op.drop_table("service_requests")
    drop_messaging_tables_v1()
