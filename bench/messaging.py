"""Event throughput: raw aio-pika publishing, the outbox relay, and one consumer's inbox.

All three move the same envelopes (a triaged v2 event, about a kilobyte) to quorum queues
with persistent messages and publisher confirms, so that their figures compare.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import aio_pika
from sqlalchemy import func, insert, select

from shared.db.engine import create_engine, create_session_factory
from shared.db.messaging_tables import inbox, messaging_metadata, outbox
from shared.db.unit_of_work import UnitOfWork
from shared.events.envelope import Envelope
from shared.events.schemas.intake import RequestTriagedV2
from shared.messaging.broker import BrokerConnection
from shared.messaging.consumer import EventConsumer, Subscription
from shared.messaging.relay import relay_running
from shared.messaging.topology import ServiceQueues, declare_exchange
from shared.settings import BrokerSettings

CONSUMER = "benchconsumer"


def triaged(number: int) -> Envelope:
    event = RequestTriagedV2(
        request_no=f"SR-2026-{number:06d}",
        kind="repair",
        severity="urgent",
        visit_needed=True,
        route="dispatch",
        channel="dealer",
        product_line="pumps",
        product_model="WX-200",
        serial_no=f"WX200-2025-{number:06d}",
        customer_name="张伟",
        customer_phone="13800138000",
        address="上海市浦东新区世纪大道100号",
        region="上海",
        response_due_at=datetime.now(UTC),
        triaged_at=datetime.now(UTC),
        fault_description="开机无反应",
        quantity=1,
        purchase_date=date(2026, 3, 1),
        in_warranty=True,
        warranty_expires_on=date(2027, 3, 1),
        dealer_id="D-0001",
        customer_id=None,
        latitude=Decimal("31.2354"),
        longitude=Decimal("121.5055"),
    )
    return Envelope(
        type=event.event_type,
        version=event.event_version,
        producer=event.producer,
        correlation_id=str(uuid.uuid4()),
        data=event.model_dump(mode="json"),
    )


async def _bound_queue(broker: BrokerSettings, name: str, routing_key: str) -> None:
    connection = await aio_pika.connect(broker.amqp_url)
    try:
        channel = await connection.channel()
        exchange = await declare_exchange(channel, broker.exchange)
        queue = await channel.declare_queue(
            name, durable=True, arguments={"x-queue-type": "quorum"}
        )
        await queue.bind(exchange, routing_key=routing_key)
    finally:
        await connection.close()


async def delete_queues(broker: BrokerSettings, names: list[str]) -> None:
    connection = await aio_pika.connect(broker.amqp_url)
    try:
        channel = await connection.channel()
        for name in names:
            await channel.queue_delete(name)
    finally:
        await connection.close()


async def publish_raw(broker: BrokerSettings, routing_key: str, count: int, window: int) -> float:
    """Events/s published with confirms, ``window`` unconfirmed at a time."""
    bodies = [triaged(n).model_dump_json().encode() for n in range(count)]
    connection = await aio_pika.connect(broker.amqp_url)
    try:
        channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
        exchange = await declare_exchange(channel, broker.exchange)
        slots = asyncio.Semaphore(window)

        async def one(body: bytes) -> None:
            try:
                await exchange.publish(
                    aio_pika.Message(
                        body=body,
                        content_type="application/json",
                        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                        message_id=str(uuid.uuid4()),
                    ),
                    routing_key=routing_key,
                    mandatory=True,
                )
            finally:
                slots.release()

        started = time.perf_counter()
        tasks = []
        for body in bodies:
            await slots.acquire()
            tasks.append(asyncio.create_task(one(body)))
        await asyncio.gather(*tasks)
        return count / (time.perf_counter() - started)
    finally:
        await connection.close()


async def raw_publish_eps(broker: BrokerSettings, count: int) -> float:
    queue = f"{broker.queue_prefix}.bench.raw"
    await _bound_queue(broker, queue, "bench.raw")
    try:
        return await publish_raw(broker, "bench.raw", count, window=500)
    finally:
        await delete_queues(broker, [queue])


async def relay_eps(broker: BrokerSettings, database_url: str, count: int) -> float:
    """Events/s the relay publishes from an outbox holding ``count`` pending rows."""
    queue = f"{broker.queue_prefix}.bench.relay"
    await _bound_queue(broker, queue, "bench.relay")
    engine = create_engine(database_url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(messaging_metadata.create_all)
        now = datetime.now(UTC)
        rows = []
        for n in range(count):
            envelope = triaged(n)
            rows.append(
                {
                    "event_id": str(envelope.id),
                    "event_type": envelope.type,
                    "routing_key": "bench.relay",
                    "envelope": envelope.model_dump_json(),
                    "correlation_id": envelope.correlation_id,
                    "created_at": now,
                    "next_attempt_at": now,
                    "attempts": 0,
                }
            )
        async with engine.begin() as connection:
            await connection.execute(insert(outbox), rows)
        pending = select(func.count()).where(outbox.c.published_at.is_(None))
        started = time.perf_counter()
        async with relay_running("bench", database_url, broker):
            while True:
                async with engine.connect() as connection:
                    left = (await connection.execute(pending)).scalar_one()
                if left == 0:
                    break
                await asyncio.sleep(0.05)
            took = time.perf_counter() - started
        return count / took
    finally:
        await engine.dispose()
        await delete_queues(broker, [queue])


async def _nothing(_uow: UnitOfWork, _event: RequestTriagedV2, _envelope: Envelope) -> None:
    """The trivial handler: the consumer's own work (inbox row, transaction, ack) is measured."""


async def consume_eps(
    broker: BrokerSettings, database_url: str, count: int, **engine_options: Any
) -> float:
    """Events/s one consumer handles from a queue already holding ``count`` messages."""
    queues = ServiceQueues.for_service(CONSUMER, broker)
    engine = create_engine(database_url, **engine_options)
    sessions = create_session_factory(engine)
    async with engine.begin() as connection:
        await connection.run_sync(messaging_metadata.create_all)
    subscriptions = [Subscription(RequestTriagedV2, _nothing)]
    names = [queues.main, queues.dead_letter, *(queues.delay(s) for s in broker.retry_delays)]
    connection_for_setup = BrokerConnection(broker.amqp_url, CONSUMER)
    setup = EventConsumer(
        CONSUMER, queues, broker, subscriptions, lambda: UnitOfWork(sessions), connection_for_setup
    )
    try:
        # Declare the queues (and stop consuming at once), then fill them.
        runner = asyncio.create_task(connection_for_setup.run())
        await connection_for_setup.wait_connected()
        await setup.stop()
        await connection_for_setup.close()
        await asyncio.wait([runner], timeout=5)
        await publish_raw(broker, RequestTriagedV2.routing_key(), count, window=500)

        handled = select(func.count()).select_from(inbox)
        broker_connection = BrokerConnection(broker.amqp_url, CONSUMER)
        EventConsumer(
            CONSUMER, queues, broker, subscriptions, lambda: UnitOfWork(sessions), broker_connection
        )
        started = time.perf_counter()
        runner = asyncio.create_task(broker_connection.run())
        try:
            while True:
                async with engine.connect() as connection:
                    done = (await connection.execute(handled)).scalar_one()
                if done >= count:
                    break
                await asyncio.sleep(0.05)
            took = time.perf_counter() - started
        finally:
            await broker_connection.close()
            await asyncio.wait([runner], timeout=5)
        return count / took
    finally:
        await engine.dispose()
        await delete_queues(broker, names)
