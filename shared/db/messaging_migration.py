"""The outbox and inbox as Alembic operations, for each service's first migration.

Frozen: a later change to these tables is a new function used by a new migration, so that
a service's migration history never changes under it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


def create_messaging_tables_v1() -> None:
    op.create_table(
        "outbox",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer, "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("event_id", sa.String(36), nullable=False, unique=True),
        sa.Column("event_type", sa.String(200), nullable=False),
        sa.Column("routing_key", sa.String(255), nullable=False),
        sa.Column("envelope", sa.Text, nullable=False),
        sa.Column("correlation_id", sa.String(100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("last_error", sa.Text),
        sa.Column("published_at", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_outbox_pending", "outbox", ["published_at", "next_attempt_at"])
    op.create_table(
        "inbox",
        sa.Column("consumer", sa.String(100), primary_key=True),
        sa.Column("message_id", sa.String(100), primary_key=True),
        sa.Column("event_type", sa.String(200), nullable=False),
        sa.Column("handled_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_inbox_handled_at", "inbox", ["handled_at"])


def drop_messaging_tables_v1() -> None:
    op.drop_table("inbox")
    op.drop_table("outbox")
