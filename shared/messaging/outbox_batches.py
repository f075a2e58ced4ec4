"""The relay's transaction on the outbox: take the due rows, oldest first and locked (another
relay skips them, ``FOR UPDATE SKIP LOCKED`` on PostgreSQL), then mark those the broker
confirmed and postpone those it refused, and commit — or, on any error, roll back so that
every row stays as it was.

On PostgreSQL with asyncpg the transaction runs on the driver itself, on a connection of the
engine's pool: a pass through SQLAlchemy's session cost ~410 µs of CPU for its four round
trips (``BEGIN``, select, update, ``COMMIT``), the same statements through asyncpg ~230 µs
(bench/README.md); with one pass per commit that woke the relay, this is paid per dealer
report. Elsewhere (SQLite) through SQLAlchemy.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import datetime
from typing import Any, NamedTuple, Protocol

import asyncpg
from sqlalchemy import Select, bindparam, null, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from shared.db.messaging_tables import outbox


class DueRow(NamedTuple):
    id: int
    event_id: str
    event_type: str
    routing_key: str
    envelope: str
    correlation_id: str
    attempts: int
    created_at: datetime
    # The transaction that wrote the row version (PostgreSQL's ``xmin``); None elsewhere.
    written_by: int | None

    @property
    def transaction(self) -> tuple[int, datetime] | None:
        """What identifies the transaction that committed the row, when that is known: the
        writing transaction's id, and the time every row of one ``add_all_to_outbox``
        shares. A row the relay postponed was rewritten by the relay (``attempts`` > 0):
        unknown."""
        if self.written_by is None or self.attempts:
            return None
        return (self.written_by, self.created_at)


class OutboxBatch(Protocol):
    @property
    def rows(self) -> Sequence[DueRow]: ...

    async def mark_published(self, ids: list[int], at: datetime) -> None: ...

    async def postpone(
        self, row_id: int, attempts: int, error: str, next_attempt_at: datetime
    ) -> None: ...


DueBatches = Callable[[datetime], AbstractAsyncContextManager[OutboxBatch]]


def due_batches(sessions: async_sessionmaker[AsyncSession], batch_size: int) -> DueBatches:
    """``async with batches(now) as batch``: the due rows of one transaction, which commits
    when the block ends without an error."""
    engine = sessions.kw.get("bind")
    if (
        isinstance(engine, AsyncEngine)
        and engine.dialect.name == "postgresql"
        and engine.dialect.driver == "asyncpg"
    ):
        return _AsyncpgBatches(engine, batch_size).due
    return _SessionBatches(sessions, batch_size).due


# The statements below are those of ``_SessionBatches`` written out for asyncpg, on the
# columns of ``shared.db.messaging_tables.outbox``.
_DUE = (
    "SELECT id, event_id, event_type, routing_key, envelope, correlation_id, attempts,"
    " created_at, xmin FROM outbox WHERE published_at IS NULL AND next_attempt_at <= $1"
    " ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED"
)
# The ids as one array: one prepared statement whatever the number of rows.
_MARK_PUBLISHED = "UPDATE outbox SET published_at = $2 WHERE id = ANY($1::bigint[])"
_POSTPONE = "UPDATE outbox SET attempts = $2, last_error = $3, next_attempt_at = $4 WHERE id = $1"


class _AsyncpgBatch:
    def __init__(self, driver: asyncpg.Connection, rows: list[DueRow]) -> None:
        self._driver = driver
        self.rows = rows

    async def mark_published(self, ids: list[int], at: datetime) -> None:
        await self._driver.execute(_MARK_PUBLISHED, ids, at)

    async def postpone(
        self, row_id: int, attempts: int, error: str, next_attempt_at: datetime
    ) -> None:
        await self._driver.execute(_POSTPONE, row_id, attempts, error, next_attempt_at)


class _AsyncpgBatches:
    def __init__(self, engine: AsyncEngine, batch_size: int) -> None:
        self._engine = engine
        self._batch_size = batch_size

    @asynccontextmanager
    async def due(self, now: datetime) -> AsyncIterator[OutboxBatch]:
        # SQLAlchemy lends the connection and takes it back (pinged first if it was idle);
        # it has begun no transaction on it, so the driver's own is the only one, and it is
        # over, committed or rolled back, before the connection goes back to the pool.
        async with self._engine.connect() as connection:
            driver = (await connection.get_raw_connection()).driver_connection
            assert isinstance(driver, asyncpg.Connection)
            try:
                async with driver.transaction():
                    rows = await driver.fetch(_DUE, now, self._batch_size)
                    yield _AsyncpgBatch(driver, [DueRow(*row) for row in rows])
            except BaseException:
                if driver.is_closed():
                    # The server went away under it: not back into the pool.
                    await connection.invalidate()
                raise


def _due(batch_size: int) -> Select[Any]:
    return (
        select(
            outbox.c.id,
            outbox.c.event_id,
            outbox.c.event_type,
            outbox.c.routing_key,
            outbox.c.envelope,
            outbox.c.correlation_id,
            outbox.c.attempts,
            outbox.c.created_at,
            null(),  # no transaction ids here: no x-transaction-events header
        )
        .where(outbox.c.published_at.is_(None), outbox.c.next_attempt_at <= bindparam("now"))
        .order_by(outbox.c.id)
        .limit(batch_size)
        .with_for_update(skip_locked=True)
    )


_MARK_PUBLISHED_IN = (
    update(outbox)
    .where(outbox.c.id.in_(bindparam("ids", expanding=True)))
    .values(published_at=bindparam("now"))
)
_POSTPONE_ROW = (
    update(outbox)
    .where(outbox.c.id == bindparam("row_id"))
    .values(
        attempts=bindparam("attempts"),
        last_error=bindparam("error"),
        next_attempt_at=bindparam("next_attempt_at"),
    )
)


class _SessionBatch:
    def __init__(self, session: AsyncSession, rows: list[DueRow]) -> None:
        self._session = session
        self.rows = rows

    async def mark_published(self, ids: list[int], at: datetime) -> None:
        await self._session.execute(_MARK_PUBLISHED_IN, {"ids": ids, "now": at})

    async def postpone(
        self, row_id: int, attempts: int, error: str, next_attempt_at: datetime
    ) -> None:
        await self._session.execute(
            _POSTPONE_ROW,
            {
                "row_id": row_id,
                "attempts": attempts,
                "error": error,
                "next_attempt_at": next_attempt_at,
            },
        )


class _SessionBatches:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], batch_size: int) -> None:
        self._sessions = sessions
        # Built once: a statement built per pass costs more CPU than its round trip.
        self._due = _due(batch_size)

    @asynccontextmanager
    async def due(self, now: datetime) -> AsyncIterator[OutboxBatch]:
        async with self._sessions() as session:
            result = await session.execute(self._due, {"now": now})
            yield _SessionBatch(session, [DueRow(*row) for row in result.all()])
            await session.commit()
