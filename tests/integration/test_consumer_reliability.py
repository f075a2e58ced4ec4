"""The consuming side on the real RabbitMQ and PostgreSQL: a crash between commit and ack,
a poison message, and two instances competing for one queue."""

from __future__ import annotations

import asyncio
import itertools
import sys

import aio_pika

from shared.messaging.dead_letters import list_parked, replay_parked
from shared.messaging.topology import ServiceQueues
from shared.settings import BrokerSettings
from tests.support.broker import (
    isolated_broker_settings,
    publish_envelopes,
    publish_raw,
    remove_broker_objects,
)
from tests.support.crash_after_commit import CRASH_EXIT_CODE
from tests.support.databases import DatabaseFactory
from tests.support.metrics import sample
from tests.support.probe import (
    PROBE,
    Probe,
    create_probe_schema,
    effect_counts,
    effects_by_instance,
    registered,
    running_probe,
)
from tests.support.servers import Servers
from tests.support.waiting import eventually

EVENT = "intake.request.registered"


async def _queue_state(settings: BrokerSettings, name: str) -> tuple[int, int] | None:
    """(messages, consumers) of a queue, or None while it does not exist."""
    connection = await aio_pika.connect(settings.amqp_url)
    try:
        channel = await connection.channel()
        queue = await channel.declare_queue(name, passive=True)
        result = queue.declaration_result
        return result.message_count, result.consumer_count
    except aio_pika.exceptions.ChannelClosed:
        return None
    finally:
        await connection.close()


async def _queue_depth(settings: BrokerSettings, name: str) -> int | None:
    state = await _queue_state(settings, name)
    return None if state is None else state[0]


def _consuming(state: tuple[int, int] | None) -> bool:
    # A consumer starts only after the queue is declared and bound.
    return state is not None and state[1] > 0


async def _probe_database(databases: DatabaseFactory) -> str:
    url = await databases.create("probe")
    await create_probe_schema(url)
    return url


async def test_consumer_killed_after_commit_before_ack_has_no_second_effect(
    databases: DatabaseFactory, broker: BrokerSettings
) -> None:
    database_url = await _probe_database(databases)
    queues = ServiceQueues.for_service(PROBE, broker)
    crashing = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.support.crash_after_commit",
        database_url,
        broker.amqp_url,
        broker.exchange,
        broker.queue_prefix,
    )
    try:
        await eventually(
            lambda: _queue_state(broker, queues.main),
            _consuming,
            what="the crashing consumer consuming",
        )
        envelope = registered("SR-2026-900001")
        await publish_envelopes(broker, [envelope])
        exit_code = await asyncio.wait_for(crashing.wait(), 30)
    finally:
        if crashing.returncode is None:
            crashing.kill()
            await crashing.wait()
    assert exit_code == CRASH_EXIT_CODE
    assert await effect_counts(database_url) == {"SR-2026-900001": 1}

    duplicates_before = sample(
        "aftersales_events_consumed_total", service=PROBE, event_type=EVENT, outcome="duplicate"
    )
    async with running_probe(Probe(instance="b"), database_url, broker):
        await eventually(
            lambda: sample(
                "aftersales_events_consumed_total",
                service=PROBE,
                event_type=EVENT,
                outcome="duplicate",
            ),
            lambda seen: seen == duplicates_before + 1,
            what="the redelivered message recognised as a duplicate",
        )
        await eventually(lambda: _queue_depth(broker, queues.main), lambda d: d == 0)
    assert await effect_counts(database_url) == {"SR-2026-900001": 1}


async def test_message_that_kills_every_consumer_is_parked_by_the_delivery_limit(
    databases: DatabaseFactory, servers: Servers
) -> None:
    database_url = await _probe_database(databases)
    broker = isolated_broker_settings(servers.amqp_url, EVENTS_DELIVERY_LIMIT=2)
    queues = ServiceQueues.for_service(PROBE, broker)
    envelope = registered("SR-2026-900002")
    crashes = 0
    try:
        for _ in range(6):
            consumer = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "tests.support.crash_after_commit",
                database_url,
                broker.amqp_url,
                broker.exchange,
                broker.queue_prefix,
                "in-handler",
                str(broker.delivery_limit),
            )
            if crashes == 0:
                # Later consumers may take the waiting message and die between two looks,
                # so only the first is watched until it consumes.
                await eventually(lambda: _queue_state(broker, queues.main), _consuming)
                await publish_envelopes(broker, [envelope])
            try:
                code = await asyncio.wait_for(consumer.wait(), 8)
            except TimeoutError:
                # Nothing left to kill it: the message is no longer delivered.
                consumer.kill()
                await consumer.wait()
                break
            assert code == CRASH_EXIT_CODE
            crashes += 1
        parked = await list_parked(broker.amqp_url, queues)
    finally:
        await remove_broker_objects(broker, [PROBE])
    assert crashes == broker.delivery_limit + 1
    assert [m.message_id for m in parked] == [str(envelope.id)]
    assert parked[0].error.startswith("dead-lettered by the broker")
    assert await effect_counts(database_url) == {}


