"""The outbox relay: publishes committed events with publisher confirms.

A row is marked published only after the broker confirmed it and routed it to at least one
queue (``mandatory``); an unroutable or refused row stays pending and is tried again with
backoff. A crash between confirm and marking publishes the row again: consumers' inboxes make
that harmless. Several relays (instances of one service) share the outbox through
``FOR UPDATE SKIP LOCKED`` on PostgreSQL.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import aiormq.abc
import asyncpg
from aio_pika import DeliveryMode
from aio_pika.abc import AbstractChannel, AbstractConnection
from aio_pika.exceptions import DeliveryError, PublishError
from aiormq import spec
from prometheus_client import Counter
from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.db.engine import create_engine, create_session_factory
from shared.db.messaging_tables import outbox
from shared.messaging.broker import BrokerConnection
from shared.messaging.outbox_batches import DueRow, due_batches
from shared.messaging.retention import purge_published_outbox
from shared.messaging.retry import outbox_backoff
from shared.messaging.topology import declare_exchange
from shared.messaging.transaction_events import TRANSACTION_EVENTS_HEADER, keys_by_transaction
from shared.observability.metrics import EVENTS_PUBLISHED, OUTBOX_LAG, OUTBOX_PENDING
from shared.settings import BrokerSettings

log = logging.getLogger(__name__)

_JSON = "application/json"


class OutboxRelay:
    def __init__(
        self,
        service: str,
        session_factory: async_sessionmaker[AsyncSession],
        broker: BrokerConnection,
        settings: BrokerSettings,
    ) -> None:
        self._service = service
        self._sessions = session_factory
        self._broker = broker
        self._settings = settings
        self._channel: AbstractChannel | None = None
        # aiormq's channel under aio-pika's: messages are published on it directly, with
        # their properties built as the frame wants them (no aio-pika ``Message`` each).
        self._publisher: aiormq.abc.AbstractChannel | None = None
        # One counter child per event type and outcome, not a label lookup per event.
        self._published: dict[tuple[str, str], Counter] = {}
        self._wake = asyncio.Event()
        self._stopping = False
        self._last_gauges = 0.0
        self._last_purge = 0.0
        self._batches = due_batches(session_factory, settings.relay_batch_size)
        broker.on_connect(self._open_channel)

    async def _open_channel(self, connection: AbstractConnection) -> None:
        channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
        await declare_exchange(channel, self._settings.exchange)
        self._publisher = await channel.get_underlay_channel()
        self._channel = channel
        self.wake()

    def wake(self) -> None:
        self._wake.set()

    async def wait_connected(self) -> None:
        await self._broker.wait_connected()

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while not self._stopping:
            # Cleared before the pass, not after it: a commit that wakes the relay while a
            # pass is publishing (most of a pass is waiting for the broker's confirms) is
            # taken by the next pass at once instead of at the next poll.
            self._wake.clear()
            published = 0
            try:
                if self._channel_ready():
                    published = await self.publish_batch()
                if loop.time() - self._last_gauges >= 1.0:
                    await self.refresh_gauges()
                    self._last_gauges = loop.time()
                if loop.time() - self._last_purge >= 600.0:
                    await self.purge_published()
                    self._last_purge = loop.time()
            except asyncio.CancelledError:
                raise
            except (DBAPIError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                # The database is away: nothing was marked, so the rows go out when it is back.
                log.warning(
                    "outbox relay pass failed: %s",
                    type(exc).__name__,
                    extra={"error": str(exc)[:300]},
                )
                await asyncio.sleep(1.0)
            except Exception:
                log.exception("outbox relay pass failed")
                await asyncio.sleep(1.0)
            if published >= self._settings.relay_batch_size:
                continue
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._settings.relay_poll_seconds):
                    await self._wake.wait()

    def _channel_ready(self) -> bool:
        return (
            self._broker.is_connected
            and self._channel is not None
            and not self._channel.is_closed
            and self._publisher is not None
        )

    async def publish_batch(self) -> int:
        """Publish one batch of due rows; returns how many the broker confirmed."""
        publisher = self._publisher
        if publisher is None:
            return 0
        now = datetime.now(UTC)
        async with self._batches(now) as batch:
            rows = batch.rows
            if not rows:
                return 0
            together = keys_by_transaction(
                [row.transaction for row in rows], [row.routing_key for row in rows]
            )
            publishes = [
                self._publish(publisher, row, keys)
                for row, keys in zip(rows, together, strict=True)
            ]
            outcomes = await asyncio.gather(*publishes, return_exceptions=True)
            confirmed: list[int] = []
            for row, outcome in zip(rows, outcomes, strict=True):
                if not isinstance(outcome, BaseException):
                    confirmed.append(row.id)
                    self._count(row.event_type, "published")
                elif isinstance(outcome, (PublishError, DeliveryError)):
                    # Unroutable (no queue bound yet) or refused by the broker: keep it and
                    # try again later; the pending gauge and this counter show it.
                    kind = "unroutable" if isinstance(outcome, PublishError) else "failed"
                    self._count(row.event_type, kind)
                    attempts = row.attempts + 1
                    delay = outbox_backoff(attempts, self._settings.relay_max_backoff_seconds)
                    await batch.postpone(
                        row.id,
                        attempts,
                        f"{kind}: {outcome!r}"[:2000],
                        now + timedelta(seconds=delay),
                    )
                    log.warning(
                        "event not published",
                        extra={
                            "event_id": row.event_id,
                            "event_type": row.event_type,
                            "outcome": kind,
                            "attempts": attempts,
                        },
                    )
                # Anything else is the connection going away: the row stays as it was.
            if confirmed:
                await batch.mark_published(confirmed, now)
            return len(confirmed)

    def _count(self, event_type: str, outcome: str) -> None:
        counter = self._published.get((event_type, outcome))
        if counter is None:
            counter = EVENTS_PUBLISHED.labels(self._service, event_type, outcome)
            self._published[event_type, outcome] = counter
        counter.inc()

    async def _publish(
        self,
        publisher: aiormq.abc.AbstractChannel,
        row: DueRow,
        transaction_events: list[str] | None,
    ) -> None:
        """Returns once the broker confirmed the message; raises if it returned it
        (unroutable) or refused it."""
        properties = spec.Basic.Properties(
            content_type=_JSON,
            delivery_mode=DeliveryMode.PERSISTENT,
            priority=0,
            message_id=row.event_id,
            correlation_id=row.correlation_id,
            message_type=row.event_type,
            headers={TRANSACTION_EVENTS_HEADER: transaction_events} if transaction_events else {},
        )
        # wait=False: what is awaited is the broker's confirm; waiting for the frame to be
        # written to the socket first cost a future and a wake-up more per message.
        await publisher.basic_publish(
            row.envelope.encode(),
            exchange=self._settings.exchange,
            routing_key=row.routing_key,
            properties=properties,
            mandatory=True,
            timeout=30,
            wait=False,
        )

    async def refresh_gauges(self) -> tuple[int, float]:
        async with self._sessions() as session:
            count, oldest = (
                await session.execute(
                    select(func.count(), func.min(outbox.c.created_at)).where(
                        outbox.c.published_at.is_(None)
                    )
                )
            ).one()
            await session.rollback()
        lag = 0.0
        if oldest is not None:
            if oldest.tzinfo is None:
                oldest = oldest.replace(tzinfo=UTC)
            lag = max(0.0, (datetime.now(UTC) - oldest).total_seconds())
        OUTBOX_PENDING.labels(self._service).set(count)
        OUTBOX_LAG.labels(self._service).set(lag)
        return count, lag

    async def purge_published(self) -> int:
        return await purge_published_outbox(
            self._sessions, timedelta(hours=self._settings.outbox_retention_hours)
        )


@asynccontextmanager
async def relay_running(
    service: str, database_url: str, settings: BrokerSettings
) -> AsyncIterator[OutboxRelay]:
    """A relay with its own engine and broker connection, for as long as the block lasts:
    the relay as its own process (``aftersales relay``), or beside a test."""
    engine = create_engine(database_url)
    broker = BrokerConnection(settings.amqp_url, f"{service}-relay", settings.reconnect_max_seconds)
    relay = OutboxRelay(service, create_session_factory(engine), broker, settings)
    tasks = [asyncio.create_task(broker.run()), asyncio.create_task(relay.run())]
    try:
        yield relay
    finally:
        relay.stop()
        await broker.close()
        for task in tasks:
            task.cancel()
        await asyncio.wait(tasks, timeout=5)
        await engine.dispose()
