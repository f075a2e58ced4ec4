"""Running a service's Alembic migrations, from the CLI, the start-up step and the tests.

Each service keeps its own migration history in ``services/<name>/db/migrations``; its
``env.py`` hands over to ``run_migrations_in_env`` here.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from alembic import command, context
from alembic.config import Config
from sqlalchemy import pool
from sqlalchemy.engine import Connection, make_url

from shared.db.engine import create_engine

_URL_ATTRIBUTE = "database_url"


def alembic_config(migrations_dir: Path, database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir))
    # Migrations named by date sort in the order they were written.
    config.set_main_option("file_template", "%%(year)d%%(month).2d%%(day).2d_%%(rev)s_%%(slug)s")
    # Passed as an attribute, not an option: configparser would choke on "%" in passwords.
    config.attributes[_URL_ATTRIBUTE] = database_url
    return config


def upgrade_to_head(migrations_dir: Path, database_url: str) -> None:
    """Bring the database to the newest schema. Call it outside a running event loop."""
    command.upgrade(alembic_config(migrations_dir, database_url), "head")


def run_migrations_in_env(target_metadata: Any) -> None:
    """The body of every service's ``env.py``."""
    config = context.config
    database_url = config.attributes.get(_URL_ATTRIBUTE)
    if not database_url:
        raise RuntimeError("run migrations through `aftersales migrate`, which sets the URL")
    if context.is_offline_mode():
        context.configure(url=database_url, target_metadata=target_metadata, literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    asyncio.run(_run_online(database_url, target_metadata))


async def _run_online(database_url: str, target_metadata: Any) -> None:
    engine = create_engine(database_url, poolclass=pool.NullPool)
    is_sqlite = make_url(database_url).get_backend_name() == "sqlite"

    def run(connection: Connection) -> None:
        if not is_sqlite:
            # Several instances may start at once; one migrates, the others then find it done.
            connection.exec_driver_sql("SELECT pg_advisory_xact_lock(7261124)")
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=is_sqlite,
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()

    try:
        async with engine.connect() as connection:
            await connection.run_sync(run)
            await connection.commit()
    finally:
        await engine.dispose()
