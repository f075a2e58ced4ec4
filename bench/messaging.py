"""Event throughput: raw aio-pika publishing, the outbox relay, and one consumer's inbox.

All three move the same envelopes (a triaged v2 event, about a kilobyte) to quorum queues
with persistent messages and publisher confirms, so that their figures compare. Beside each
throughput, the CPU this process spent per event over the same seconds: on a machine shared
with other people's work, the figure to compare between two versions.

    .venv/bin/python -m bench.messaging [--phases relay,consume,paced,...] [--rate 200]

``paced`` is the path of a dealer report's events at a steady rate: each report's
transaction commits ``intake.request.registered`` and ``intake.request.triaged`` to the
outbox and wakes the relay, as a service's unit of work does; intake's consumer receives
the registration (intake's own subscription, its handler made trivial), and a second
consumer, standing for dispatch, the triage. It prints the CPU per report of all of it and
the latency from each commit to the triage's handler (p50, p99). ``paced_relay`` is the
relay alone on the same events (a queue takes them, nobody consumes them);
``consume_registrations`` the consumer alone on dealer reports' registrations.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import resource
import statistics
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import aio_pika
import asyncpg
from prometheus_client import REGISTRY
from sqlalchemy import func, insert, select
from sqlalchemy.engine import make_url

from bench.servers import add_server_arguments
from shared.db.engine import create_engine, create_session_factory
from shared.db.messaging_tables import inbox, messaging_metadata, outbox
from shared.db.unit_of_work import UnitOfWork
from shared.events.envelope import Envelope
from shared.events.schemas.intake import RequestRegisteredV1, RequestTriagedV2
from shared.messaging.broker import BrokerConnection
from shared.messaging.consumer import EventConsumer, Subscription
from shared.messaging.relay import relay_running
from shared.messaging.topology import ServiceQueues, declare_exchange
from shared.settings import BrokerSettings

CONSUMER = "benchconsumer"


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@dataclass(frozen=True)
class Measured:
    """Events moved, the seconds it took, and this process's CPU over those seconds."""

    events: int
    seconds: float
    cpu_seconds: float

    @property
    def eps(self) -> float:
        return self.events / self.seconds

    @property
    def cpu_us_per_event(self) -> float:
        return self.cpu_seconds / self.events * 1e6

    def figures(self) -> dict[str, float]:
        return {"eps": round(self.eps), "cpu_us_per_event": round(self.cpu_us_per_event, 1)}


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


async def publish_raw(
    broker: BrokerSettings,
    routing_key: str,
    count: int,
    window: int,
    envelope: Callable[[int], Envelope] | None = None,
    headers: dict[str, Any] | None = None,
) -> float:
    """Events/s published with confirms, ``window`` unconfirmed at a time (triaged v2
    envelopes unless told otherwise)."""
    make = envelope or triaged
    bodies = [make(n).model_dump_json().encode() for n in range(count)]
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
                        headers=headers,
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
    return (await relay_measured(broker, database_url, count)).eps


async def relay_measured(broker: BrokerSettings, database_url: str, count: int) -> Measured:
    """The relay publishing an outbox holding ``count`` pending rows, until all are marked."""
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
        started, cpu = time.perf_counter(), _cpu()
        async with relay_running("bench", database_url, broker):
            while True:
                async with engine.connect() as connection:
                    left = (await connection.execute(pending)).scalar_one()
                if left == 0:
                    break
                await asyncio.sleep(0.05)
            took, cpu = time.perf_counter() - started, _cpu() - cpu
        return Measured(count, took, cpu)
    finally:
        await engine.dispose()
        await delete_queues(broker, [queue])


async def _nothing(_uow: UnitOfWork, _event: RequestTriagedV2, _envelope: Envelope) -> None:
    """The trivial handler: the consumer's own work (inbox row, transaction, ack) is measured."""


async def consume_eps(
    broker: BrokerSettings, database_url: str, count: int, **engine_options: Any
) -> float:
    """Events/s one consumer handles from a queue already holding ``count`` messages."""
    return (await consume_measured(broker, database_url, count, **engine_options)).eps


