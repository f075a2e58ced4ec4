"""Published outbox rows and handled-message ids are forgotten after their retention; what is
still pending, or recent, is kept."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import insert, select

from services.dispatch.app import DEFINITION as DISPATCH
from shared.db.engine import create_engine, create_session_factory
from shared.db.messaging_tables import inbox, outbox
from shared.messaging.retention import purge_handled_inbox, purge_published_outbox
from tests.support.databases import DatabaseFactory


def _outbox_row(n: int, created: datetime, published: datetime | None) -> dict[str, object]:
    return {
        "event_id": f"00000000-0000-0000-0000-{n:012d}",
        "event_type": "intake.request.registered",
        "routing_key": "intake.request.registered.v1",
        "envelope": "{}",
        "correlation_id": "retention",
        "created_at": created,
        "next_attempt_at": created,
        "attempts": 0,
        "published_at": published,
    }


async def test_old_published_events_and_old_inbox_ids_are_purged(
    databases: DatabaseFactory,
) -> None:
    url = await databases.migrated(DISPATCH.migrations_dir, "dispatch")
    now = datetime.now(UTC)
    old = now - timedelta(days=40)
    engine = create_engine(url)
    sessions = create_session_factory(engine)
    try:
        async with sessions() as session:
            await session.execute(
                insert(outbox),
                [
                    _outbox_row(1, old, old),  # published long ago: goes
                    _outbox_row(2, old, None),  # never published: stays, however old
                    _outbox_row(3, now, now),  # published just now: stays
                ],
            )
            await session.execute(
                insert(inbox),
                [
                    {
                        "consumer": "dispatch",
                        "message_id": "old",
                        "event_type": "x",
                        "handled_at": old,
                    },
                    {
                        "consumer": "dispatch",
                        "message_id": "new",
                        "event_type": "x",
                        "handled_at": now,
                    },
                ],
            )
            await session.commit()

        assert await purge_published_outbox(sessions, timedelta(hours=24)) == 1
        assert await purge_handled_inbox(sessions, timedelta(days=30)) == 1

        async with sessions() as session:
            kept = (await session.execute(select(outbox.c.event_id))).scalars().all()
            handled = (await session.execute(select(inbox.c.message_id))).scalars().all()
    finally:
        await engine.dispose()
    assert sorted(kept) == [
        "00000000-0000-0000-0000-000000000002",
        "00000000-0000-0000-0000-000000000003",
    ]
    assert handled == ["new"]
