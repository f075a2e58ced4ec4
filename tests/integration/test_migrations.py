"""Every service's migrations build exactly the schema its models declare, on PostgreSQL and
SQLite, and can be undone and redone."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import Connection

from shared.cli.suite import SERVICE_NAMES, load_definition
from shared.db.engine import create_engine
from shared.db.messaging_tables import messaging_metadata
from shared.db.migrations import alembic_config, upgrade_to_head
from tests.support.databases import DatabaseFactory


def _models_of(service: str) -> list[Any]:
    module = __import__(f"services.{service}.db.models", fromlist=["Base"])
    return [module.Base.metadata, messaging_metadata]


async def _differences(url: str, metadata: list[Any]) -> list[Any]:
    engine = create_engine(url)

    def compare(connection: Connection) -> list[Any]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, metadata))  # type: ignore[arg-type]

    try:
        async with engine.connect() as connection:
            return await connection.run_sync(compare)
    finally:
        await engine.dispose()


@pytest.mark.parametrize("backend", ["postgresql", "sqlite"])
@pytest.mark.parametrize("service", SERVICE_NAMES)
async def test_migrations_match_the_models_and_can_be_undone(
    service: str, backend: str, databases: DatabaseFactory, tmp_path: Path
) -> None:
    definition = load_definition(service)
    if backend == "postgresql":
        url = await databases.create(service)
    else:
        url = f"sqlite+aiosqlite:///{tmp_path / service}.db"
    await asyncio.to_thread(upgrade_to_head, definition.migrations_dir, url)
    assert await _differences(url, _models_of(service)) == []

    config = alembic_config(definition.migrations_dir, url)
    await asyncio.to_thread(command.downgrade, config, "base")
    await asyncio.to_thread(upgrade_to_head, definition.migrations_dir, url)
    assert await _differences(url, _models_of(service)) == []