async def consume_measured(
    broker: BrokerSettings,
    database_url: str,
    count: int,
    registrations: bool = False,
    **engine_options: Any,
) -> Measured:
    """One consumer handling a queue already holding ``count`` messages, until it has
    acknowledged them all. ``registrations``: dealer reports' registrations (as the relay
    publishes them: named with their triage in ``x-transaction-events``) to intake's own
    subscription, its handler made trivial; otherwise triaged events to a trivial handler."""
    queues = ServiceQueues.for_service(CONSUMER, broker)
    engine = create_engine(database_url, **engine_options)
    sessions = create_session_factory(engine)
    async with engine.begin() as connection:
        await connection.run_sync(messaging_metadata.create_all)
    subscriptions = (
        [_intake_registration()] if registrations else [Subscription(RequestTriagedV2, _nothing)]
    )
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
        if registrations:
            await publish_raw(
                broker,
                RequestRegisteredV1.routing_key(),
                count,
                window=500,
                envelope=lambda n: registered(n, str(uuid.uuid4())),
                headers={_TRANSACTION_EVENTS: _REPORT_KEYS},
            )
        else:
            await publish_raw(broker, RequestTriagedV2.routing_key(), count, window=500)

        broker_connection = BrokerConnection(broker.amqp_url, CONSUMER)
        EventConsumer(
            CONSUMER, queues, broker, subscriptions, lambda: UnitOfWork(sessions), broker_connection
        )
        before = _acknowledged()
        started, cpu = time.perf_counter(), _cpu()
        runner = asyncio.create_task(broker_connection.run())
        try:
            while True:
                if _acknowledged() - before >= count:
                    break
                await asyncio.sleep(0.05)
            took, cpu = time.perf_counter() - started, _cpu() - cpu
        finally:
            await broker_connection.close()
            await asyncio.wait([runner], timeout=5)
        return Measured(count, took, cpu)
    finally:
        await engine.dispose()
        await delete_queues(broker, names)


# What the relay writes on a dealer report's registration (shared.messaging.
# transaction_events), spelled out so that this bench runs on versions before it too.
_TRANSACTION_EVENTS = "x-transaction-events"
_REPORT_KEYS = [RequestRegisteredV1.routing_key(), RequestTriagedV2.routing_key()]


def _acknowledged() -> float:
    """Messages the bench's consumer acknowledged after handling them (or finding nothing
    to do), from its own counter."""
    return sum(
        metric.value
        for family in REGISTRY.collect()
        if family.name == "aftersales_events_consumed"
        for metric in family.samples
        if metric.name.endswith("_total")
        and metric.labels.get("service") == CONSUMER
        and metric.labels.get("outcome") in ("handled", "settled", "duplicate")
    )


def registered(number: int, correlation_id: str) -> Envelope:
    event = RequestRegisteredV1(
        request_no=f"SR-2026-{number:06d}",
        channel="dealer",
        customer_name="张伟",
        product_model="WX-200",
        serial_no=f"WX200-2025-{number:06d}",
        fault_description="开机无反应",
        received_at=datetime.now(UTC),
    )
    return Envelope(
        type=event.event_type,
        version=event.event_version,
        producer=event.producer,
        correlation_id=correlation_id,
        data=event.model_dump(mode="json"),
    )


# A dealer report's two events in one statement (one implicit transaction), as the report's
# transaction writes them.
_REPORT_EVENTS = (
    "INSERT INTO outbox (event_id, event_type, routing_key, envelope, correlation_id,"
    " created_at, next_attempt_at, attempts) VALUES"
    " ($1, $2, $3, $4, $5, $6, $6, 0), ($7, $8, $9, $10, $5, $6, $6, 0)"
)


def _report_rows(number: int) -> tuple[str, list[Any]]:
    """The statement's arguments for one report, and the id of its triage event."""
    correlation_id = str(uuid.uuid4())
    first = registered(number, correlation_id)
    second = triaged(number).model_copy(update={"correlation_id": correlation_id})
    arguments: list[Any] = [str(first.id), first.type, first.routing_key]
    arguments += [first.model_dump_json(), correlation_id, None]
    arguments += [str(second.id), second.type, second.routing_key, second.model_dump_json()]
    return str(second.id), arguments


