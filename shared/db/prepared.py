"""Statements on a hot path, run by the database driver itself where that is PostgreSQL.

SQLAlchemy costs about 120 µs of CPU to execute even a statement built once (its session,
connection, compiled-cache, parameter and result layers), asyncpg about 20 µs for the same
statement (bench/README.md). A ``HotStatement`` is a Core statement compiled by SQLAlchemy,
once per dialect and set of parameter names, with SQLAlchemy's own type processing of the
parameters (time zones, JSON); on PostgreSQL it runs through asyncpg's prepared statements
on the session's connection, inside the session's transaction; elsewhere (SQLite, embedded)
through the session as any statement.

The rows come back as the driver gives them: use it for columns whose driver values are
already what the caller wants (text, numbers, dates), or that it only tests for presence.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import asyncpg
from sqlalchemy import Executable
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.compiler import SQLCompiler

Params = Mapping[str, Any]


class _Compiled:
    """One compiled form: the SQL text with ``$n`` placeholders and how to order and
    convert the named parameters into them."""

    def __init__(self, statement: Executable, dialect: Dialect, names: Sequence[str]) -> None:
        compiled = statement.compile(dialect=dialect, column_keys=list(names))
        assert isinstance(compiled, SQLCompiler) and compiled.positiontup is not None
        self.sql = compiled.string
        self._compiled = compiled
        self._order = list(compiled.positiontup)
        # SQLAlchemy's own bind processors: the values reach the driver as they would have.
        self._processors = compiled._bind_processors

    def arguments(self, params: Params) -> list[Any]:
        values = self._compiled.construct_params(params, _check=False)
        processors = self._processors
        return [
            processors[name](values[name]) if name in processors else values[name]  # type: ignore[operator]
            for name in self._order
        ]


class HotStatement:
    def __init__(self, statement: Executable) -> None:
        self.statement = statement
        self._compiled: dict[tuple[str, ...], _Compiled] = {}

    async def execute(self, session: AsyncSession, params: Params) -> list[tuple[Any, ...]]:
        """Execute once; the rows it returns, as tuples (none for a statement without any)."""
        driver = _driver_in_transaction(session)
        if driver is None:
            result = await session.execute(self.statement, params)
            return [tuple(row) for row in result] if result.returns_rows else []
        compiled = self._compiled_for(session, params)
        with _translated(compiled.sql, params):
            records = await driver.fetch(compiled.sql, *compiled.arguments(params))
        return [tuple(record) for record in records]

    async def many(self, session: AsyncSession, params: Sequence[Params]) -> None:
        """Execute once per parameter set (same names in each), in one round trip."""
        if not params:
            return
        driver = _driver_in_transaction(session)
        if driver is None:
            await session.execute(self.statement, list(params))
            return
        compiled = self._compiled_for(session, params[0])
        with _translated(compiled.sql, params[0]):
            await driver.executemany(compiled.sql, [compiled.arguments(p) for p in params])

    def _compiled_for(self, session: AsyncSession, params: Params) -> _Compiled:
        names = tuple(sorted(params))
        compiled = self._compiled.get(names)
        if compiled is None:
            compiled = _Compiled(self.statement, session.get_bind().dialect, names)
            self._compiled[names] = compiled
        return compiled


def _driver_in_transaction(session: AsyncSession) -> asyncpg.Connection | None:
    """The session's asyncpg connection once its transaction has begun on the server; None
    otherwise (SQLite, or nothing executed yet: SQLAlchemy then begins the transaction, as it
    would, with the first statement). A session holding ORM objects also goes through
    SQLAlchemy, which flushes them before the statement, as it always did. Nothing here does
    any I/O: asking the session for its connection (``await session.connection()``) would
    cost as much CPU as the statement saves."""
    sync = session.sync_session
    transaction = sync.get_transaction()
    if (
        transaction is None
        or sync.new
        or sync.deleted
        or len(sync.identity_map)
        or sync.get_bind().dialect.driver != "asyncpg"
    ):
        return None
    connections = transaction.connections
    if len(connections) != 1:
        return None
    (connection,) = connections
    if connection.invalidated or connection.closed:
        return None
    driver = connection.connection.driver_connection
    if not isinstance(driver, asyncpg.Connection) or not driver.is_in_transaction():
        return None
    return driver


@contextmanager
def _translated(sql: str, params: Params) -> Iterator[None]:
    """asyncpg's errors as SQLAlchemy's, so callers catch what they always caught (a
    violated constraint is an ``IntegrityError`` with the driver's message in ``orig``)."""
    try:
        yield
    except asyncpg.IntegrityConstraintViolationError as error:
        raise IntegrityError(sql, dict(params), error) from error
    except (asyncpg.PostgresError, asyncpg.InterfaceError) as error:
        raise DBAPIError(sql, dict(params), error) from error
