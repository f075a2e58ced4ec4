"""Storing SLA clocks: the domain's SlaClock plus its stored due time and breach mark."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake.db.models import SlaClockRow
from services.intake.domain.calendar import WorkingCalendar
from services.intake.domain.sla import Pause, SlaBasis, SlaClock, SlaTarget
from shared.db.prepared import HotStatement


@dataclass
class StoredClock:
    clock: SlaClock
    breached_at: datetime | None
    row: SlaClockRow


def _clock(row: SlaClockRow) -> SlaClock:
    return SlaClock(
        target=SlaTarget(row.target, timedelta(seconds=row.duration_seconds), SlaBasis(row.basis)),
        started_at=row.started_at,
        pauses=tuple(
            Pause(datetime.fromisoformat(start), datetime.fromisoformat(end) if end else None)
            for start, end in row.pauses  # type: ignore[arg-type]
        ),
        met_at=row.met_at,
    )


# Built once (a statement built per call costs more CPU in SQLAlchemy than its round trip).
_INSERT_CLOCKS = HotStatement(insert(SlaClockRow.__table__))


class SlaClocks:
    def __init__(self, session: AsyncSession, calendar: WorkingCalendar) -> None:
        self._session = session
        self._calendar = calendar

    async def of_request(self, request_no: str) -> list[StoredClock]:
        rows = await self._session.execute(
            select(SlaClockRow).where(SlaClockRow.request_no == request_no).order_by(SlaClockRow.id)
        )
        return [StoredClock(_clock(row), row.breached_at, row) for row in rows.scalars()]

    async def save(self, request_no: str, clock: SlaClock, now: datetime) -> None:
        """Store the clock with its due time, over the request's clock of the same target."""
        rows = await self.of_request(request_no)
        existing = next((c.row for c in rows if c.row.target == clock.target.name), None)
        row = existing or SlaClockRow(request_no=request_no, target=clock.target.name)
        row.basis = clock.target.basis.value
        row.duration_seconds = int(clock.target.duration.total_seconds())
        row.started_at = clock.started_at
        row.pauses = [
            [p.start.isoformat(), p.end.isoformat() if p.end else None] for p in clock.pauses
        ]
        row.met_at = clock.met_at
        # A paused clock has no deadline until it runs again.
        row.due_at = None if clock.is_paused else clock.due_at(self._calendar, now)
        if existing is None:
            self._session.add(row)
        await self._session.flush()

    async def start_new(
        self, clocks_of: Sequence[tuple[str, list[SlaClock]]], now: datetime
    ) -> None:
        """The first clocks of requests just registered (they have none yet), as
        ``(request_no, clocks)``: one statement whatever their number."""
        await _INSERT_CLOCKS.many(
            self._session,
            [
                {
                    "request_no": request_no,
                    "target": clock.target.name,
                    "basis": clock.target.basis.value,
                    "duration_seconds": int(clock.target.duration.total_seconds()),
                    "started_at": clock.started_at,
                    "pauses": [],
                    "met_at": None,
                    "due_at": clock.due_at(self._calendar, now),
                    "breached_at": None,
                }
                for request_no, clocks in clocks_of
                for clock in clocks
            ],
        )

    async def remove(self, stored: StoredClock) -> None:
        await self._session.delete(stored.row)
        await self._session.flush()

    async def overdue(self, now: datetime, limit: int = 500) -> list[SlaClockRow]:
        rows = await self._session.execute(
            select(SlaClockRow)
            .where(
                SlaClockRow.met_at.is_(None),
                SlaClockRow.breached_at.is_(None),
                SlaClockRow.due_at < now,
            )
            .order_by(SlaClockRow.due_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return list(rows.scalars())

    async def due_before(self, moment: datetime, limit: int) -> list[SlaClockRow]:
        """Open clocks due before ``moment``, breached ones included, soonest first."""
        rows = await self._session.execute(
            select(SlaClockRow)
            .where(SlaClockRow.met_at.is_(None), SlaClockRow.due_at < moment)
            .order_by(SlaClockRow.due_at)
            .limit(limit)
        )
        return list(rows.scalars())
