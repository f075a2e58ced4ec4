"""Starting, meeting, pausing and checking the SLA clocks of requests.

The response clock starts when a request is received, on the target its severity gives; a
triage that changes kind or severity moves it to the right target from the same start. An
agent's first action on the request (acknowledge, triage, resolve, cancel) meets it; the
automatic triage does not, as nobody has answered the customer yet.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import cache

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.intake.db.models import ServiceRequestRow
from services.intake.db.sla_clocks import SlaClocks
from services.intake.domain.calendar import WorkingCalendar
from services.intake.domain.service_request import ServiceRequest
from services.intake.domain.sla import (
    SlaClock,
    SlaTargetName,
    SlaTargets,
    published_target,
    targets_for,
)
from services.intake.metrics import SLA_BREACHES
from services.intake.settings import IntakeSettings
from shared.events.schemas.intake import IntakeSlaBreachedV1
from shared.messaging.outbox import add_to_outbox, envelope_for

log = logging.getLogger(__name__)

# Targets met by the first answer to the customer. A complaint's first verification is met
# by a verification step in its handling, its quality report by the agent's decision on it.
ANSWERED_BY_AGENT = frozenset(
    {
        SlaTargetName.RESPONSE_URGENT,
        SlaTargetName.RESPONSE_ORDINARY,
        SlaTargetName.RESPONSE_CONSULTATION,
        SlaTargetName.COMPLAINT_ACKNOWLEDGEMENT,
    }
)


@cache
def sla_policy() -> tuple[WorkingCalendar, SlaTargets]:
    """The calendar and targets of this process's settings, read once, on first use."""
    return IntakeSettings().sla_policy()


def _targets(request: ServiceRequest) -> list[str]:
    kind = (
        request.kind.value
        if request.kind
        else (request.customer_asks.value if request.customer_asks else "repair")
    )
    severity = request.severity.value if request.severity else "ordinary"
    return list(targets_for(kind if kind in {"consultation", "complaint"} else "repair", severity))


async def start_first_clocks(
    session: AsyncSession, requests: Sequence[ServiceRequest], now: datetime
) -> None:
    """Start the clocks of requests registered in this transaction, each from its receipt,
    on the targets of its kind and severity as they are now (after an automatic triage, if
    there was one: what starting and then retargeting would leave), in one statement."""
    calendar, targets = sla_policy()
    await SlaClocks(session, calendar).start_new(
        [
            (
                request.request_no,
                [
                    SlaClock(target=targets[name], started_at=request.received_at)
                    for name in _targets(request)
                ],
            )
            for request in requests
        ],
        now,
    )


async def retarget_clocks(session: AsyncSession, request: ServiceRequest, now: datetime) -> None:
    """After triage: the open clocks follow the request's kind and severity, from the start."""
    calendar, targets = sla_policy()
    clocks = SlaClocks(session, calendar)
    wanted = _targets(request)
    for stored in await clocks.of_request(request.request_no):
        if stored.clock.met_at is None and stored.clock.target.name not in wanted:
            moved = SlaClock(
                target=targets[wanted[0]],
                started_at=stored.clock.started_at,
                pauses=stored.clock.pauses,
            )
            await clocks.remove(stored)
            await clocks.save(request.request_no, moved, now)
    # A request triaged into a complaint gains the complaint's other clocks, from receipt.
    have = {stored.clock.target.name for stored in await clocks.of_request(request.request_no)}
    for name in wanted:
        if name not in have:
            started = SlaClock(target=targets[name], started_at=request.received_at)
            await clocks.save(request.request_no, started, now)


async def meet_clocks(
    session: AsyncSession, request_no: str, now: datetime, every: bool = False
) -> None:
    """Meet the clocks an agent's answer meets, or ``every`` open one (a cancelled request
    owes nobody anything more)."""
    calendar, _ = sla_policy()
    clocks = SlaClocks(session, calendar)
    for stored in await clocks.of_request(request_no):
        if stored.clock.met_at is None and (every or stored.clock.target.name in ANSWERED_BY_AGENT):
            await clocks.save(request_no, stored.clock.met(now), now)


async def unanswered_target(session: AsyncSession, request_no: str) -> str | None:
    """The target of the request's first-answer clock while nobody has answered yet."""
    calendar, _ = sla_policy()
    for stored in await SlaClocks(session, calendar).of_request(request_no):
        if stored.clock.met_at is None and stored.clock.target.name in ANSWERED_BY_AGENT:
            return stored.clock.target.name
    return None


async def meet_clock(session: AsyncSession, request_no: str, target: str, now: datetime) -> bool:
    """Meet one target's clock if it runs; whether it did."""
    calendar, _ = sla_policy()
    clocks = SlaClocks(session, calendar)
    for stored in await clocks.of_request(request_no):
        if stored.clock.target.name == target and stored.clock.met_at is None:
            await clocks.save(request_no, stored.clock.met(now), now)
            return True
    return False


async def pause_clocks(session: AsyncSession, request_no: str, now: datetime) -> int:
    calendar, _ = sla_policy()
    clocks = SlaClocks(session, calendar)
    paused = 0
    for stored in await clocks.of_request(request_no):
        if stored.clock.met_at is None and not stored.clock.is_paused:
            await clocks.save(request_no, stored.clock.pause(now), now)
            paused += 1
    return paused


async def resume_clocks(session: AsyncSession, request_no: str, now: datetime) -> int:
    calendar, _ = sla_policy()
    clocks = SlaClocks(session, calendar)
    resumed = 0
    for stored in await clocks.of_request(request_no):
        if stored.clock.is_paused:
            await clocks.save(request_no, stored.clock.resume(now), now)
            resumed += 1
    return resumed


async def mark_breaches(session: AsyncSession, now: datetime) -> list[str]:
    """Mark every clock past its due time as breached and announce it, once; the targets, for
    counting after the commit."""
    calendar, _ = sla_policy()
    overdue = await SlaClocks(session, calendar).overdue(now)
    severities = dict(
        (
            await session.execute(
                select(ServiceRequestRow.request_no, ServiceRequestRow.severity).where(
                    ServiceRequestRow.request_no.in_({row.request_no for row in overdue})
                )
            )
        ).all()
    )
    for row in overdue:
        row.breached_at = row.due_at
        assert row.due_at is not None
        severity = (
            row.target.removeprefix("response_")
            if row.target.startswith("response_")
            else severities.get(row.request_no) or "ordinary"
        )
        # Written with the mark itself: the outbox row commits (or not) with the breach.
        await add_to_outbox(
            session,
            envelope_for(
                IntakeSlaBreachedV1(
                    request_no=row.request_no,
                    target=published_target(row.target),
                    severity=severity,
                    due_at=row.due_at,
                    breached_at=row.due_at,
                )
            ),
        )
    await session.flush()
    return [row.target for row in overdue]


def count_breaches(targets: list[str]) -> None:
    for target in targets:
        SLA_BREACHES.labels(target).inc()


async def watch_for_breaches(sessions: async_sessionmaker[AsyncSession], every: float) -> None:
    """The breach monitor: runs in every intake process; SKIP LOCKED lets them share work."""
    while True:
        await asyncio.sleep(every)
        try:
            async with sessions() as session:
                targets = await mark_breaches(session, datetime.now(UTC))
                await session.commit()
            count_breaches(targets)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("SLA breach check failed", extra={"error": repr(exc)[:300]})
