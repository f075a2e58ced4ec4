"""Benchmark: one automatic assignment with 2,000 technicians and 10,000 open jobs in
PostgreSQL (goal: p95 ≤ 20 ms). Prints its figures; not a test.

    .venv/bin/python -m bench.dispatch_assignment [--admin-url URL] [--rounds 300]

It creates a scratch database beside the admin URL's, migrates it like production, fills it,
times ``assign_automatically`` + commit for fresh jobs (the work the triage handler does),
and drops the database.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import asyncpg
from sqlalchemy import insert
from sqlalchemy.engine import make_url

from services.dispatch.app import DEFINITION
from services.dispatch.commands.assignment import assign_automatically
from services.dispatch.commands.intake_jobs import due_for
from services.dispatch.db.models import JobRow, ServicePointRow, TechnicianDayLoadRow, TechnicianRow
from services.dispatch.settings import DispatchSettings
from shared.db.engine import create_engine, create_session_factory
from shared.db.migrations import upgrade_to_head
from shared.db.unit_of_work import UnitOfWork

CITIES = {"上海": (31.23, 121.47), "北京": (39.90, 116.41), "广州": (23.13, 113.26)}
TECHNICIANS = 2000
OPEN_JOBS = 10_000
POINTS_PER_CITY = 15
SHIFTS = ["mon-sun 00:00-24:00", "mon-fri 09:00-18:00", "tue-sat 08:30-17:30"]


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


async def run(admin_url: str, rounds: int) -> None:
    name = f"bench_dispatch_{uuid.uuid4().hex[:8]}"
    dsn = make_url(admin_url).set(drivername="postgresql").render_as_string(hide_password=False)
    connection = await asyncpg.connect(dsn)
    await connection.execute(f'CREATE DATABASE "{name}"')
    await connection.close()
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    engine = create_engine(url)
    try:
        await asyncio.to_thread(upgrade_to_head, DEFINITION.migrations_dir, url)
        settings = DispatchSettings(database_url=url)
        sessions = create_session_factory(engine)
        started = time.perf_counter()
        await fill(settings, sessions)
        took = time.perf_counter() - started
        print(f"filled: {TECHNICIANS} technicians, {OPEN_JOBS} open jobs in {took:.1f} s")
        timings: list[float] = []
        outcomes = {"assigned": 0, "unassignable": 0}
        for n in range(rounds + 20):
            city = list(CITIES)[n % 3]
            lat, lon = _near(city, 0.3)
            number = f"SR-2026-{n:06d}"
            now = datetime.now(UTC)
            uow = UnitOfWork(sessions)
            async with uow:
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
            uow = UnitOfWork(sessions)
            begin = time.perf_counter()
            async with uow:
                outcome = await assign_automatically(uow, settings, number, now)
                await uow.commit()
            elapsed = time.perf_counter() - begin
            if n >= 20:  # the first rounds warm caches and connections
                timings.append(elapsed * 1000)
                outcomes["assigned" if outcome and outcome.assigned else "unassignable"] += 1
        timings.sort()
        p95 = timings[int(len(timings) * 0.95) - 1]
        print(f"rounds: {len(timings)}  outcomes: {outcomes}")
        print(
            f"assignment ms: p50 {statistics.median(timings):.1f}  p95 {p95:.1f}  "
            f"p99 {timings[int(len(timings) * 0.99) - 1]:.1f}  max {timings[-1]:.1f}  "
            f"(goal p95 <= 20 ms: {'met' if p95 <= 20 else 'NOT met'})"
        )
    finally:
        await engine.dispose()
        connection = await asyncpg.connect(dsn)
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await connection.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--admin-url", default="postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
    )
    parser.add_argument("--rounds", type=int, default=300)
    arguments = parser.parse_args()
    random.seed(4)
    asyncio.run(run(arguments.admin_url, arguments.rounds))


if __name__ == "__main__":
    main()
