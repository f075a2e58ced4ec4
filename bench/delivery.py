"""One event handled as a service's consumer handles a delivery alone, without the broker:
the envelope parsed, the event validated, the inbox row, the handler, the commit
(``EventConsumer._process`` and ``_handle_once``). For benchmarks of a handler's cost with
the consumer's own part included."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.db.messaging_tables import inbox
from shared.db.unit_of_work import UnitOfWork
from shared.events.envelope import Envelope
from shared.messaging.consumer import Subscription
from shared.observability.context import correlated

_INBOX_ROW = insert(inbox)


async def handle_alone(
    sessions: async_sessionmaker[AsyncSession],
    consumer: str,
    body: str,
    subscription: Subscription[Any],
) -> None:
    envelope = Envelope.model_validate_json(body)
    with correlated(envelope.correlation_id, str(envelope.id)):
        event = subscription.schema.model_validate(envelope.data)
        async with UnitOfWork(sessions) as uow:
            await uow.session.execute(
                _INBOX_ROW,
                {"consumer": consumer, "message_id": str(envelope.id),
                 "event_type": envelope.type, "handled_at": datetime.now(UTC)},
            )  # fmt: skip
            await subscription.handler(uow, event, envelope)
            await uow.commit()
