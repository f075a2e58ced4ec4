"""The publishing side on the real RabbitMQ and PostgreSQL: an unroutable event stays in the
outbox and is counted; an event the relay publishes twice has one effect."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import aio_pika
from sqlalchemy import select, text, update

from shared.db.engine import create_engine, create_session_factory
from shared.db.messaging_tables import outbox
from shared.db.unit_of_work import UnitOfWork
from shared.events.envelope import Envelope
from shared.events.schemas.intake import RequestCancelledV1, RequestRegisteredV1
from shared.messaging.broker import BrokerConnection
from shared.messaging.relay import OutboxRelay
from shared.messaging.topology import declare_exchange
from shared.messaging.transaction_events import TRANSACTION_EVENTS_HEADER, transaction_events
from shared.settings import BrokerSettings
from tests.support.databases import DatabaseFactory
from tests.support.metrics import sample
from tests.support.probe import (
    PROBE,
    Probe,
    create_probe_schema,
    effect_counts,
    registered,
    running_probe,
    running_relay,
)
from tests.support.waiting import eventually

EVENT = "intake.request.registered"


async def _write_event(database_url: str, request_no: str) -> str:
    """Commit one event through the unit of work, as a service's command would."""
    engine = create_engine(database_url)
    try:
        uow = UnitOfWork(create_session_factory(engine))
        async with uow:
            envelope = await uow.publish(
                RequestRegisteredV1.model_validate(registered(request_no).data)
            )
            await uow.commit()
        return str(envelope.id)
    finally:
        await engine.dispose()


async def _outbox_row(database_url: str, event_id: str) -> dict[str, object]:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            row = (
                await connection.execute(select(outbox).where(outbox.c.event_id == event_id))
            ).one()
            return dict(row._mapping)
    finally:
        await engine.dispose()


async def _mark_unpublished(database_url: str, event_id: str) -> None:
    engine = create_engine(database_url)
    try:
        async with engine.begin() as connection:
            await connection.execute(
                update(outbox).where(outbox.c.event_id == event_id).values(published_at=None)
            )
    finally:
        await engine.dispose()


async def test_unroutable_event_stays_pending_and_is_counted_until_a_queue_is_bound(
    databases: DatabaseFactory, broker: BrokerSettings
) -> None:
    database_url = await databases.create("probe")
    await create_probe_schema(database_url)
    unroutable_before = sample(
        "aftersales_events_published_total", service=PROBE, event_type=EVENT, outcome="unroutable"
    )
    event_id = await _write_event(database_url, "SR-2026-000777")

    async with running_relay(database_url, broker) as relay:
        # No consumer has bound a queue yet: the broker confirms but returns the message.
        row = await eventually(
            lambda: _outbox_row(database_url, event_id),
            lambda row: row["attempts"] >= 2,
            what="repeated unroutable attempts",
        )
        assert row["published_at"] is None
        assert str(row["last_error"]).startswith("unroutable")
        assert (
            sample(
                "aftersales_events_published_total",
                service=PROBE,
                event_type=EVENT,
                outcome="unroutable",
            )
            >= unroutable_before + 2
        )
        pending, lag = await relay.refresh_gauges()
        assert pending == 1 and lag > 0
        assert sample("aftersales_outbox_pending", service=PROBE) == 1

        # The consumer comes up and binds its queue: the pending event goes out, once.
        async with running_probe(Probe(), database_url, broker):
            await eventually(
                lambda: _outbox_row(database_url, event_id),
                lambda row: row["published_at"] is not None,
                what="the event published",
            )
            await eventually(
                lambda: effect_counts(database_url),
                lambda counts: counts == {"SR-2026-000777": 1},
            )
        assert (await relay.refresh_gauges())[0] == 0


async def test_event_published_twice_by_the_relay_has_one_effect(
    databases: DatabaseFactory, broker: BrokerSettings
) -> None:
    database_url = await databases.create("probe")
    await create_probe_schema(database_url)

    def consumed(outcome: str) -> float:
        return sample(
            "aftersales_events_consumed_total", service=PROBE, event_type=EVENT, outcome=outcome
        )

    duplicates_before = consumed("duplicate")
    async with (
        running_probe(Probe(), database_url, broker),
        running_relay(database_url, broker),
    ):
        event_id = await _write_event(database_url, "SR-2026-000888")
        await eventually(
            lambda: effect_counts(database_url),
            lambda counts: counts == {"SR-2026-000888": 1},
        )
        # The relay crashed after the broker's confirm and before marking the row: the
        # row is pending again and the next relay pass publishes the same event again.
        await _mark_unpublished(database_url, event_id)
        await eventually(
            lambda: _outbox_row(database_url, event_id),
            lambda row: row["published_at"] is not None,
            what="the event published a second time",
        )
        await eventually(
            lambda: consumed("duplicate"),
            lambda seen: seen == duplicates_before + 1,
            what="the second copy recognised as a duplicate",
        )
    assert await effect_counts(database_url) == {"SR-2026-000888": 1}


