"""Satisfaction surveys.

Revision ID: intake_0004
Revises: intake_0003
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "intake_0004"
down_revision: str | None = "intake_0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "surveys",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("request_no", sa.String(20), nullable=False, unique=True),
        sa.Column("link_token_hash", sa.String(64), unique=True),
        sa.Column("score", sa.Integer),
        sa.Column("comment", sa.Text),
        sa.Column("channel", sa.String(10)),
        sa.Column("dealer_id", sa.String(20)),
        sa.Column("recorded_at", sa.DateTime(timezone=True)),
        sa.Column("recorded_by", sa.String(200)),
    )


def downgrade() -> None:
    op.drop_table("surveys")
