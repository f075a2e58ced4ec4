"""Benchmark: one automatic assignment with 2,000 technicians and 10,000 open jobs in
PostgreSQL (goal: p95 ≤ 20 ms), and dispatch's CPU for it. Prints its figures; not a test.

    .venv/bin/python -m bench.dispatch_assignment [--admin-url URL] [--rounds 300]
        [--mode assign|handler|both|registered] [--profile FILE]

It creates a scratch database beside the admin URL's, migrates it like production, fills it,
and drops it at the end. Two measurements, on the same filled database:

- ``assign``: ``assign_automatically`` + commit for jobs inserted beforehand, outside the
  timing: the decision alone, on a job already written (as the queue's retries, a
  dispatcher's assign or a decline find it).
- ``handler``: what dispatch's consumer does with one ``intake.request.triaged.v2`` (the
  broker left out): the envelope parsed and the event validated, the inbox row, the handler
  (the job created, its arrival due time, the assignment), the commit. The work behind
  ``e2e_assign_p99_ms_at_200rps``; the relay publishing ``dispatch.job.assigned`` is not in
  it.
- ``registered`` (only when asked for): the same for one ``intake.request.registered``
  (``on_request_registered``: dispatch's record of the request), half of them delivered
  twice, as a redelivery would (the inbox row apart: its message id is new each time).

Each prints p50/p95/p99/max of the wall time, dispatch's CPU per operation (this process's
user + system time over the timed rounds / rounds: PostgreSQL's own work is not in it), and
statements per operation (counted in extra rounds after the timed ones, through SQLAlchemy's
cursor events and the statements ``shared.db.prepared`` runs on asyncpg itself; BEGIN and
COMMIT not counted). CPU per operation is the figure to compare between changes: it moves far
less with other people's load on the machine than the wall times do. ``--profile FILE``
writes a cProfile (process CPU time) of the timed rounds of the last mode run.
"""

from __future__ import annotations

import argparse
import cProfile
import random
import resource
import statistics
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import uvloop
from sqlalchemy import event, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bench.delivery import handle_alone
from bench.servers import add_server_arguments, scratch_database
from services.dispatch.app import DEFINITION
from services.dispatch.commands.assignment import assign_automatically
from services.dispatch.commands.intake_jobs import due_for
from services.dispatch.db.models import (
    IncomingRequestRow,
    JobRow,
    ServicePointRow,
    TechnicianDayLoadRow,
    TechnicianRow,
)
from services.dispatch.events.handlers import on_request_registered, on_request_triaged_v2
from services.dispatch.settings import DispatchSettings, use_for_handlers
from shared.db import prepared
from shared.db.engine import create_engine, create_session_factory
from shared.db.unit_of_work import UnitOfWork
from shared.events.schemas.intake import RequestRegisteredV1, RequestTriagedV2
from shared.messaging.consumer import Subscription
from shared.messaging.outbox import envelope_for

CITIES = {"上海": (31.23, 121.47), "北京": (39.90, 116.41), "广州": (23.13, 113.26)}
TECHNICIANS = 2000
OPEN_JOBS = 10_000
POINTS_PER_CITY = 15
SHIFTS = ["mon-sun 00:00-24:00", "mon-fri 09:00-18:00", "tue-sat 08:30-17:30"]
WARM_UP = 20  # rounds that warm caches, prepared statements and connections: not timed
COUNTED = 30  # rounds after the timed ones in which statements are counted

Sessions = async_sessionmaker[AsyncSession]
# One round: prepared outside the timing, it returns the timed step and then, untimed,
# whether the job got a technician.
Step = Callable[[], Awaitable[None]]
Check = Callable[[], Awaitable[bool]]
Round = Callable[[int], Awaitable[tuple[Step, Check]]]


def _near(city: str, spread: float) -> tuple[float, float]:
    lat, lon = CITIES[city]
    return lat + random.uniform(-spread, spread), lon + random.uniform(-spread, spread)


