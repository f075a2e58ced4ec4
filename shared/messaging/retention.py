"""Forgetting what no longer needs keeping: published outbox rows, handled-message ids."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.db.messaging_tables import inbox, outbox


async def purge_published_outbox(
    sessions: async_sessionmaker[AsyncSession], older_than: timedelta
) -> int:
    """Delete rows published before ``older_than`` ago; pending rows are kept however old."""
    cutoff = datetime.now(UTC) - older_than
    async with sessions() as session:
        result = await session.execute(
            delete(outbox).where(outbox.c.published_at.is_not(None), outbox.c.published_at < cutoff)
        )
        await session.commit()
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def purge_handled_inbox(
    sessions: async_sessionmaker[AsyncSession], older_than: timedelta
) -> int:
    """Delete inbox ids handled before ``older_than`` ago: longer than any redelivery takes."""
    cutoff = datetime.now(UTC) - older_than
    async with sessions() as session:
        result = await session.execute(delete(inbox).where(inbox.c.handled_at < cutoff))
        await session.commit()
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
