"""The statements a transaction runs, as the database gets them: through SQLAlchemy, and
those asyncpg runs itself (``shared.db.prepared``; each passes its error translation once)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from shared.db import prepared
from shared.db.unit_of_work import UnitOfWork


async def statements_of(
    engine: AsyncEngine,
    sessions: async_sessionmaker[AsyncSession],
    work: Callable[[UnitOfWork], Awaitable[object]],
) -> list[str]:
    """The statements ``work`` runs in one transaction (committed), in order."""
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(" ".join(statement.split()))

    translated = prepared._translated

    def seen_by_driver(sql: str, params: Any) -> Any:
        statements.append(" ".join(sql.split()))
        return translated(sql, params)

    event.listen(engine.sync_engine, "before_cursor_execute", seen)
    prepared._translated = seen_by_driver  # type: ignore[assignment]
    try:
        async with UnitOfWork(sessions) as uow:
            await work(uow)
            await uow.commit()
    finally:
        prepared._translated = translated  # type: ignore[assignment]
        event.remove(engine.sync_engine, "before_cursor_execute", seen)
    return statements
