"""What intake's CPU costs to follow another department's event, in process: one
``dispatch.job.assigned.v1`` per request (one per dealer report end to end), then one
``dispatch.appointment.agreed.v1`` per request (a report without a status: it goes on the
timeline under the status of its moment). Prints its figures; not a test.

    .venv/bin/python -m bench.follow_events [--admin-url URL] [--requests 500]
        [--profile FILE]

It creates a scratch PostgreSQL database beside the admin URL's, migrates it like
production, registers the requests (each handed to dispatch, three entries on its
timeline, as a dealer's report is), and drops the database at the end. Each event is handled
as intake's consumer handles it, the broker left out: the envelope parsed and the event
validated, the inbox row, the subscribed handler (``following``), the commit, through the
service's ``UnitOfWork``.

First the same job.assigned events through a handler that does nothing: the consumer's
own part (parsing, inbox row, transaction), which the following's figures include.

For each kind: intake's CPU per event (this process's user + system time over the timed
events / events: PostgreSQL's own work is not in it) and statements per event (counted in
extra events after the timed ones, as ``bench.dispatch_assignment`` counts them: SQLAlchemy's
cursor executions and the statements ``shared.db.prepared`` runs on asyncpg itself; BEGIN
and COMMIT not counted). ``--profile FILE`` writes a cProfile (process CPU time) of the
timed job.assigned events.
"""

from __future__ import annotations

import argparse
import cProfile
import resource
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import uvloop
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bench.delivery import handle_alone
from bench.dispatch_assignment import StatementCount
from bench.servers import add_server_arguments, scratch_database
from services.intake.app import DEFINITION
from services.intake.db.models import ServiceRequestRow, TimelineEntryRow
from services.intake.db.repository import ServiceRequestRepository
from services.intake.domain.service_request import (
    Channel,
    Customer,
    Department,
    ServiceRequest,
)
from services.intake.domain.workflow import RequestStatus
from services.intake.events.subscriptions import SUBSCRIPTIONS
from shared.db.engine import create_engine, create_session_factory
from shared.db.unit_of_work import UnitOfWork
from shared.events.envelope import Envelope
from shared.events.registry import EventSchema
from shared.events.schemas.dispatch import AppointmentAgreedV1, JobAssignedV1
from shared.messaging.consumer import Handler, Subscription
from shared.messaging.outbox import envelope_for

Sessions = async_sessionmaker[AsyncSession]
WARM_UP = 20  # events that warm caches, prepared statements and connections: not timed
COUNTED = 30  # events after the timed ones in which statements are counted
_HANDLERS = {(s.schema.event_type, s.schema.event_version): s for s in SUBSCRIPTIONS}


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _number(n: int) -> str:
    return f"SR-2026-{n:06d}"


async def register(sessions: Sessions, count: int, at: datetime) -> None:
    """``count`` requests as a dealer's reports stand when dispatch assigns them."""
    requests = []
    for n in range(count):
        request = ServiceRequest(
            request_no=_number(n), channel=Channel.DEALER, customer=Customer("客户", "138"),
            product_model="WX-200", serial_no=f"S-{n}", fault_description="不出水",
            received_at=at, dealer_id="D-00001", dealer_report_no=f"R-{n}",
        )  # fmt: skip
        request.move(RequestStatus.RECEIVED, at, "已受理")
        request.move(RequestStatus.TRIAGED, at, "已分诊：维修", details={"kind": "repair"})
        request.move(RequestStatus.HANDED_TO_DISPATCH, at, "已转派工部")
        requests.append(request)
    async with UnitOfWork(sessions) as uow:
        await ServiceRequestRepository(uow.session).insert(requests)
        await uow.commit()


def assigned(n: int, at: datetime) -> EventSchema:
    return JobAssignedV1(
        request_no=_number(n), technician_id=f"T-{n % 97:05d}", technician_name=f"技师{n % 97}",
        service_point_id="SP-1", how="automatic", reason=None,
        arrival_due_at=at + timedelta(hours=4), assigned_at=at + timedelta(minutes=1),
    )  # fmt: skip


