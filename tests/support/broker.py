"""Per-test exchange and queue names on the real RabbitMQ, and their removal afterwards."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

import aio_pika

from shared.events.envelope import Envelope
from shared.messaging.topology import ServiceQueues
from shared.settings import BrokerSettings


def isolated_broker_settings(amqp_url: str, **overrides: object) -> BrokerSettings:
    """Settings whose exchange and queues no other test (or a running suite) shares.

    Retry delays and relay timings are short so that the failure paths run in seconds.
    """
    tag = f"t-{uuid.uuid4().hex[:10]}"
    values: dict[str, object] = {
        "AMQP_URL": amqp_url,
        "EVENTS_EXCHANGE": f"{tag}.events",
        "EVENTS_QUEUE_PREFIX": tag,
        "EVENTS_RETRY_DELAYS": "0.2,0.5",
        "EVENTS_PREFETCH": 50,
        "OUTBOX_POLL_SECONDS": 0.05,
        "OUTBOX_MAX_BACKOFF_SECONDS": 0.5,
        "BROKER_RECONNECT_MAX_SECONDS": 0.5,
    }
    values.update(overrides)
    return BrokerSettings(**values)  # type: ignore[arg-type]


async def remove_broker_objects(settings: BrokerSettings, services: Iterable[str]) -> None:
    connection = await aio_pika.connect(settings.amqp_url, timeout=10)
    try:
        channel = await connection.channel()
        for service in services:
            queues = ServiceQueues.for_service(service, settings)
            names = [queues.main, queues.dead_letter]
            names += [queues.delay(seconds) for seconds in settings.retry_delays]
            for name in names:
                await channel.queue_delete(name)
        await channel.exchange_delete(settings.exchange)
    finally:
        await connection.close()


async def publish_envelopes(
    settings: BrokerSettings, envelopes: Iterable[Envelope], routing_key: str | None = None
) -> None:
    """Publish straight to the exchange (as a relay would), confirmed and mandatory."""
    connection = await aio_pika.connect(settings.amqp_url, timeout=10)
    try:
        channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
        exchange = await channel.declare_exchange(
            settings.exchange, aio_pika.ExchangeType.TOPIC, durable=True
        )
        for envelope in envelopes:
            await exchange.publish(
                aio_pika.Message(
                    body=envelope.model_dump_json().encode(),
                    message_id=str(envelope.id),
                    correlation_id=envelope.correlation_id,
                    type=envelope.type,
                    content_type="application/json",
                    delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                ),
                routing_key=routing_key or envelope.routing_key,
                mandatory=True,
            )
    finally:
        await connection.close()


async def publish_raw(settings: BrokerSettings, body: bytes, routing_key: str) -> None:
    connection = await aio_pika.connect(settings.amqp_url, timeout=10)
    try:
        channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
        exchange = await channel.declare_exchange(
            settings.exchange, aio_pika.ExchangeType.TOPIC, durable=True
        )
        await exchange.publish(
            aio_pika.Message(body=body, message_id=str(uuid.uuid4())),
            routing_key=routing_key,
            mandatory=True,
        )
    finally:
        await connection.close()
