"""Consuming a service's queue: once per message, whatever the broker redelivers.

For each delivery: parse the envelope (unparseable: park at once), find the subscription
(none: acknowledge and ignore), then in one transaction record the message id in the inbox
and run the handler. A duplicate id means the effect already happened: acknowledge only.
Messages that arrive while every handling transaction is busy are handled together in the
next one (``shared.group_commit``): their inbox rows in one statement, their handlers one
after another, each starting with a clean session as if alone, one commit (messages of one
subscription next to each other go to its ``handle_all`` at once, where it has one, which
does what its handler would do to each in turn); if anything in the
group fails, it is rolled back and each message is handled alone, so a failure is retried
or parked for the message that caused it and the others are not held back. A
subscription may say from the message alone that its handler has nothing to do (``settled``):
then the message is acknowledged with no transaction at all.
Acknowledge after commit, never before. A handler error sends a copy through the next delay
queue (the retry schedule) or, when the schedule is spent, to the dead-letter queue, and only
then acknowledges the original, so no message is lost and none blocks the queue behind it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

import aio_pika
import aiormq
from aio_pika.abc import (
    AbstractChannel,
    AbstractConnection,
    AbstractExchange,
    AbstractIncomingMessage,
    AbstractQueue,
)
from prometheus_client import Counter, Histogram
from pydantic import ValidationError
from sqlalchemy import Insert, insert, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db.messaging_tables import inbox
from shared.db.unit_of_work import UnitOfWork
from shared.events.envelope import Envelope
from shared.events.registry import EventSchema
from shared.group_commit import GroupCommit
from shared.messaging.broker import BrokerConnection
from shared.messaging.retry import RetrySchedule
from shared.messaging.topology import ServiceQueues, declare_service_queues
from shared.observability.context import correlated
from shared.observability.metrics import (
    DEAD_LETTERS,
    EVENT_GROUP_SIZE,
    EVENT_HANDLING_DURATION,
    EVENTS_CONSUMED,
)
from shared.settings import BrokerSettings

log = logging.getLogger(__name__)

# Built once: a statement built per message costs more CPU in SQLAlchemy than its round trip.
_INBOX_ROW = insert(inbox)
_GROUP_LOCK_WAIT = text("SET LOCAL lock_timeout = '100ms'")
# A group's inbox rows: those already there (handled before) are skipped, the new ones named.
_INBOX_ROWS_NEW: dict[str, Insert] = {
    "postgresql": postgresql.insert(inbox).on_conflict_do_nothing().returning(inbox.c.message_id),
    "sqlite": sqlite.insert(inbox).on_conflict_do_nothing().returning(inbox.c.message_id),
}

E = TypeVar("E", bound=EventSchema)
Handler = Callable[[UnitOfWork, E, Envelope], Awaitable[None]]
# Several events of one subscription, in the order they came.
AllHandler = Callable[[UnitOfWork, Sequence[tuple[E, Envelope]]], Awaitable[None]]
# From the envelope and the message's headers: True when the handler has nothing to do.
Settled = Callable[[Envelope, Mapping[str, Any]], bool]

RETRY_COUNT_HEADER = "x-retry-count"
ERROR_HEADER = "x-error"
ERROR_TYPE_HEADER = "x-error-type"
PARKED_AT_HEADER = "x-parked-at"
ORIGINAL_ROUTING_KEY_HEADER = "x-original-routing-key"


@dataclass(frozen=True)
class Subscription(Generic[E]):
    """A service handles this event type and version with this handler."""

    schema: type[E]
    handler: Handler[E]
    # True for a message whose handling would change nothing, now or whenever it came
    # again: it is acknowledged without a transaction and without an inbox row, which only
    # that makes safe (a redelivery finds no inbox row, and has nothing to do either).
    settled: Settled | None = None
    # Does to several events, in fewer statements, exactly what ``handler`` does to each in
    # turn (the events of one group that follow each other): for handlers that run for most
    # messages and whose statements can take many rows at once. What it publishes for an
    # event it publishes under that event's correlation (``correlated(envelope...)``), as
    # the consumer runs ``handler``.
    handle_all: AllHandler[E] | None = None
    # True when what ``handler`` does touches nothing another handler of the service reads
    # or writes: then the group's events of this subscription go to ``handle_all`` together
    # wherever they are in the group (events of one piece of work come interleaved, e.g. a
    # request's registration and its triage, then the next request's).
    independent: bool = False

    @property
    def routing_key(self) -> str:
        return self.schema.routing_key()


@dataclass(frozen=True)
class _Delivery:
    message: AbstractIncomingMessage
    subscription: Subscription[Any]
    event: EventSchema
    envelope: Envelope

    @property
    def tried_before(self) -> bool:
        """Back from a retry, or redelivered by the broker (its consumer went away)."""
        return bool(self.message.redelivered) or _retry_count(self.message) > 0


# "handled", "duplicate", or why the handling failed.
_Outcome = str | Exception


class EventConsumer:
    def __init__(
        self,
        service: str,
        queues: ServiceQueues,
        settings: BrokerSettings,
        subscriptions: Sequence[Subscription[Any]],
        unit_of_work: Callable[[], UnitOfWork],
        broker: BrokerConnection,
    ) -> None:
        self._service = service
        self._queues = queues
        self._settings = settings
        self._subscriptions = {
            (s.schema.event_type, s.schema.event_version): s for s in subscriptions
        }
        self._unit_of_work = unit_of_work
        self._broker = broker
        self._schedule = RetrySchedule(settings.retry_delays)
        self._groups: GroupCommit[_Delivery, _Outcome] = GroupCommit(
            self._handle_group,
            settings.group_size,
            settings.handler_concurrency,
            name=f"{service}-events",
            on_group=EVENT_GROUP_SIZE.labels(service).observe,
        )
        self._channel: AbstractChannel | None = None
        self._underlay: aiormq.abc.AbstractChannel | None = None
        self._default_exchange: AbstractExchange | None = None
        self._consumer_tag: str | None = None
        self._queue: AbstractQueue | None = None
        self._reconnecting: set[asyncio.Task[None]] = set()
        # Metric children per event type (and outcome), not a label lookup per message.
        self._consumed: dict[tuple[str, str], Counter] = {}
        self._durations: dict[str, Histogram] = {}
        # Each delivery runs in its own task: stopping lets them finish before the database
        # engine and the channel they use are closed under them.
        self._in_flight: set[asyncio.Task[Any]] = set()
        broker.on_connect(self._start)

    @property
    def is_consuming(self) -> bool:
        channel = self._channel
        if self._consumer_tag is None or channel is None or channel.is_closed:
            return False
        # The broker can cancel a consumer while its channel lives on (queue deleted, node
        # maintenance); the client then forgets the tag.
        return self._underlay is not None and self._consumer_tag in self._underlay.consumers

    async def ensure_consuming(self) -> bool:
        """Set the consumer up again if the broker dropped it; True when it was dropped."""
        if not self._broker.is_connected or self.is_consuming:
            return False
        log.warning("the broker no longer delivers to this consumer; setting it up again")
        await self._broker.reconnect()
        return True

    async def _start(self, connection: AbstractConnection) -> None:
        self._consumer_tag = None
        channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
        await channel.set_qos(prefetch_count=self._settings.prefetch)
        queue = await declare_service_queues(
            channel,
            self._queues,
            self._settings,
            [s.routing_key for s in self._subscriptions.values()],
        )
        self._channel = channel
        self._underlay = await channel.get_underlay_channel()
        self._default_exchange = channel.default_exchange
        channel.close_callbacks.add(self._on_channel_closed)
        self._queue = queue
        self._consumer_tag = await queue.consume(self._on_message)

    def _on_channel_closed(self, *_args: Any) -> None:
        self._consumer_tag = None
        # A channel can die while its connection lives on (a broker-side channel error);
        # dropping the connection makes the supervisor set everything up again.
        if self._broker.is_connected:
            task = asyncio.get_running_loop().create_task(self._broker.reconnect())
            # Held until done: the loop keeps only a weak reference to a task.
            self._reconnecting.add(task)
            task.add_done_callback(self._reconnecting.discard)

    async def stop(self, drain_seconds: float = 5.0) -> None:
        """No new deliveries; the events being handled finish (bounded), then the channel
        closes. An event cut off by the bound is not acknowledged and comes again."""
        channel, self._channel = self._channel, None
        tag, self._consumer_tag = self._consumer_tag, None
        if channel is None or channel.is_closed:
            return
        channel.close_callbacks.discard(self._on_channel_closed)
        if self._queue is not None and tag is not None:
            with contextlib.suppress(Exception):
                await self._queue.cancel(tag)
        if self._in_flight:
            _done, late = await asyncio.wait(set(self._in_flight), timeout=drain_seconds)
            for task in late:
                task.cancel()
            if late:
                log.warning("events still being handled at stop", extra={"count": len(late)})
                # Their groups go on without them otherwise (see GroupCommit.submit).
                late |= self._groups.cancel()
                await asyncio.wait(late, timeout=1.0)
        await channel.close()

    async def refresh_dead_letter_gauge(self) -> int | None:
        channel = self._channel
        if channel is None or channel.is_closed:
            return None
        queue = await channel.declare_queue(self._queues.dead_letter, passive=True)
        count = queue.declaration_result.message_count
        DEAD_LETTERS.labels(self._service).set(count)
        return count

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._in_flight.add(task)
        try:
            await self._process(message)
        finally:
            if task is not None:
                self._in_flight.discard(task)

    async def _process(self, message: AbstractIncomingMessage) -> None:
        started = time.perf_counter()
        try:
            envelope = Envelope.model_validate_json(message.body)
        except ValidationError as exc:
            await self._park(message, "unparseable", exc, event_type="unknown")
            return
        subscription = self._subscriptions.get((envelope.type, envelope.version))
        if subscription is None:
            # Bound once, no longer handled (or a newer version this build does not know).
            self._count(envelope.type, "ignored")
            await _acknowledge(message)
            return
        event_id = str(envelope.id)
        with correlated(envelope.correlation_id, event_id):
            try:
                event = subscription.schema.model_validate(envelope.data)
            except ValidationError as exc:
                await self._park(message, "invalid_data", exc, event_type=envelope.type)
                return
            settled = subscription.settled
            if settled is not None and settled(envelope, message.headers or {}):
                await _acknowledge(message)
                self._count(envelope.type, "settled")
                # The counter says how many; a log line each (a write to stdout) would cost
                # as much as the rest of this path.
                log.debug(
                    "event settled", extra={"event_type": envelope.type, "event_id": event_id}
                )
                return
            try:
                outcome = await self._groups.submit(
                    _Delivery(message, subscription, event, envelope)
                )
            except Exception as exc:  # the group's own machinery failed: as a handler would
                outcome = exc
            if isinstance(outcome, Exception):
                await self._retry_or_park(message, envelope, outcome)
                return
            await _acknowledge(message)
            self._count(envelope.type, outcome)
            duration = self._durations.get(envelope.type)
            if duration is None:
                duration = EVENT_HANDLING_DURATION.labels(self._service, envelope.type)
                self._durations[envelope.type] = duration
            duration.observe(time.perf_counter() - started)
            log.info("event %s", outcome, extra={"event_type": envelope.type, "event_id": event_id})

    def _count(self, event_type: str, outcome: str) -> None:
        counter = self._consumed.get((event_type, outcome))
        if counter is None:
            counter = EVENTS_CONSUMED.labels(self._service, event_type, outcome)
            self._consumed[event_type, outcome] = counter
        counter.inc()

    async def _handle_group(self, deliveries: list[_Delivery]) -> list[_Outcome]:
        outcomes: list[_Outcome | None] = [None] * len(deliveries)
        # A message tried before is handled alone: failing again, it takes no group with it.
        together = [i for i, delivery in enumerate(deliveries) if not delivery.tried_before]
        if len(together) > 1:
            try:
                done = await self._handle_together([deliveries[i] for i in together])
            except Exception as exc:
                log.warning(
                    "a group of events failed; handling them one by one",
                    extra={"count": len(together), "error": _describe(exc)},
                )
            else:
                for i, outcome in zip(together, done, strict=True):
                    outcomes[i] = outcome
        return [
            outcome if outcome is not None else await self._handle_alone(delivery)
            for delivery, outcome in zip(deliveries, outcomes, strict=True)
        ]

    async def _handle_alone(self, delivery: _Delivery) -> _Outcome:
        envelope = delivery.envelope
        with correlated(envelope.correlation_id, str(envelope.id)):
            try:
                return await self._handle_once(delivery.subscription, delivery.event, envelope)
            except Exception as exc:
                return exc

    async def _handle_together(self, deliveries: list[_Delivery]) -> list[_Outcome]:
        async with self._unit_of_work() as uow:
            session = uow.session
            if session.get_bind().dialect.name == "postgresql":
                # A group holds its rows' locks until it commits, taken in whatever order its
                # events need them: two groups (of two processes) can wait for each other.
                # Rather than wait, a group gives way and its events go one by one.
                await session.execute(_GROUP_LOCK_WAIT)
            new = await self._claim_inbox(session, [d.envelope for d in deliveries])
            firsts = [d for d, first in zip(deliveries, new, strict=True) if first]
            for run in _runs(firsts):
                handle_all = run[0].subscription.handle_all
                if handle_all is not None and len(run) > 1:
                    await handle_all(uow, [(d.event, d.envelope) for d in run])
                else:
                    (delivery,) = run
                    envelope = delivery.envelope
                    # The events a handler publishes carry its message's correlation.
                    with correlated(envelope.correlation_id, str(envelope.id)):
                        await delivery.subscription.handler(uow, delivery.event, envelope)
                # The next handler starts as in a transaction of its own: what this one
                # wrote is in the database, and nothing it loaded is left in the session
                # (an object loaded here would hide a later Core UPDATE of its row).
                await session.flush()
                session.expunge_all()
            await uow.commit()
        return ["handled" if first else "duplicate" for first in new]

    async def _claim_inbox(self, session: AsyncSession, envelopes: list[Envelope]) -> list[bool]:
        """Inbox rows for a group in one statement; for each message, True when this is the
        first time its id is handled (not before, and not earlier in the group)."""
        now = datetime.now(UTC)
        rows: dict[str, dict[str, object]] = {}
        for envelope in envelopes:
            event_id = str(envelope.id)
            rows.setdefault(event_id, {
                "consumer": self._service, "message_id": event_id,
                "event_type": envelope.type, "handled_at": now,
            })  # fmt: skip
        statement = _INBOX_ROWS_NEW[session.get_bind().dialect.name]
        claimed = set((await session.execute(statement, list(rows.values()))).scalars())
        new: list[bool] = []
        for envelope in envelopes:
            event_id = str(envelope.id)
            new.append(event_id in claimed)
            claimed.discard(event_id)  # the same id again in the group: a duplicate
        return new

    async def _handle_once(
        self, subscription: Subscription[Any], event: EventSchema, envelope: Envelope
    ) -> str:
        async with self._unit_of_work() as uow:
            try:
                await uow.session.execute(
                    _INBOX_ROW,
                    {
                        "consumer": self._service,
                        "message_id": str(envelope.id),
                        "event_type": envelope.type,
                        "handled_at": datetime.now(UTC),
                    },
                )
            except IntegrityError:
                return "duplicate"
            await subscription.handler(uow, event, envelope)
            await uow.commit()
        return "handled"

    async def _retry_or_park(
        self, message: AbstractIncomingMessage, envelope: Envelope, exc: Exception
    ) -> None:
        retries = _retry_count(message)
        delay = self._schedule.next_delay(retries)
        if delay is None:
            log.error(
                "event handling failed, parking it",
                exc_info=exc,
                extra={"event_type": envelope.type, "event_id": str(envelope.id)},
            )
            await self._park(message, "handler_failed", exc, event_type=envelope.type)
            return
        log.warning(
            "event handling failed, retrying in %ss",
            delay,
            exc_info=exc,
            extra={"event_type": envelope.type, "event_id": str(envelope.id), "retry": retries + 1},
        )
        headers = {
            **(message.headers or {}),
            RETRY_COUNT_HEADER: retries + 1,
            ERROR_HEADER: _describe(exc),
            ERROR_TYPE_HEADER: type(exc).__name__,
            # Back from a delay queue the routing key is the queue's name; keep the event's.
            ORIGINAL_ROUTING_KEY_HEADER: _original_routing_key(message),
        }
        if await self._send_copy(message, self._queues.delay(delay), headers):
            await _acknowledge(message)
            self._count(envelope.type, "retried")

    async def _park(
        self, message: AbstractIncomingMessage, reason: str, exc: Exception, event_type: str
    ) -> None:
        headers = {
            **(message.headers or {}),
            RETRY_COUNT_HEADER: _retry_count(message),
            ERROR_HEADER: f"{reason}: {_describe(exc)}",
            ERROR_TYPE_HEADER: type(exc).__name__,
            PARKED_AT_HEADER: datetime.now(UTC).isoformat(),
            ORIGINAL_ROUTING_KEY_HEADER: _original_routing_key(message),
        }
        if await self._send_copy(message, self._queues.dead_letter, headers):
            await _acknowledge(message)
            self._count(event_type, "dead_lettered")

    async def _send_copy(
        self, message: AbstractIncomingMessage, queue: str, headers: dict[str, Any]
    ) -> bool:
        exchange = self._default_exchange
        try:
            if exchange is None:
                raise RuntimeError("no channel")
            await exchange.publish(
                aio_pika.Message(
                    body=message.body,
                    headers=headers,
                    content_type=message.content_type,
                    delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                    message_id=message.message_id,
                    correlation_id=message.correlation_id,
                    type=message.type,
                ),
                routing_key=queue,
                mandatory=True,
                timeout=30,
            )
            return True
        except Exception:
            # The copy did not go out: let the broker dead-letter the original itself (the
            # queue's dead-letter route) instead of acknowledging it away.
            log.exception(
                "could not move message to %s; rejecting it to the dead-letter route", queue
            )
            try:
                await message.reject(requeue=False)
            except Exception:
                log.exception("reject failed; the broker will redeliver the message")
            return False


async def _acknowledge(message: AbstractIncomingMessage) -> None:
    """Acknowledge on the channel the message came by, without waiting for the frame to
    be written to the socket (aio-pika's ``ack`` waits, a future and a wake-up per message):
    frames go out in order, so an acknowledgement queued before the channel closes is sent
    before its close, and one lost with the connection brings the message again, as ever."""
    assert message.delivery_tag is not None
    await message.channel.basic_ack(message.delivery_tag, wait=False)


def _runs(deliveries: list[_Delivery]) -> list[list[_Delivery]]:
    """The deliveries in order: those of one subscription with ``handle_all`` that follow
    each other together (those of an ``independent`` one all together, where the first
    was), every other one alone."""
    runs: list[list[_Delivery]] = []
    independent: dict[int, list[_Delivery]] = {}
    for delivery in deliveries:
        subscription = delivery.subscription
        if subscription.handle_all is not None and subscription.independent:
            run = independent.get(id(subscription))
            if run is None:
                run = independent[id(subscription)] = []
                runs.append(run)
            run.append(delivery)
        elif (
            subscription.handle_all is not None
            and runs
            and runs[-1][0].subscription is subscription
        ):
            runs[-1].append(delivery)
        else:
            runs.append([delivery])
    return runs


def _retry_count(message: AbstractIncomingMessage) -> int:
    value = (message.headers or {}).get(RETRY_COUNT_HEADER, 0)
    try:
        return max(0, int(value))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return 0


def _original_routing_key(message: AbstractIncomingMessage) -> str:
    headers = message.headers or {}
    original = headers.get(ORIGINAL_ROUTING_KEY_HEADER)
    if isinstance(original, str):
        return original
    if isinstance(original, bytes):
        return original.decode()
    return message.routing_key or ""


def _describe(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}"[:1000]