async def test_poison_message_is_retried_on_schedule_parked_and_replayed_once(
    databases: DatabaseFactory, broker: BrokerSettings
) -> None:
    database_url = await _probe_database(databases)
    queues = ServiceQueues.for_service(PROBE, broker)
    poison = registered("SR-2026-999999")
    healthy = [registered(f"SR-2026-{n:06d}") for n in range(1, 21)]
    probe = Probe(failing={"SR-2026-999999"})

    async with running_probe(probe, database_url, broker):
        await publish_envelopes(broker, [poison, *healthy])
        await publish_raw(broker, b"{not json", poison.routing_key)

        parked = await eventually(
            lambda: list_parked(broker.amqp_url, queues),
            lambda found: len(found) == 2,
            what="two parked messages",
        )
        by_id = {message.message_id: message for message in parked}
        assert by_id[str(poison.id)].retries == len(broker.retry_delays)
        assert "cannot handle SR-2026-999999" in by_id[str(poison.id)].error
        assert by_id[str(poison.id)].routing_key == poison.routing_key
        unparseable = next(m for m in parked if m.message_id != str(poison.id))
        assert unparseable.retries == 0
        assert unparseable.error.startswith("unparseable")

        # Tried once, then after each delay of the schedule, and no more.
        tries = [at for request_no, at in probe.attempts if request_no == "SR-2026-999999"]
        assert len(tries) == 1 + len(broker.retry_delays)
        for gap, delay in zip(
            (b - a for a, b in itertools.pairwise(tries)),
            broker.retry_delays,
            strict=True,
        ):
            assert gap >= delay * 0.9, (gap, delay)
        # The poison message blocked nobody: all others were handled before it was given up.
        counts = await effect_counts(database_url)
        assert {n: counts.get(n) for n in (e.data["request_no"] for e in healthy)} == {
            e.data["request_no"]: 1 for e in healthy
        }
        healthy_done = max(
            at for request_no, at in probe.attempts if request_no != "SR-2026-999999"
        )
        assert healthy_done < tries[-1]

        # The fix is deployed; the operator replays the one message.
        probe.failing.clear()
        assert await replay_parked(broker.amqp_url, queues, message_id=str(poison.id)) == [
            str(poison.id)
        ]
        await eventually(
            lambda: effect_counts(database_url),
            lambda counts: counts.get("SR-2026-999999") == 1,
            what="the replayed message handled",
        )
        # Replaying again finds nothing to replay; the unparseable one stays parked.
        assert await replay_parked(broker.amqp_url, queues, message_id=str(poison.id)) == []
        remaining = await list_parked(broker.amqp_url, queues)
        assert [m.message_id for m in remaining] == [unparseable.message_id]
        await asyncio.sleep(0.3)
    assert (await effect_counts(database_url))["SR-2026-999999"] == 1


async def test_two_instances_on_one_queue_give_every_event_exactly_one_effect(
    databases: DatabaseFactory, broker: BrokerSettings
) -> None:
    database_url = await _probe_database(databases)
    settings = broker.model_copy(update={"prefetch": 10})
    events = [registered(f"SR-2026-{n:06d}") for n in range(1, 201)]

    async with (
        running_probe(Probe(instance="a"), database_url, settings),
        running_probe(Probe(instance="b"), database_url, settings),
    ):
        # Every event arrives twice, as after a relay crash: the instances race for each.
        await publish_envelopes(settings, [*events, *events])
        counts = await eventually(
            lambda: effect_counts(database_url),
            lambda counts: sum(counts.values()) >= len(events),
            within=60,
            what="all events handled",
        )
        await eventually(
            lambda: _queue_depth(settings, ServiceQueues.for_service(PROBE, settings).main),
            lambda depth: depth == 0,
            what="the queue drained",
        )
        counts = await effect_counts(database_url)
    assert counts == {e.data["request_no"]: 1 for e in events}
    shares = await effects_by_instance(database_url)
    assert set(shares) == {"a", "b"}, shares


async def test_stopping_lets_the_event_being_handled_finish_and_be_acknowledged(
    databases: DatabaseFactory, broker: BrokerSettings
) -> None:
    """A rolling deploy stops an instance mid-event: the event finishes (bounded), its effect
    is committed and acknowledged, so it is neither lost nor handled again elsewhere."""
    database_url = await _probe_database(databases)
    queues = ServiceQueues.for_service(PROBE, broker)
    probe = Probe(pause=1.0)
    async with running_probe(probe, database_url, broker) as running:
        await eventually(lambda: _queue_state(broker, queues.main), _consuming)
        await publish_envelopes(broker, [registered("SR-2026-000701")])
        await eventually(lambda: asyncio.sleep(0, len(probe.attempts)), lambda n: n == 1)
        await running.consumer.stop()
        # Stopped only once the event was handled: its effect is there, the queue is empty.
        assert await effect_counts(database_url) == {"SR-2026-000701": 1}
        assert await _queue_depth(broker, queues.main) == 0