async def fill(settings: DispatchSettings, sessions: object) -> None:
    now = datetime.now(UTC)
    today = now.astimezone(ZoneInfo(settings.calendar_zone)).date()
    points, technicians, jobs, loads = [], [], [], []
    for city in CITIES:
        for n in range(POINTS_PER_CITY):
            lat, lon = _near(city, 0.4)
            points.append(
                {"id": f"SP-{city}-{n}", "name": f"{city}{n}号站", "region": city, "latitude": lat,
                 "longitude": lon, "zone": "city" if n % 3 else "suburb", "covers_regions": city,
                 "created_at": now, "updated_at": now}
            )  # fmt: skip
    for n in range(TECHNICIANS):
        point = points[n % len(points)]
        skills = [",pumps,", ",compressors,", ",pumps,compressors,"][n % 3]
        until = today + timedelta(days=365) if n % 20 else today - timedelta(days=3)
        technicians.append(
            {"id": f"T-{n:05d}", "name": f"技师{n}", "login": f"tech-{n}", "skills": skills,
             "certification_level": "senior", "certified_until": until,
             "service_point_id": point["id"], "max_jobs_per_day": 6, "active": n % 50 != 0,
             "shifts": SHIFTS[n % 3], "leave": "", "created_at": now, "updated_at": now}
        )  # fmt: skip
        for day in range(3):
            loads.append(
                {"technician_id": f"T-{n:05d}", "day": today + timedelta(days=day),
                 "jobs": random.randint(0, 6)}
            )  # fmt: skip
    statuses = ["assigned", "accepted", "en_route", "on_site", "waiting_parts", "unassigned"]
    for n in range(OPEN_JOBS):
        city = list(CITIES)[n % 3]
        lat, lon = _near(city, 0.5)
        jobs.append(
            {"request_no": f"SR-2025-{n:06d}", "kind": "repair", "severity": "ordinary",
             "required_skill": "pumps", "product_model": "WX-200", "serial_no": f"S-{n}",
             "customer_name": "客户", "customer_phone": "13800000000", "address": None,
             "region": city, "latitude": lat, "longitude": lon, "status": statuses[n % 6],
             "technician_id": f"T-{n % TECHNICIANS:05d}",
             "arrival_due_at": now + timedelta(hours=5),
             "created_at": now, "updated_at": now, "intake_sla_breaches": 0}
        )  # fmt: skip
    async with sessions() as session:  # type: ignore[operator]
        await session.execute(insert(ServicePointRow), points)
        await session.execute(insert(TechnicianRow), technicians)
        await session.execute(insert(TechnicianDayLoadRow), loads)
        await session.execute(insert(JobRow), jobs)
        await session.commit()


