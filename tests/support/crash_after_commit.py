"""A probe consumer process that dies while handling a message.

``after-commit`` (default): right after the handler's transaction commits and before the
message is acknowledged, the crash the inbox exists for. ``in-handler``: before anything is
committed, every time, as a message that kills whatever consumes it.

    python -m tests.support.crash_after_commit DATABASE_URL AMQP_URL EXCHANGE QUEUE_PREFIX \
        [after-commit|in-handler] [DELIVERY_LIMIT]
"""

from __future__ import annotations

import asyncio
import os
import sys

from sqlalchemy import event

from shared.db.unit_of_work import UnitOfWork
from shared.events.envelope import Envelope
from shared.events.schemas.intake import RequestRegisteredV1
from tests.support.broker import isolated_broker_settings
from tests.support.probe import Probe, running_probe

CRASH_EXIT_CODE = 17


class CrashingInHandler(Probe):
    async def handle(self, uow: UnitOfWork, event_: RequestRegisteredV1, env: Envelope) -> None:
        os._exit(CRASH_EXIT_CODE)


class CrashingProbe(Probe):
    async def handle(self, uow: UnitOfWork, event_: RequestRegisteredV1, env: Envelope) -> None:
        await super().handle(uow, event_, env)
        # Dies the moment the commit is done, before the consumer can acknowledge.
        event.listen(uow.session.sync_session, "after_commit", lambda _s: os._exit(CRASH_EXIT_CODE))


async def main(
    database_url: str,
    amqp_url: str,
    exchange: str,
    prefix: str,
    mode: str = "after-commit",
    delivery_limit: str = "20",
) -> None:
    settings = isolated_broker_settings(
        amqp_url,
        EVENTS_EXCHANGE=exchange,
        EVENTS_QUEUE_PREFIX=prefix,
        EVENTS_DELIVERY_LIMIT=int(delivery_limit),
    )
    probe = CrashingProbe() if mode == "after-commit" else CrashingInHandler()
    async with running_probe(probe, database_url, settings):
        await asyncio.sleep(60)  # the first message ends this process


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:]))
