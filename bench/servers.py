"""Where a benchmark finds PostgreSQL and RabbitMQ: the tests' environment variables, this
machine's servers by default."""

from __future__ import annotations

import argparse
import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg
from sqlalchemy.engine import make_url

from shared.db.migrations import upgrade_to_head


def add_server_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--admin-url",
        default=os.environ.get(
            "TEST_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
        ),
    )
    parser.add_argument(
        "--amqp-url", default=os.environ.get("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
    )


@asynccontextmanager
async def scratch_database(admin_url: str, label: str, migrations_dir: Path) -> AsyncIterator[str]:
    """A fresh database beside the admin URL's, migrated like production; its URL. Dropped
    afterwards, connections and all."""
    name = f"bench_{label}_{uuid.uuid4().hex[:8]}"
    dsn = make_url(admin_url).set(drivername="postgresql").render_as_string(hide_password=False)
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    try:
        await asyncio.to_thread(upgrade_to_head, migrations_dir, url)
        yield url
    finally:
        connection = await asyncpg.connect(dsn)
        try:
            await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await connection.close()
