"""One business transaction: the state change and the events it causes commit together."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from types import TracebackType

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.events.envelope import Envelope
from shared.events.registry import EventSchema
from shared.messaging.outbox import (
    add_all_to_outbox,
    add_apart_to_outbox,
    add_to_outbox,
    envelope_for,
    outbox_row,
    write_time,
)


class UnitOfWork:
    """Use as ``async with uow: ...; await uow.commit()``; leaving without commit rolls back."""

    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        on_events_committed: Callable[[], None] | None = None,
    ) -> None:
        self._session_factory = session_factory
        self._on_events_committed = on_events_committed
        self._session: AsyncSession | None = None
        self._pending_events = 0

    @property
    def session(self) -> AsyncSession:
        if self._session is None:
            raise RuntimeError("the unit of work is not open")
        return self._session

    async def __aenter__(self) -> UnitOfWork:
        self._session = self._session_factory()
        self._pending_events = 0
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        session, self._session = self.session, None
        # Closing rolls back whatever was not committed; unlike rollback() it leaves the
        # objects the caller loaded readable after the block.
        await session.close()

    async def publish(self, event: EventSchema) -> Envelope:
        """Record an event to be published once, and only if, this transaction commits."""
        envelope = envelope_for(event)
        await add_to_outbox(self.session, envelope)
        self._pending_events += 1
        return envelope

    def publish_with_own_rows(self, event: EventSchema) -> dict[str, object]:
        """``publish``, but the outbox row is returned for the caller to insert in this
        transaction together with rows of its own (one statement for all, one round trip
        fewer): it must be inserted before the commit, or the event is lost."""
        self._pending_events += 1
        return outbox_row(envelope_for(event), write_time())

    async def publish_all(self, events: list[EventSchema]) -> list[Envelope]:
        """``publish`` for several events at once: one statement instead of one each."""
        envelopes = [envelope_for(event) for event in events]
        await add_all_to_outbox(self.session, envelopes)
        self._pending_events += len(envelopes)
        return envelopes

    async def publish_for_each(self, works: Sequence[list[Envelope]]) -> None:
        """``publish_all`` for several pieces of work done in this transaction for several
        callers (reports registered together), each piece's events already wrapped in its
        caller's correlation; the relay names each piece's events apart
        (``add_apart_to_outbox``)."""
        await add_apart_to_outbox(self.session, works)
        self._pending_events += sum(len(envelopes) for envelopes in works)

    async def commit(self) -> None:
        await self.session.commit()
        if self._pending_events and self._on_events_committed is not None:
            # Wakes the relay at once instead of at its next poll.
            self._on_events_committed()
        self._pending_events = 0
