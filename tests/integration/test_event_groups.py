"""Events that arrive together are handled together, in one transaction, on the real
RabbitMQ and PostgreSQL (and SQLite, the embedded default): each still has exactly one
effect, a duplicate none, and a failing one is retried and parked alone while the others of
its group go through."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, select, text

from shared.db.engine import create_engine
from shared.db.messaging_tables import outbox
from shared.db.unit_of_work import UnitOfWork
from shared.events.envelope import Envelope
from shared.events.schemas.intake import RequestCancelledV1, RequestRegisteredV1
from shared.messaging.consumer import Subscription
from shared.messaging.dead_letters import list_parked
from shared.messaging.topology import ServiceQueues
from shared.settings import BrokerSettings
from tests.support.broker import publish_envelopes
from tests.support.databases import DatabaseFactory
from tests.support.metrics import sample
from tests.support.probe import (
    PROBE,
    Probe,
    create_probe_schema,
    effect_counts,
    effects,
    envelope_of,
    registered,
    running_probe,
)
from tests.support.waiting import eventually

FAILING = "SR-2026-990001"


def _grouping(broker: BrokerSettings) -> BrokerSettings:
    # One transaction at a time: whatever arrives meanwhile waits and goes in the next group.
    return broker.model_copy(update={"handler_concurrency": 1, "group_size": 8})


async def _database(databases: DatabaseFactory, backend: str, directory: Path) -> str:
    if backend == "sqlite":
        url = f"sqlite+aiosqlite:///{directory / 'probe.db'}"
    else:
        url = await databases.create("probe")
    await create_probe_schema(url)
    return url


def _groups() -> tuple[float, float]:
    """(groups, groups of one) handled by the probe so far."""
    return (
        sample("aftersales_event_group_size_count", service=PROBE),
        sample("aftersales_event_group_size_bucket", service=PROBE, le="1.0"),
    )


@pytest.mark.parametrize("backend", ["postgresql", "sqlite"])
async def test_events_arriving_together_each_have_one_effect_and_a_failing_one_stays_alone(
    databases: DatabaseFactory, broker: BrokerSettings, backend: str, tmp_path: Path
) -> None:
    database_url = await _database(databases, backend, tmp_path)
    settings = _grouping(broker)
    queues = ServiceQueues.for_service(PROBE, settings)
    events = [registered(f"SR-2026-{n:06d}") for n in range(1, 41)]
    poison = registered(FAILING)
    # Some arrive twice (a relay that crashed before marking them sent), within a group or
    # across groups; one cannot be handled at all.
    burst = [*events[:20], events[3], poison, events[3], *events[20:], events[0]]
    probe = Probe(failing={FAILING}, pause=0.01)
    groups_before, alone_before = _groups()

    async with running_probe(probe, database_url, settings):
        await publish_envelopes(settings, burst)
        parked = await eventually(
            lambda: list_parked(settings.amqp_url, queues),
            lambda found: len(found) == 1,
            within=30,
            what="the failing event parked",
        )
        counts = await eventually(
            lambda: effect_counts(database_url),
            lambda counts: len(counts) == len(events),
            what="every event handled",
        )

    assert counts == {e.data["request_no"]: 1 for e in events}
    assert [m.message_id for m in parked] == [str(poison.id)]
    assert parked[0].retries == len(settings.retry_delays)
    groups, alone = _groups()
    # They did go together: fewer transactions than events, some of more than one.
    assert groups - groups_before < len(burst)
    assert groups - groups_before > alone - alone_before
    # The failing event was tried in its group, then alone (its group one by one); back
    # from each retry it is tried alone at once, whatever else is waiting: the others of its
    # group were handled once each all the same.
    tries = [request_no for request_no, _at in probe.attempts if request_no == FAILING]
    assert len(tries) == 2 + len(settings.retry_delays)


async def test_events_published_by_handlers_of_one_group_carry_their_own_message(
    databases: DatabaseFactory, broker: BrokerSettings, tmp_path: Path
) -> None:
    """Correlation and causation are each message's own, and each handler's events are
    named apart (their own write time), as if each had committed alone."""
    database_url = await _database(databases, "postgresql", tmp_path)
    settings = _grouping(broker)
    events = [registered(f"SR-2026-{n:06d}", correlation_id=f"corr-{n}") for n in range(1, 25)]

    class Forwarding(Probe):
        async def handle(
            self, uow: UnitOfWork, event: RequestRegisteredV1, envelope: Envelope
        ) -> None:
            await super().handle(uow, event, envelope)
            await uow.publish(event)

    groups_before, alone_before = _groups()
    async with running_probe(Forwarding(pause=0.01), database_url, settings) as running:
        await publish_envelopes(settings, events)
        await eventually(
            lambda: effect_counts(database_url),
            lambda counts: len(counts) == len(events),
            what="every event handled",
        )
        async with running.engine.connect() as connection:
            rows = (
                await connection.execute(
                    select(outbox.c.envelope, outbox.c.correlation_id, outbox.c.created_at)
                )
            ).all()
    groups, alone = _groups()
    assert groups - groups_before > alone - alone_before  # some went together

    by_request = {}
    for envelope_json, correlation_id, _created in rows:
        published = json.loads(envelope_json)
        by_request[published["data"]["request_no"]] = (
            published["correlation_id"],
            correlation_id,
            published["causation_id"],
        )
    assert by_request == {
        e.data["request_no"]: (e.correlation_id, e.correlation_id, str(e.id)) for e in events
    }
    assert len({created for _e, _c, created in rows}) == len(events)


async def test_a_group_kept_waiting_for_a_lock_gives_way_and_its_events_go_one_by_one(
    databases: DatabaseFactory, broker: BrokerSettings, tmp_path: Path, caplog: Any
) -> None:
    """Another transaction holds what a group needs: rather than wait (two groups could wait
    for each other for ever), the group gives up after 100 ms; its events are handled alone,
    each waiting as long as it takes, and each has its one effect."""
    database_url = await _database(databases, "postgresql", tmp_path)
    settings = _grouping(broker)
    events = [registered(f"SR-2026-{n:06d}") for n in range(1, 13)]
    contended = events[5].data["request_no"]

    class Contending(Probe):
        async def handle(
            self, uow: UnitOfWork, event: RequestRegisteredV1, envelope: Envelope
        ) -> None:
            if event.request_no == contended:
                await uow.session.execute(text("SELECT pg_advisory_xact_lock(4242)"))
            await super().handle(uow, event, envelope)

    holder = create_engine(database_url)
    try:
        async with running_probe(Contending(pause=0.05), database_url, settings):
            async with holder.connect() as connection:
                await connection.execute(text("SELECT pg_advisory_lock(4242)"))
                # The first event goes alone; the others wait for it and go together, one of
                # them needing the lock, held well past the group's 100 ms.
                await publish_envelopes(settings, events)
                await asyncio.sleep(1.0)
                await connection.execute(text("SELECT pg_advisory_unlock(4242)"))
            counts = await eventually(
                lambda: effect_counts(database_url),
                lambda counts: len(counts) == len(events),
                what="every event handled",
            )
    finally:
        await holder.dispose()
    assert counts == {e.data["request_no"]: 1 for e in events}
    gave_way = [r for r in caplog.records if r.getMessage().startswith("a group of events failed")]
    assert gave_way, "no group gave way"
    assert all("lock timeout" in str(getattr(r, "error", "")) for r in gave_way)


def _cancelled(request_no: str) -> Envelope:
    return envelope_of(
        RequestCancelledV1(request_no=request_no, reason="客户撤销", cancelled_at=datetime.now(UTC))
    )


class _Batching(Probe):
    """Registrations through ``handle_all`` (one statement for all), independent of the
    cancellations, which go one by one and note the order they are handled in."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.batches: list[list[str]] = []
        self.cancellations: list[str] = []

    async def handle_all(
        self, uow: UnitOfWork, events: Sequence[tuple[RequestRegisteredV1, Envelope]]
    ) -> None:
        self.batches.append([event.request_no for event, _ in events])
        await uow.session.execute(
            insert(effects),
            [
                {"request_no": event.request_no, "instance": "all", "at": datetime.now(UTC)}
                for event, _ in events
            ],
        )

    async def cancel(self, uow: UnitOfWork, event: RequestCancelledV1, _env: Envelope) -> None:
        self.cancellations.append(event.request_no)
        await asyncio.sleep(self.pause)

    def subscriptions(self) -> list[Subscription[Any]]:
        return [
            Subscription(
                RequestRegisteredV1, self.handle, handle_all=self.handle_all, independent=True
            ),
            Subscription(RequestCancelledV1, self.cancel),
        ]


