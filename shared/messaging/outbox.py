"""Writing events into the outbox, inside the caller's transaction."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db.messaging_tables import outbox
from shared.db.prepared import HotStatement
from shared.events.envelope import Envelope
from shared.events.registry import EventSchema
from shared.observability.context import current_causation_id, current_correlation_id

# Built once: a statement built per transaction costs more CPU in SQLAlchemy than its round
# trip, and a multi-row VALUES built from the rows costs more the more rows it has.
_INSERT = HotStatement(insert(outbox))


class _WriteClock:
    """The time an outbox row is written at, never the same twice in a process: the relay
    names events written together by their shared time (``shared.messaging.transaction_events``),
    so events written apart must not share one by chance (two handlers of a group of events
    committed together, a microsecond apart)."""

    def __init__(self) -> None:
        self._last = datetime.min.replace(tzinfo=UTC)

    def take(self, times: int = 1) -> datetime:
        """The first of ``times`` consecutive microseconds, all later than any taken before."""
        now = datetime.now(UTC)
        if now <= self._last:
            now = self._last + timedelta(microseconds=1)
        self._last = now + timedelta(microseconds=times - 1)
        return now


_clock = _WriteClock()


def write_time() -> datetime:
    """When an outbox row written now is recorded: never the same as another's."""
    return _clock.take()


def envelope_for(event: EventSchema) -> Envelope:
    """Wrap an event, carrying the correlation of the work that caused it."""
    return Envelope(
        type=event.event_type,
        version=event.event_version,
        producer=event.producer,
        correlation_id=current_correlation_id(),
        causation_id=current_causation_id(),
        data=event.model_dump(mode="json"),
    )


def outbox_row(envelope: Envelope, now: datetime) -> dict[str, object]:
    """The outbox row of an event recorded at ``now``, as ``add_to_outbox`` inserts it."""
    return {
        "event_id": str(envelope.id),
        "event_type": envelope.type,
        "routing_key": envelope.routing_key,
        "envelope": envelope.model_dump_json(),
        "correlation_id": envelope.correlation_id,
        "created_at": now,
        "next_attempt_at": now,
        "attempts": 0,
    }


async def add_to_outbox(session: AsyncSession, envelope: Envelope) -> None:
    await _INSERT.execute(session, outbox_row(envelope, write_time()))


async def add_all_to_outbox(session: AsyncSession, envelopes: list[Envelope]) -> None:
    """Several events of one transaction in one statement (one round trip), in their order."""
    if envelopes:
        now = write_time()
        await _INSERT.many(session, [outbox_row(e, now) for e in envelopes])


async def add_apart_to_outbox(session: AsyncSession, works: Sequence[list[Envelope]]) -> None:
    """The events of several pieces of work done in one transaction (reports registered
    together), in one statement. Each piece's rows share a ``created_at`` of their own, a
    microsecond apart from the next piece's: the relay names the events written together by
    that (``shared.messaging.transaction_events``), so each piece's are named as its own, as
    if it had committed alone."""
    now = _clock.take(max(1, len(works)))
    rows = [
        outbox_row(envelope, now + timedelta(microseconds=i))
        for i, envelopes in enumerate(works)
        for envelope in envelopes
    ]
    if rows:
        await _INSERT.many(session, rows)
