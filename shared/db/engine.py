"""Async engines for a service's own database: SQLite embedded, PostgreSQL in production."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

PING_AFTER_IDLE_SECONDS = 1.0


def create_engine(database_url: str, **kwargs: Any) -> AsyncEngine:
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        # One file, one writer at a time: SQLite keeps its own pool and ignores the sizes.
        kwargs.pop("pool_size", None)
        kwargs.pop("max_overflow", None)
        return _sqlite_engine(database_url, url.database, **kwargs)
    # A ping costs a round trip on every checkout; a connection used moments ago is alive
    # unless the server went away meanwhile, which the first statement then finds (and the
    # pool drops every connection of that age). So only connections idle for a while are
    # pinged, which is what a restart behind an idle service needs.
    ping_idle = kwargs.pop("ping_after_idle_seconds", PING_AFTER_IDLE_SECONDS)
    if "poolclass" not in kwargs:
        # Connections beyond pool_size ("overflow") are closed when returned while the pool
        # is full, and opening one (TLS probe, authentication, type codecs, statements
        # prepared again) costs more CPU than the transaction it serves: under a bursty load
        # intake opened 0.85 connections per dealer report (bench/README.md). A fixed pool
        # keeps them; a burst waits for a free connection instead (pool_timeout, 30 s).
        kwargs.setdefault("pool_size", 20)
        kwargs.setdefault("max_overflow", 0)
    engine = create_async_engine(database_url, **kwargs)
    if not kwargs.get("pool_pre_ping"):
        _ping_when_idle(engine, ping_idle)
    return engine


def _ping_when_idle(engine: AsyncEngine, idle_seconds: float) -> None:
    @event.listens_for(engine.sync_engine, "checkin")
    def _checked_in(_dbapi_connection: Any, record: Any) -> None:
        if record is not None:
            record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine.sync_engine, "checkout")
    def _checked_out(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < idle_seconds:
            return
        try:
            dbapi_connection.ping()
        except Exception as exc:
            # The pool drops this connection and checks out another (a fresh one if need be).
            raise DisconnectionError("connection found dead by its ping") from exc


def _sqlite_engine(database_url: str, path: str | None, **kwargs: Any) -> AsyncEngine:
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(
        database_url, connect_args={"timeout": 30, "isolation_level": None}, **kwargs
    )

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        # WAL lets the API read while the relay or consumer writes.
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        # Take the write lock at BEGIN: a deferred transaction that reads and then writes can
        # fail at once with "database is locked" when another writer got there first.
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)