@pytest.mark.parametrize("backend", ["postgresql", "sqlite"])
async def test_a_subscriptions_events_of_a_group_go_to_its_handle_all_at_once(
    databases: DatabaseFactory, broker: BrokerSettings, backend: str, tmp_path: Path
) -> None:
    """Interleaved with another subscription's (a request's registration, then another
    event about it, then the next request's): an independent subscription's events of a
    group go to ``handle_all`` together, the others are handled one by one in their order."""
    database_url = await _database(databases, backend, tmp_path)
    settings = _grouping(broker)
    numbers = [f"SR-2026-{n:06d}" for n in range(1, 31)]
    burst = [e for n in numbers for e in (registered(n), _cancelled(n))]
    probe = _Batching(pause=0.01)
    async with running_probe(probe, database_url, settings):
        await publish_envelopes(settings, burst)
        counts = await eventually(
            lambda: effect_counts(database_url),
            lambda counts: len(counts) == len(numbers),
            what="every registration handled",
        )
        await eventually(
            lambda: asyncio.sleep(0, len(probe.cancellations)),
            lambda handled: handled == len(numbers),
            what="every cancellation handled",
        )
    assert counts == dict.fromkeys(numbers, 1)
    assert probe.cancellations == numbers
    assert max(len(batch) for batch in probe.batches) > 1, probe.batches
    # The first registration of all arrives alone, as does one back from a retry: handled
    # by ``handler``; the others went to ``handle_all`` together.
    assert sum(len(batch) for batch in probe.batches) + len(probe.attempts) == len(numbers)
