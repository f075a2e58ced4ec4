"""A service stops promptly whenever it is told to, even in the middle of connecting."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

from services.dispatch.app import DEFINITION as DISPATCH
from shared.service import build_app
from shared.settings import AuthSettings, BrokerSettings
from tests.support.databases import migrated_sqlite
from tests.support.services import suite_settings


async def test_stopping_at_any_moment_of_start_up_never_hangs(
    broker: BrokerSettings, auth: AuthSettings, tmp_path: Path
) -> None:
    url = await migrated_sqlite(DISPATCH, tmp_path)
    moments = random.Random(7)
    for _ in range(25):
        app = build_app(DISPATCH, suite_settings(DISPATCH, url, broker, auth))
        # Each stop lands somewhere in the broker connection's start: before, during, after.
        async with asyncio.timeout(10), app.router.lifespan_context(app):
            await asyncio.sleep(moments.uniform(0, 0.03))