def _cpu() -> tuple[float, float]:
    """This process's user and system CPU seconds so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime, usage.ru_stime


def _assigned(sessions: Sessions, request_no: str) -> Check:
    async def check() -> bool:
        async with sessions() as session:
            technician = await session.scalar(
                select(JobRow.technician_id).where(JobRow.request_no == request_no)
            )
        return technician is not None

    return check


def assignment_round(settings: DispatchSettings, sessions: Sessions) -> Round:
    """A fresh job inserted (untimed), then ``assign_automatically`` + commit (timed)."""

    async def prepare(n: int) -> tuple[Step, Check]:
        city = list(CITIES)[n % 3]
        lat, lon = _near(city, 0.3)
        number = f"SR-2026-{n:06d}"
        now = datetime.now(UTC)
        async with UnitOfWork(sessions) as uow:
            due = await due_for(uow, settings, lat, lon, city, now)
            uow.session.add(
                JobRow(
                    request_no=number, kind="repair", severity=("urgent", "ordinary")[n % 2],
                    required_skill="pumps", product_model="WX-200", serial_no=f"B-{n}",
                    customer_name="客户", customer_phone="13800000000", region=city,
                    latitude=lat, longitude=lon, status="unassigned",
                    arrival_target=due.target, arrival_due_at=due.due_at,
                    created_at=now, updated_at=now, intake_sla_breaches=0,
                )
            )  # fmt: skip
            await uow.commit()

        async def timed() -> None:
            async with UnitOfWork(sessions) as uow:
                await assign_automatically(uow, settings, number, now)
                await uow.commit()

        return timed, _assigned(sessions, number)

    return prepare


def handler_round(sessions: Sessions) -> Round:
    """One triaged event as dispatch's consumer handles it (without the broker): parse and
    validate, inbox row, ``on_request_triaged_v2``, commit. Was it assigned: read untimed."""
    subscription = Subscription(RequestTriagedV2, on_request_triaged_v2)

    async def prepare(n: int) -> tuple[Step, Check]:
        city = list(CITIES)[n % 3]
        lat, lon = _near(city, 0.3)
        number = f"SR-2027-{n:06d}"
        now = datetime.now(UTC)
        body = envelope_for(
            RequestTriagedV2(
                request_no=number,
                kind="repair",
                severity=("urgent", "ordinary")[n % 2],
                visit_needed=True,
                route="dispatch",
                channel="dealer",
                product_line="pumps",
                product_model="WX-200",
                serial_no=f"H-{n}",
                quantity=1,
                purchase_date=None,
                in_warranty=True,
                warranty_expires_on=None,
                dealer_id="D-1",
                customer_id=None,
                customer_name="客户",
                customer_phone="13800000000",
                address="某路1号",
                region=city,
                latitude=Decimal(f"{lat:.6f}"),
                longitude=Decimal(f"{lon:.6f}"),
                fault_description="不出水",
                response_due_at=now + timedelta(hours=2),
                triaged_at=now,
            )
        ).model_dump_json()

        async def timed() -> None:
            await handle_alone(sessions, "dispatch", body, subscription)

        return timed, _assigned(sessions, number)

    return prepare


def registered_round(sessions: Sessions) -> Round:
    """One registered event as dispatch's consumer handles it (without the broker); every
    second round's request was recorded by the round before (a repeat). Recorded: read
    untimed."""
    subscription = Subscription(RequestRegisteredV1, on_request_registered)

    async def prepare(n: int) -> tuple[Step, Check]:
        number = f"SR-2028-{n // 2:06d}"
        body = envelope_for(
            RequestRegisteredV1(
                request_no=number,
                channel="dealer",
                customer_name="客户",
                product_model="WX-200",
                serial_no=f"R-{n // 2}",
                fault_description="不出水",
                received_at=datetime.now(UTC),
            )
        ).model_dump_json()

        async def timed() -> None:
            await handle_alone(sessions, "dispatch", body, subscription)

        async def check() -> bool:
            async with sessions() as session:
                found = await session.scalar(
                    select(IncomingRequestRow.id).where(IncomingRequestRow.request_no == number)
                )
            return found is not None

        return timed, check

    return prepare


class StatementCount:
    """Statements run while ``counting``: SQLAlchemy's cursor executions and those
    ``shared.db.prepared`` runs on asyncpg itself (each passes its error translation once)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.counting = False
        self.statements = 0
        self._engine = engine.sync_engine
        self._translated = prepared._translated
        event.listen(self._engine, "before_cursor_execute", self._one)

        def counted(*arguments: Any) -> Any:
            self._one()
            return self._translated(*arguments)

        prepared._translated = counted  # type: ignore[assignment]

    def _one(self, *_args: Any) -> None:
        if self.counting:
            self.statements += 1

    def close(self) -> None:
        event.remove(self._engine, "before_cursor_execute", self._one)
        prepared._translated = self._translated  # type: ignore[assignment]


