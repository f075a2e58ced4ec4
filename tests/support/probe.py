"""A consumer built from the platform's real parts (broker connection, EventConsumer, inbox,
unit of work) whose handler the test controls, writing one row per effect it has."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import Column, Integer, MetaData, String, Table, func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.db.engine import create_engine, create_session_factory
from shared.db.messaging_tables import messaging_metadata
from shared.db.types import UtcDateTime
from shared.db.unit_of_work import UnitOfWork
from shared.events.envelope import Envelope
from shared.events.registry import EventSchema
from shared.events.schemas.intake import RequestRegisteredV1
from shared.messaging.broker import BrokerConnection
from shared.messaging.consumer import EventConsumer, Subscription
from shared.messaging.relay import OutboxRelay, relay_running
from shared.messaging.topology import ServiceQueues
from shared.settings import BrokerSettings

PROBE = "probe"

probe_metadata = MetaData()
effects = Table(
    "effects",
    probe_metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("request_no", String(40), nullable=False),
    Column("instance", String(20), nullable=False),
    Column("at", UtcDateTime(), nullable=False),
)


async def create_probe_schema(database_url: str) -> None:
    engine = create_engine(database_url)
    async with engine.begin() as connection:
        await connection.run_sync(messaging_metadata.create_all)
        await connection.run_sync(probe_metadata.create_all)
    await engine.dispose()


def registered(request_no: str, correlation_id: str = "probe-test") -> Envelope:
    event = RequestRegisteredV1(
        request_no=request_no,
        channel="phone",
        customer_name="王芳",
        product_model="WX-200",
        serial_no="WX200-1",
        fault_description="不制冷",
        received_at=datetime.now(UTC),
    )
    return envelope_of(event, correlation_id)


def envelope_of(event: EventSchema, correlation_id: str = "probe-test") -> Envelope:
    return Envelope(
        type=event.event_type,
        version=event.event_version,
        producer=event.producer,
        correlation_id=correlation_id,
        data=event.model_dump(mode="json"),
    )


@dataclass
class Probe:
    """``failing``: request numbers whose handling raises until removed from the set."""

    instance: str = "a"
    failing: set[str] = field(default_factory=set)
    attempts: list[tuple[str, float]] = field(default_factory=list)
    pause: float = 0.0  # seconds each handling takes before its effect is written

    async def handle(self, uow: UnitOfWork, event: RequestRegisteredV1, _env: Envelope) -> None:
        self.attempts.append((event.request_no, time.monotonic()))
        if event.request_no in self.failing:
            raise RuntimeError(f"cannot handle {event.request_no} yet")
        if self.pause:
            await asyncio.sleep(self.pause)
        await uow.session.execute(
            insert(effects).values(
                request_no=event.request_no, instance=self.instance, at=datetime.now(UTC)
            )
        )

    def subscriptions(self) -> list[Subscription[RequestRegisteredV1]]:
        return [Subscription(RequestRegisteredV1, self.handle)]


@dataclass
class RunningProbe:
    consumer: EventConsumer
    broker: BrokerConnection
    engine: AsyncEngine


@asynccontextmanager
async def running_probe(
    probe: Probe, database_url: str, settings: BrokerSettings
) -> AsyncIterator[RunningProbe]:
    engine = create_engine(database_url)
    sessions = create_session_factory(engine)
    broker = BrokerConnection(settings.amqp_url, PROBE, settings.reconnect_max_seconds)
    consumer = EventConsumer(
        PROBE,
        ServiceQueues.for_service(PROBE, settings),
        settings,
        probe.subscriptions(),
        lambda: UnitOfWork(sessions),
        broker,
    )
    task = asyncio.create_task(broker.run())
    try:
        await asyncio.wait_for(broker.wait_connected(), 15)
        yield RunningProbe(consumer, broker, engine)
    finally:
        await consumer.stop()
        await broker.close()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await engine.dispose()


async def _count_effects_by(database_url: str, column: Column[str]) -> dict[str, int]:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(select(column, func.count()).group_by(column))
            return {key: count for key, count in rows.all()}
    finally:
        await engine.dispose()


async def effect_counts(database_url: str) -> dict[str, int]:
    """Effects per request number: exactly-once means every value is 1."""
    return await _count_effects_by(database_url, effects.c.request_no)


async def effects_by_instance(database_url: str) -> dict[str, int]:
    return await _count_effects_by(database_url, effects.c.instance)


@asynccontextmanager
async def running_relay(database_url: str, settings: BrokerSettings) -> AsyncIterator[OutboxRelay]:
    """The outbox relay of the probe's database, as a service process runs it."""
    async with relay_running(PROBE, database_url, settings) as relay:
        await asyncio.wait_for(relay.wait_connected(), 15)
        yield relay
