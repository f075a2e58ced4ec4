"""The publishing side on the real RabbitMQ and PostgreSQL: an unroutable event stays in the
outbox and is counted; an event the relay publishes twice has one effect."""

from __future__ import annotations

from sqlalchemy import select, update

from shared.db.engine import create_engine, create_session_factory
from shared.db.messaging_tables import outbox
from shared.db.unit_of_work import UnitOfWork
from shared.events.schemas.intake import RequestRegisteredV1
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