async def measure(
    label: str,
    prepare: Round,
    first: int,
    rounds: int,
    engine: AsyncEngine,
    profile: str | None,
    outcome_names: tuple[str, str] = ("assigned", "unassignable"),
) -> None:
    timings: list[float] = []
    user = system = 0.0
    done, not_done = outcome_names
    outcomes = {done: 0, not_done: 0}
    profiler = cProfile.Profile(time.process_time) if profile else None
    for n in range(first, first + WARM_UP + rounds):
        timed, check = await prepare(n)
        measured = n >= first + WARM_UP
        if measured and profiler is not None:
            profiler.enable()
        began, cpu_began = time.perf_counter(), _cpu()
        await timed()
        elapsed, cpu_ended = time.perf_counter() - began, _cpu()
        if measured and profiler is not None:
            profiler.disable()
        if measured:
            timings.append(elapsed * 1000)
            user += cpu_ended[0] - cpu_began[0]
            system += cpu_ended[1] - cpu_began[1]
            outcomes[done if await check() else not_done] += 1
    if profiler is not None and profile:
        profiler.dump_stats(profile)
    count = StatementCount(engine)
    try:
        for n in range(first + WARM_UP + rounds, first + WARM_UP + rounds + COUNTED):
            timed, _check = await prepare(n)
            count.counting = True
            await timed()
            count.counting = False
    finally:
        count.close()
    timings.sort()
    p95 = timings[int(len(timings) * 0.95) - 1]
    print(f"{label} rounds: {len(timings)}  outcomes: {outcomes}")
    print(
        f"{label} ms: p50 {statistics.median(timings):.1f}  p95 {p95:.1f}  "
        f"p99 {timings[int(len(timings) * 0.99) - 1]:.1f}  max {timings[-1]:.1f}"
        + (f"  (goal p95 <= 20 ms: {'met' if p95 <= 20 else 'NOT met'})" if first == 0 else "")
    )
    print(
        f"{label} dispatch CPU ms per operation: {(user + system) / len(timings) * 1000:.2f} "
        f"(user {user / len(timings) * 1000:.2f}, system {system / len(timings) * 1000:.2f})  "
        f"statements per operation: {count.statements / COUNTED:.1f}"
    )


async def run(admin_url: str, rounds: int, mode: str, profile: str | None) -> None:
    async with scratch_database(admin_url, "dispatch", DEFINITION.migrations_dir) as url:
        engine = create_engine(url)
        try:
            await measure_modes(url, engine, rounds, mode, profile)
        finally:
            await engine.dispose()


async def measure_modes(
    url: str, engine: AsyncEngine, rounds: int, mode: str, profile: str | None
) -> None:
    settings = DispatchSettings(database_url=url)
    use_for_handlers(settings)
    sessions = create_session_factory(engine)
    started = time.perf_counter()
    await fill(settings, sessions)
    took = time.perf_counter() - started
    print(f"filled: {TECHNICIANS} technicians, {OPEN_JOBS} open jobs in {took:.1f} s")
    # The assignment first: bench.run reads the first p95 printed.
    if mode in ("assign", "both"):
        measured_profile = profile if mode == "assign" else None
        prepare = assignment_round(settings, sessions)
        await measure("assignment", prepare, 0, rounds, engine, measured_profile)
    if mode in ("handler", "both"):
        prepare = handler_round(sessions)
        await measure("triaged-event", prepare, 100_000, rounds, engine, profile)
    if mode == "registered":
        prepare = registered_round(sessions)
        await measure(
            "registered-event", prepare, 200_000, rounds, engine, profile, ("recorded", "missing")
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_server_arguments(parser)
    parser.add_argument("--rounds", type=int, default=300)
    parser.add_argument(
        "--mode", choices=("assign", "handler", "both", "registered"), default="both"
    )
    parser.add_argument("--profile", help="write a cProfile of the timed rounds here")
    arguments = parser.parse_args()
    random.seed(4)
    # The services run on uvloop (uvicorn picks it when installed): so does the benchmark.
    uvloop.run(run(arguments.admin_url, arguments.rounds, arguments.mode, arguments.profile))


if __name__ == "__main__":
    main()
