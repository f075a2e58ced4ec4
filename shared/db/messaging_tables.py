"""The outbox and inbox tables every service keeps in its own database."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

from shared.db.types import UtcDateTime

messaging_metadata = MetaData()

# One row per event to publish, written in the transaction that changed the state.
outbox = Table(
    "outbox",
    messaging_metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("event_id", String(36), nullable=False, unique=True),
    Column("event_type", String(200), nullable=False),
    Column("routing_key", String(255), nullable=False),
    Column("envelope", Text, nullable=False),
    Column("correlation_id", String(100), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("next_attempt_at", UtcDateTime(), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("last_error", Text),
    Column("published_at", UtcDateTime()),
    Index("ix_outbox_pending", "published_at", "next_attempt_at"),
)

# One row per handled message, written in the handler's transaction: a redelivered message
# finds its row and is acknowledged without a second effect.
inbox = Table(
    "inbox",
    messaging_metadata,
    Column("consumer", String(100), primary_key=True),
    Column("message_id", String(100), primary_key=True),
    Column("event_type", String(200), nullable=False),
    Column("handled_at", UtcDateTime(), nullable=False, index=True),
)
