"""Fresh PostgreSQL databases for one test, migrated like production, dropped afterwards."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import asyncpg
from sqlalchemy.engine import make_url

from shared.db.migrations import upgrade_to_head
from shared.service import ServiceDefinition


def _asyncpg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def database_url(admin_url: str, name: str) -> str:
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


class DatabaseFactory:
    def __init__(self, admin_url: str, run_tag: str) -> None:
        self._admin_url = admin_url
        self._run_tag = run_tag
        self._created: list[str] = []

    async def create(self, label: str) -> str:
        name = f"t_{self._run_tag}_{label}_{uuid.uuid4().hex[:6]}"
        connection = await asyncpg.connect(_asyncpg_dsn(self._admin_url))
        try:
            await connection.execute(f'CREATE DATABASE "{name}"')
        finally:
            await connection.close()
        self._created.append(name)
        return database_url(self._admin_url, name)

    async def migrated(self, service_migrations: object, label: str) -> str:
        url = await self.create(label)
        # Alembic runs its own event loop; keep it off this one.
        await asyncio.to_thread(upgrade_to_head, service_migrations, url)  # type: ignore[arg-type]
        return url

    async def drop_all(self) -> None:
        if not self._created:
            return
        connection = await asyncpg.connect(_asyncpg_dsn(self._admin_url))
        try:
            for name in self._created:
                await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await connection.close()
        self._created.clear()


async def migrated_sqlite(definition: ServiceDefinition, directory: Path) -> str:
    """A fresh SQLite file for the service in ``directory``, migrated like production."""
    url = f"sqlite+aiosqlite:///{directory / definition.name}.db"
    # Alembic runs its own event loop; keep it off this one.
    await asyncio.to_thread(upgrade_to_head, definition.migrations_dir, url)
    return url


async def migrated_on(
    backend: str, definition: ServiceDefinition, databases: DatabaseFactory, directory: Path
) -> str:
    """The service's database migrated like production: on PostgreSQL (``"postgresql"``), or
    in a fresh SQLite file in ``directory``, the embedded default."""
    if backend == "postgresql":
        return await databases.migrated(definition.migrations_dir, definition.name)
    return await migrated_sqlite(definition, directory)
