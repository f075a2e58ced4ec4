"""Incoming requests, outbox and inbox.

Revision ID: dispatch_0001
Revises:
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from shared.db.messaging_migration import create_messaging_tables_v1, drop_messaging_tables_v1

revision: str = "dispatch_0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_messaging_tables_v1()
    op.create_table(
        "incoming_requests",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("request_no", sa.String(20), nullable=False, unique=True),
        sa.Column("customer_name", sa.String(200), nullable=False),
        sa.Column("product_model", sa.String(100), nullable=False),
        sa.Column("fault_description", sa.Text, nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("correlation_id", sa.String(100), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("incoming_requests")
    drop_messaging_tables_v1()