class _HeldAfterFirstPass(OutboxRelay):
    """The real relay, held at the end of its first pass that published something until
    the test lets it go: a commit lands "during" that pass at a moment of the test's choice."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.first_pass_done = asyncio.Event()
        self.let_go = asyncio.Event()

    async def publish_batch(self) -> int:
        published = await super().publish_batch()
        if published and not self.first_pass_done.is_set():
            self.first_pass_done.set()
            await self.let_go.wait()
        return published


async def test_a_commit_during_a_relay_pass_is_published_without_waiting_for_the_poll(
    databases: DatabaseFactory, broker: BrokerSettings
) -> None:
    """The wake of a commit that lands while the relay is busy with a pass is kept for the
    next pass; the poll (a minute here) would otherwise be what publishes it."""
    database_url = await databases.create("probe")
    await create_probe_schema(database_url)
    slow_poll = broker.model_copy(update={"relay_poll_seconds": 60.0})
    await _write_event(database_url, "SR-2026-000901")
    engine = create_engine(database_url)
    sessions = create_session_factory(engine)
    connection = BrokerConnection(slow_poll.amqp_url, PROBE)
    relay = _HeldAfterFirstPass(PROBE, sessions, connection, slow_poll)
    tasks: list[asyncio.Task[None]] = []
    try:
        async with running_probe(Probe(), database_url, slow_poll):
            # Started once the probe's queue is bound: the first event is routable at once.
            tasks += [asyncio.create_task(connection.run()), asyncio.create_task(relay.run())]
            await asyncio.wait_for(relay.first_pass_done.wait(), 15)
            uow = UnitOfWork(sessions, relay.wake)
            async with uow:
                await uow.publish(
                    RequestRegisteredV1.model_validate(registered("SR-2026-000902").data)
                )
                await uow.commit()
            relay.let_go.set()
            await eventually(
                lambda: effect_counts(database_url),
                lambda counts: counts == {"SR-2026-000901": 1, "SR-2026-000902": 1},
                within=10.0,
                what="the second event published by the next pass",
            )
    finally:
        relay.stop()
        await connection.close()
        for task in tasks:
            task.cancel()
        await asyncio.wait(tasks, timeout=5)
        await engine.dispose()


async def test_events_committed_together_name_each_other_and_a_lone_one_names_nothing(
    databases: DatabaseFactory, broker: BrokerSettings
) -> None:
    database_url = await databases.create("probe")
    await create_probe_schema(database_url)
    engine = create_engine(database_url)
    connection = await aio_pika.connect(broker.amqp_url)
    try:
        channel = await connection.channel()
        everything = await channel.declare_queue(exclusive=True)
        await everything.bind(await declare_exchange(channel, broker.exchange), routing_key="#")
        uow = UnitOfWork(create_session_factory(engine))
        async with uow:
            await uow.publish_all(
                [
                    RequestRegisteredV1.model_validate(registered("SR-2026-000951").data),
                    RequestCancelledV1(
                        request_no="SR-2026-000951", reason="dup", cancelled_at=datetime.now(UTC)
                    ),
                ]
            )
            await uow.commit()
        await _write_event(database_url, "SR-2026-000952")

        headers: dict[tuple[str, str], dict[str, Any]] = {}
        async with running_relay(database_url, broker), everything.iterator() as messages:
            async for message in messages:
                await message.ack()
                envelope = Envelope.model_validate_json(message.body)
                headers[envelope.data["request_no"], envelope.type] = message.headers or {}
                if len(headers) == 3:
                    break
        together = ["intake.request.registered.v1", "intake.request.cancelled.v1"]
        assert transaction_events(headers["SR-2026-000951", "intake.request.registered"]) == (
            together
        )
        assert transaction_events(headers["SR-2026-000951", "intake.request.cancelled"]) == (
            together
        )
        assert (
            TRANSACTION_EVENTS_HEADER not in headers["SR-2026-000952", "intake.request.registered"]
        )
    finally:
        await connection.close()
        await engine.dispose()


async def _terminate_other_connections(database_url: str) -> int:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            killed = await connection.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            )
            return len(killed.all())
    finally:
        await engine.dispose()


async def test_relay_whose_database_connections_are_killed_goes_on_publishing(
    databases: DatabaseFactory, broker: BrokerSettings
) -> None:
    database_url = await databases.create("probe")
    await create_probe_schema(database_url)
    async with (
        running_probe(Probe(), database_url, broker),
        running_relay(database_url, broker),
    ):
        await _write_event(database_url, "SR-2026-000971")
        await eventually(
            lambda: effect_counts(database_url), lambda counts: counts == {"SR-2026-000971": 1}
        )
        assert await _terminate_other_connections(database_url) > 0
        await _write_event(database_url, "SR-2026-000972")
        await eventually(
            lambda: effect_counts(database_url),
            lambda counts: counts == {"SR-2026-000971": 1, "SR-2026-000972": 1},
        )
