"""A subscription that tells from the message alone that its handler has nothing to do: the
message is acknowledged with no transaction and no inbox row; any other is handled as ever."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import aio_pika
from sqlalchemy import select

from shared.db.engine import create_engine
from shared.db.messaging_tables import inbox
from shared.events.envelope import Envelope
from shared.events.schemas.intake import RequestRegisteredV1
from shared.messaging.consumer import Subscription
from shared.messaging.topology import ServiceQueues, declare_exchange
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
)
from tests.support.waiting import eventually

NOTHING_TO_DO = "x-test-nothing-to-do"


def _nothing_to_do(_envelope: Envelope, headers: Mapping[str, Any]) -> bool:
    return headers.get(NOTHING_TO_DO) == "yes"


class _SettledProbe(Probe):
    def subscriptions(self) -> list[Subscription[RequestRegisteredV1]]:
        return [Subscription(RequestRegisteredV1, self.handle, settled=_nothing_to_do)]


async def _publish(settings: BrokerSettings, envelope: Envelope, headers: dict[str, Any]) -> None:
    connection = await aio_pika.connect(settings.amqp_url)
    try:
        channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
        exchange = await declare_exchange(channel, settings.exchange)
        await exchange.publish(
            aio_pika.Message(
                body=envelope.model_dump_json().encode(),
                headers=headers,
                message_id=str(envelope.id),
                type=envelope.type,
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            ),
            routing_key=envelope.routing_key,
            mandatory=True,
        )
    finally:
        await connection.close()


async def _inbox_ids(database_url: str) -> set[str]:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            return set((await connection.execute(select(inbox.c.message_id))).scalars())
    finally:
        await engine.dispose()


async def _depth(settings: BrokerSettings) -> int:
    connection = await aio_pika.connect(settings.amqp_url)
    try:
        channel = await connection.channel()
        queue = await channel.declare_queue(
            ServiceQueues.for_service(PROBE, settings).main, passive=True
        )
        return queue.declaration_result.message_count
    finally:
        await connection.close()


def _consumed(outcome: str) -> float:
    return sample(
        "aftersales_events_consumed_total",
        service=PROBE,
        event_type="intake.request.registered",
        outcome=outcome,
    )


async def test_a_settled_message_is_acknowledged_without_a_transaction(
    databases: DatabaseFactory, broker: BrokerSettings
) -> None:
    database_url = await databases.create("probe")
    await create_probe_schema(database_url)
    probe = _SettledProbe()
    settled, handled = registered("SR-2026-000601"), registered("SR-2026-000602")
    settled_before, handled_before = _consumed("settled"), _consumed("handled")
    async with running_probe(probe, database_url, broker):
        await _publish(broker, settled, {NOTHING_TO_DO: "yes"})
        await _publish(broker, handled, {NOTHING_TO_DO: "no"})
        await eventually(
            lambda: effect_counts(database_url),
            lambda counts: counts == {"SR-2026-000602": 1},
        )
        await eventually(
            lambda: _consumed("settled"), lambda seen: seen == settled_before + 1, what="settled"
        )
    # Acknowledged (not left for a redelivery), never handed to the handler, no inbox row.
    assert await _depth(broker) == 0
    assert [number for number, _at in probe.attempts] == ["SR-2026-000602"]
    assert await _inbox_ids(database_url) == {str(handled.id)}
    assert _consumed("handled") == handled_before + 1