def appointment(n: int, at: datetime) -> EventSchema:
    return AppointmentAgreedV1(
        request_no=_number(n), technician_id=f"T-{n % 97:05d}",
        window_start=at + timedelta(hours=2), window_end=at + timedelta(hours=3),
        rescheduled=False, reason=None, agreed_at=at + timedelta(minutes=5),
    )  # fmt: skip


async def _nothing(_uow: UnitOfWork, _event: Any, _envelope: Envelope) -> None:
    pass


async def measure(
    label: str,
    sessions: Sessions,
    count: StatementCount,
    make: Callable[[int, datetime], EventSchema],
    requests: int,
    at: datetime,
    profile: str | None,
    handler: Handler[Any] | None = None,
) -> None:
    events = [make(n, at) for n in range(requests)]
    bodies = [envelope_for(event).model_dump_json() for event in events]
    subscribed = _HANDLERS[events[0].event_type, events[0].event_version]
    # ``handler`` instead of the subscribed one if given.
    subscription = Subscription(subscribed.schema, handler or subscribed.handler)

    async def handle(body: str) -> None:
        await handle_alone(sessions, "intake", body, subscription)

    timed = range(WARM_UP, requests - COUNTED)
    for n in range(WARM_UP):
        await handle(bodies[n])
    profiler = cProfile.Profile(time.process_time) if profile else None
    if profiler is not None:
        profiler.enable()
    cpu = _cpu()
    for n in timed:
        await handle(bodies[n])
    cpu = _cpu() - cpu
    if profiler is not None and profile:
        profiler.disable()
        profiler.dump_stats(profile)
    count.statements = 0
    count.counting = True
    for n in range(requests - COUNTED, requests):
        await handle(bodies[n])
    count.counting = False
    print(
        f"{label}: {len(timed)} events timed  intake CPU ms per event: "
        f"{cpu / len(timed) * 1000:.3f}  statements per event: {count.statements / COUNTED:.1f}"
    )


async def check(sessions: Sessions, requests: int) -> None:
    """Every request assigned, with its technician, and both events on its timeline."""
    async with sessions() as session:
        assigned = await session.scalar(
            select(func.count())
            .select_from(ServiceRequestRow)
            .where(
                ServiceRequestRow.status == RequestStatus.ASSIGNED.value,
                ServiceRequestRow.technician_id.is_not(None),
            )
        )
        entries = await session.scalar(
            select(func.count())
            .select_from(TimelineEntryRow)
            .where(TimelineEntryRow.department == Department.DISPATCH.value)
        )
        named = await session.scalar(
            select(func.count())
            .select_from(TimelineEntryRow)
            .where(
                TimelineEntryRow.department == Department.DISPATCH.value,
                TimelineEntryRow.status == RequestStatus.ASSIGNED.value,
                TimelineEntryRow.summary.like("已约定上门时间%"),
            )
        )
    print(f"check: {assigned} of {requests} requests assigned, {entries} dispatch entries "
          f"(expected {2 * requests}), {named} appointments under 'assigned'")  # fmt: skip
    if assigned != requests or entries != 2 * requests or named != requests:
        raise SystemExit("the events were not followed as they should be")


async def run(admin_url: str, requests: int, profile: str | None) -> None:
    async with scratch_database(admin_url, "follow", DEFINITION.migrations_dir) as url:
        engine = create_engine(url)
        try:
            sessions = create_session_factory(engine)
            at = datetime.now(UTC) - timedelta(hours=1)
            await register(sessions, requests, at)
            print(f"registered: {requests} requests, 3 timeline entries each")
            count = StatementCount(engine)
            try:
                # The consumer's own part (parsing, inbox row, transaction), for comparison.
                await measure("no handler", sessions, count, assigned, requests, at, None, _nothing)
                await measure("job.assigned", sessions, count, assigned, requests, at, profile)
                await measure(
                    "appointment.agreed", sessions, count, appointment, requests, at, None
                )
            finally:
                count.close()
            await check(sessions, requests)
        finally:
            await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_server_arguments(parser)
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--profile", help="write a cProfile of the timed job.assigned events")
    arguments = parser.parse_args()
    # The services run on uvloop (uvicorn picks it when installed): so does the benchmark.
    uvloop.run(run(arguments.admin_url, arguments.requests, arguments.profile))


if __name__ == "__main__":
    main()
