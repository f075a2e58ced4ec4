"""A supplier recovery's history (reissues, corrections, withdrawal), and what triage knew of
a request (for workshop returns, whose report lacks the purchase date).

Revision ID: claims_0007
Revises: claims_0006
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "claims_0007"
down_revision: str | None = "claims_0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("supplier_recoveries") as batch:
        batch.add_column(sa.Column("history", sa.JSON, nullable=False, server_default="[]"))
    op.create_table(
        "request_facts",
        sa.Column("request_no", sa.String(20), primary_key=True),
        sa.Column("product_line", sa.String(50)),
        sa.Column("purchase_date", sa.Date),
        sa.Column("in_warranty", sa.Boolean),
        sa.Column("dealer_id", sa.String(20)),
        sa.Column("triaged_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("request_facts")
    with op.batch_alter_table("supplier_recoveries") as batch:
        batch.drop_column("history")
