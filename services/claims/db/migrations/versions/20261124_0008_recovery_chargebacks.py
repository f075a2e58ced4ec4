"""Every chargeback billing issued for a supplier recovery: billing charges again (same
recovery, new chargeback number) after a correction, and its events may come in any order.

Revision ID: claims_0008
Revises: claims_0007
Create Date: 2026-11-24
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "claims_0008"
down_revision: str | None = "claims_0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _iso(moment: datetime | str | None) -> str | None:
    """SQLite hands back text, PostgreSQL a datetime (naive or not: stored as UTC)."""
    if moment is None:
        return None
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC).isoformat()


def upgrade() -> None:
    with op.batch_alter_table("supplier_recoveries") as batch:
        batch.add_column(sa.Column("chargebacks", sa.JSON, nullable=False, server_default="[]"))
    recoveries = sa.table(
        "supplier_recoveries",
        sa.column("id", sa.Integer),
        sa.column("chargeback_no", sa.String),
        sa.column("settle_by", sa.String),
        sa.column("total", sa.Numeric(12, 2)),
        sa.column("finalized_at", sa.DateTime(timezone=True)),
        sa.column("chargebacks", sa.JSON),
    )
    bind = op.get_bind()
    billed = bind.execute(
        sa.select(
            recoveries.c.id,
            recoveries.c.chargeback_no,
            recoveries.c.settle_by,
            recoveries.c.total,
            recoveries.c.finalized_at,
        ).where(recoveries.c.chargeback_no.is_not(None))
    ).all()
    # Only the last chargeback was kept: its issue time was not, the finalisation is the
    # closest known (billing charges when the recovery becomes final).
    for id_, chargeback_no, settle_by, total, finalized_at in billed:
        bind.execute(
            recoveries.update()
            .where(recoveries.c.id == id_)
            .values(
                chargebacks=[
                    {
                        "chargeback_no": chargeback_no,
                        "total": None if total is None else str(total),
                        "settle_by": settle_by,
                        "issued_at": _iso(finalized_at),
                    }
                ]
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("supplier_recoveries") as batch:
        batch.drop_column("chargebacks")