async def _nothing_registered(
    _uow: UnitOfWork, _event: RequestRegisteredV1, _envelope: Envelope
) -> None:
    """Intake's handler made trivial: what the consumer costs around it is measured."""


def _intake_registration() -> Subscription[Any]:
    """Intake's own subscription to its registrations (whatever it declares besides the
    handler), with a handler that does nothing."""
    from services.intake.events.subscriptions import SUBSCRIPTIONS

    (subscription,) = [s for s in SUBSCRIPTIONS if s.schema is RequestRegisteredV1]
    return dataclasses.replace(subscription, handler=_nothing_registered)


def _asyncpg_dsn(database_url: str) -> str:
    return make_url(database_url).set(drivername="postgresql").render_as_string(False)


@asynccontextmanager
async def _running(*work: Callable[[], Awaitable[None]]) -> AsyncIterator[None]:
    tasks = [asyncio.create_task(w()) for w in work]
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.wait(tasks, timeout=5)


async def paced(
    broker: BrokerSettings, database_url: str, rate: float, seconds: float
) -> dict[str, Any]:
    """Dealer reports' events at ``rate`` reports/s for ``seconds``: relay, intake's consumer
    and a dispatch stand-in in this process (production settings); CPU per report and the
    latency from each report's commit to the handler of its triage."""
    from shared.messaging.relay import OutboxRelay

    intake = ServiceQueues.for_service("benchintake", broker)
    dispatch = ServiceQueues.for_service("benchdispatch", broker)
    engine = create_engine(database_url)
    sessions = create_session_factory(engine)
    async with engine.begin() as connection:
        await connection.run_sync(messaging_metadata.create_all)
    reports = round(rate * seconds)
    rows = [_report_rows(n) for n in range(reports)]
    committed: dict[str, float] = {}
    latencies: list[float] = []
    everything = asyncio.Event()

    async def assigned(_uow: UnitOfWork, _event: RequestTriagedV2, envelope: Envelope) -> None:
        latencies.append(time.perf_counter() - committed[str(envelope.id)])
        if len(latencies) == reports:
            everything.set()

    intake_broker = BrokerConnection(broker.amqp_url, "benchintake")
    relay = OutboxRelay("benchintake", sessions, intake_broker, broker)
    EventConsumer(
        "benchintake",
        intake,
        broker,
        [_intake_registration()],
        lambda: UnitOfWork(sessions, relay.wake),
        intake_broker,
    )
    dispatch_broker = BrokerConnection(broker.amqp_url, "benchdispatch")
    EventConsumer(
        "benchdispatch",
        dispatch,
        broker,
        [Subscription(RequestTriagedV2, assigned)],
        lambda: UnitOfWork(sessions),
        dispatch_broker,
    )
    writer = await asyncpg.connect(_asyncpg_dsn(database_url))
    names = [
        name
        for queues in (intake, dispatch)
        for name in (
            queues.main,
            queues.dead_letter,
            *(queues.delay(s) for s in broker.retry_delays),
        )
    ]
    try:
        async with _running(intake_broker.run, dispatch_broker.run, relay.run):
            await intake_broker.wait_connected()
            await dispatch_broker.wait_connected()
            statement = await writer.prepare(_REPORT_EVENTS)
            started, cpu = time.perf_counter(), _cpu()
            for n, (event_id, arguments) in enumerate(rows):
                delay = started + n / rate - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                arguments[5] = datetime.now(UTC)
                await statement.fetch(*arguments)
                committed[event_id] = time.perf_counter()
                relay.wake()
            await asyncio.wait_for(everything.wait(), 120)
            took, cpu = time.perf_counter() - started, _cpu() - cpu
            relay.stop()
        async with engine.connect() as connection:
            handled = (await connection.execute(select(func.count()).select_from(inbox))).scalar()
    finally:
        await writer.close()
        await intake_broker.close()
        await dispatch_broker.close()
        await engine.dispose()
        await delete_queues(broker, names)
    ordered = sorted(latencies)
    return {
        "reports": reports,
        "reports_per_second": round(reports / took, 1),
        "cpu_us_per_report": round(cpu / reports * 1e6, 1),
        "commit_to_handler_ms": {
            "p50": round(statistics.median(ordered) * 1000, 1),
            "p99": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000, 1),
            "max": round(ordered[-1] * 1000, 1),
        },
        "inbox_rows_per_report": round((handled or 0) / reports, 2),
    }


