"""Looking at and replaying a service's dead-letter queue (used by ``aftersales dlq``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import aio_pika
from aio_pika.abc import AbstractIncomingMessage

from shared.messaging.consumer import (
    ERROR_HEADER,
    ORIGINAL_ROUTING_KEY_HEADER,
    PARKED_AT_HEADER,
    RETRY_COUNT_HEADER,
)
from shared.messaging.topology import ServiceQueues


@dataclass(frozen=True)
class ParkedMessage:
    message_id: str
    event_type: str
    routing_key: str
    error: str
    retries: int
    parked_at: str
    body: str


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    return "" if value is None else str(value)


def _describe(message: AbstractIncomingMessage) -> ParkedMessage:
    headers = message.headers or {}
    error = _text(headers.get(ERROR_HEADER))
    if not error and "x-death" in headers:
        # Dead-lettered by the broker itself (rejected, or over the delivery limit).
        error = f"dead-lettered by the broker: {_text(headers['x-death'])[:500]}"
    return ParkedMessage(
        message_id=message.message_id or "",
        event_type=message.type or "",
        routing_key=_text(headers.get(ORIGINAL_ROUTING_KEY_HEADER)) or (message.routing_key or ""),
        error=error,
        retries=int(_text(headers.get(RETRY_COUNT_HEADER)) or 0),
        parked_at=_text(headers.get(PARKED_AT_HEADER)),
        body=message.body.decode(errors="replace"),
    )


async def list_parked(
    amqp_url: str, queues: ServiceQueues, limit: int = 100
) -> list[ParkedMessage]:
    """The parked messages, oldest first, left where they are."""
    connection = await aio_pika.connect(amqp_url, timeout=10)
    try:
        channel = await connection.channel()
        queue = await channel.declare_queue(queues.dead_letter, passive=True)
        parked: list[ParkedMessage] = []
        for _ in range(min(limit, queue.declaration_result.message_count)):
            message = await queue.get(no_ack=False, fail=False)
            if message is None:
                break
            parked.append(_describe(message))
        # Closing the channel returns every unacknowledged message to its place.
        await channel.close()
        return parked
    finally:
        await connection.close()


async def replay_parked(
    amqp_url: str, queues: ServiceQueues, message_id: str | None = None
) -> list[str]:
    """Put parked messages (all, or the one with ``message_id``) back on the service's queue.

    Only the service's own queue gets them, so other services see no second copy. Returns the
    ids replayed.
    """
    connection = await aio_pika.connect(amqp_url, timeout=10)
    try:
        channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
        queue = await channel.declare_queue(queues.dead_letter, passive=True)
        replayed: list[str] = []
        # Only what is parked now: a replayed message that fails again comes back to the end
        # of this queue and must not be replayed a second time in this pass.
        for _ in range(queue.declaration_result.message_count):
            message = await queue.get(no_ack=False, fail=False)
            if message is None:
                break
            if message_id is not None and message.message_id != message_id:
                continue
            headers = {
                key: value
                for key, value in (message.headers or {}).items()
                if key not in {RETRY_COUNT_HEADER, PARKED_AT_HEADER, "x-death"}
            }
            await channel.default_exchange.publish(
                aio_pika.Message(
                    body=message.body,
                    headers=headers,
                    content_type=message.content_type,
                    delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                    message_id=message.message_id,
                    correlation_id=message.correlation_id,
                    type=message.type,
                ),
                routing_key=queues.main,
                mandatory=True,
            )
            await message.ack()
            replayed.append(message.message_id or "")
        await channel.close()
        return replayed
    finally:
        await connection.close()