async def paced_relay(
    broker: BrokerSettings, database_url: str, rate: float, seconds: float
) -> dict[str, Any]:
    """The relay alone on dealer reports' events at ``rate`` reports/s (a queue takes them,
    nobody consumes): the relay's CPU per report, the writer's included."""
    from shared.messaging.relay import OutboxRelay

    queue = f"{broker.queue_prefix}.bench.paced"
    for key in (RequestRegisteredV1.routing_key(), RequestTriagedV2.routing_key()):
        await _bound_queue(broker, queue, key)
    engine = create_engine(database_url)
    sessions = create_session_factory(engine)
    async with engine.begin() as connection:
        await connection.run_sync(messaging_metadata.create_all)
    reports = round(rate * seconds)
    rows = [_report_rows(n) for n in range(reports)]
    connection_for_relay = BrokerConnection(broker.amqp_url, "benchrelay")
    relay = OutboxRelay("benchrelay", sessions, connection_for_relay, broker)
    writer = await asyncpg.connect(_asyncpg_dsn(database_url))
    pending = select(func.count()).where(outbox.c.published_at.is_(None))
    try:
        async with _running(connection_for_relay.run, relay.run):
            await connection_for_relay.wait_connected()
            statement = await writer.prepare(_REPORT_EVENTS)
            started, cpu = time.perf_counter(), _cpu()
            for n, (_event_id, arguments) in enumerate(rows):
                delay = started + n / rate - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                arguments[5] = datetime.now(UTC)
                await statement.fetch(*arguments)
                relay.wake()
            while True:
                async with engine.connect() as connection:
                    if (await connection.execute(pending)).scalar_one() == 0:
                        break
                await asyncio.sleep(0.05)
            took, cpu = time.perf_counter() - started, _cpu() - cpu
            relay.stop()
    finally:
        await writer.close()
        await connection_for_relay.close()
        await engine.dispose()
        await delete_queues(broker, [queue])
    return {
        "reports": reports,
        "reports_per_second": round(reports / took, 1),
        "cpu_us_per_report": round(cpu / reports * 1e6, 1),
    }


async def _measure(arguments: argparse.Namespace) -> dict[str, Any]:
    from bench.run import scratch  # bench.run imports this module

    phases = set(arguments.phases.split(","))
    results: dict[str, Any] = {"load_average_at_start": os.getloadavg()[0]}
    async with scratch(arguments.admin_url, arguments.amqp_url) as place:
        if "relay" in phases:
            url = await place.database("relay")
            results["relay"] = (await relay_measured(place.broker, url, arguments.events)).figures()
        if "consume" in phases:
            url = await place.database("consume")
            measured = await consume_measured(place.broker, url, arguments.events // 2)
            results["consume"] = measured.figures()
        if "consume_registrations" in phases:
            url = await place.database("consume_registrations")
            measured = await consume_measured(
                place.broker, url, arguments.events // 2, registrations=True
            )
            results["consume_registrations"] = measured.figures()
        if "paced_relay" in phases:
            url = await place.database("paced_relay")
            results["paced_relay"] = await paced_relay(
                place.broker, url, arguments.rate, arguments.seconds
            )
        if "paced" in phases:
            url = await place.database("paced")
            results["paced"] = await paced(place.broker, url, arguments.rate, arguments.seconds)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_server_arguments(parser)
    parser.add_argument("--phases", default="relay,consume,consume_registrations,paced_relay,paced")
    parser.add_argument("--events", type=int, default=20_000, help="relay (consume: half)")
    parser.add_argument("--rate", type=float, default=200.0, help="paced: reports/s")
    parser.add_argument("--seconds", type=float, default=10.0, help="paced: how long")
    import uvloop

    print(json.dumps(uvloop.run(_measure(parser.parse_args())), indent=2))


if __name__ == "__main__":
    main()
