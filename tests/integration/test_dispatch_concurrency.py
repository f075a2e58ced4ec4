"""Two dispatch instances on one PostgreSQL database, competing for the same events and
asked to assign the same jobs at the same moment: no job is assigned twice and no
technician gets more jobs on a day than their limit (the job row is locked, the day-load
row taken by a conditional UPDATE)."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import text

from services.dispatch.app import DEFINITION as DISPATCH
from services.dispatch.commands.assignment import retry_unassigned
from services.dispatch.db.staff import Technicians
from services.dispatch.domain.staffing import TechnicianIn
from services.dispatch.settings import DispatchSettings
from shared.settings import AuthSettings, BrokerSettings
from tests.integration.test_dispatch_assignment import envelope, put_points, technician, triaged
from tests.support.broker import publish_envelopes
from tests.support.databases import DatabaseFactory
from tests.support.services import RunningService, running_service
from tests.support.waiting import eventually

Headers = Callable[..., dict[str, str]]
JOBS = 24
TECHNICIANS = 4
LIMIT = 2


def _only_today() -> str:
    """Every technician on leave for the days after today: only today counts."""
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date()
    return f"{today + timedelta(days=1)}..{today + timedelta(days=7)}"


@asynccontextmanager
async def _two_instances(
    databases: DatabaseFactory, broker: BrokerSettings, auth: AuthSettings, headers: Headers
) -> AsyncIterator[tuple[RunningService, RunningService]]:
    """Two dispatch instances on one database, both consuming, service points in place."""
    url = await databases.migrated(DISPATCH.migrations_dir, "dispatch")
    async with (
        running_service(DISPATCH, url, broker, auth) as first,
        running_service(DISPATCH, url, broker, auth) as second,
    ):
        for instance in (first, second):
            await eventually(lambda i=instance: i.runtime.consumer.is_consuming)  # type: ignore[misc]
        await put_points(first, headers)
        yield first, second


async def _handled(instance: RunningService) -> int:
    async with instance.runtime.sessions() as session:
        return int((await session.execute(text("SELECT count(*) FROM inbox"))).scalar_one())


async def test_two_instances_never_double_assign_nor_exceed_the_daily_limit(
    databases: DatabaseFactory, broker: BrokerSettings, auth: AuthSettings, staff_headers: Headers
) -> None:
    leave = _only_today()
    async with _two_instances(databases, broker, auth, staff_headers) as (first, second):
        # Both instances consume the triaged events at once; nobody can take them yet.
        numbers = [f"SR-2026-{n:06d}" for n in range(1, JOBS + 1)]
        await publish_envelopes(broker, [envelope(triaged(number)) for number in numbers])
        await eventually(lambda: _handled(first), lambda n: n == JOBS, within=60)

        # Technicians arrive behind the API's back (no retry triggered), then both instances
        # are asked to assign every job, and retry their queues, all at the same moment.
        async with first.runtime.sessions() as session:
            for n in range(TECHNICIANS):
                body = technician(f"T-{n}", "SP-PD", max_jobs_per_day=LIMIT, leave=leave)
                await Technicians(session).put(TechnicianIn(**body), datetime.now(UTC))
            await session.commit()
        dispatcher = staff_headers("dispatcher")
        settings = DispatchSettings()
        await asyncio.gather(
            *(
                instance.client.post(f"/api/v1/jobs/{number}/assign", headers=dispatcher)
                for number in numbers
                for instance in (first, second, first, second)
            ),
            retry_unassigned(first.runtime.unit_of_work, settings),
            retry_unassigned(second.runtime.unit_of_work, settings),
        )

        async with first.runtime.sessions() as session:
            assigned = dict(
                (
                    await session.execute(
                        text("SELECT request_no, technician_id FROM jobs WHERE status = 'assigned'")
                    )
                ).all()
            )
            loads = dict(
                (
                    await session.execute(
                        text("SELECT technician_id, jobs FROM technician_day_loads WHERE jobs > 0")
                    )
                ).all()
            )
            events = [
                json.loads(row)["data"]
                for (row,) in await session.execute(
                    text(
                        "SELECT envelope FROM outbox WHERE routing_key = 'dispatch.job.assigned.v1'"
                    )
                )
            ]
    per_technician = Counter(assigned.values())
    assert len(assigned) == TECHNICIANS * LIMIT
    assert all(count == LIMIT for count in per_technician.values())
    assert loads == dict(per_technician)
    # One assignment event per assigned job, none for a job twice.
    assert sorted(e["request_no"] for e in events) == sorted(assigned)
    assert Counter(e["request_no"] for e in events).most_common(1)[0][1] == 1


PAIRS = 6


async def test_simultaneous_declines_swapping_technicians_do_not_deadlock(
    databases: DatabaseFactory, broker: BrokerSettings, auth: AuthSettings, staff_headers: Headers
) -> None:
    """Every job of T-X declined by T-X goes to T-Y and the other way round, all at once on
    two instances: each decline gives one day back and takes the other's, in one order."""
    async with _two_instances(databases, broker, auth, staff_headers) as (first, second):
        for tid, login in (("T-X", "tech-x"), ("T-Y", "tech-y")):
            body = technician(tid, "SP-PD", login, max_jobs_per_day=4 * PAIRS)
            answer = await first.client.put(
                f"/api/v1/technicians/{tid}", json=body, headers=staff_headers("manager")
            )
            assert answer.status_code in (200, 201), answer.text
        owners: dict[str, str] = {}
        for n in range(1, 2 * PAIRS + 1):
            number = f"SR-2026-{n:06d}"
            await publish_envelopes(broker, [envelope(triaged(number))])

            async def owner(number: str = number) -> str | None:
                answer = await first.client.get(
                    f"/api/v1/jobs/{number}", headers=staff_headers("dispatcher")
                )
                return answer.json().get("technician_id") if answer.status_code == 200 else None

            owners[number] = await eventually(owner, lambda tid: tid is not None)
        assert Counter(owners.values()) == {"T-X": PAIRS, "T-Y": PAIRS}  # least loaded

        logins = {"T-X": "tech-x", "T-Y": "tech-y"}
        answers = await asyncio.gather(
            *(
                (first if i % 2 else second).client.post(
                    f"/api/v1/jobs/{number}/decline",
                    json={"reason": "另有安排"},
                    headers=staff_headers("technician", subject=logins[tid]),
                )
                for i, (number, tid) in enumerate(owners.items())
            )
        )
        assert [a.status_code for a in answers] == [200] * len(owners), [a.text for a in answers]
        swapped = {"T-X": "T-Y", "T-Y": "T-X"}
        assert {a.json()["request_no"]: a.json()["technician_id"] for a in answers} == {
            number: swapped[tid] for number, tid in owners.items()
        }
        async with first.runtime.sessions() as session:
            loads = dict(
                (
                    await session.execute(
                        text("SELECT technician_id, sum(jobs) FROM technician_day_loads "
                             "GROUP BY technician_id")
                    )
                ).all()
            )  # fmt: skip
    assert loads == {"T-X": PAIRS, "T-Y": PAIRS}


async def test_two_instances_taking_triaged_requests_in_groups_stay_under_the_limits(
    databases: DatabaseFactory, broker: BrokerSettings, auth: AuthSettings, staff_headers: Headers
) -> None:
    """Technicians in place this time: both instances take the triaged events in groups
    (``take_all_triaged``), racing for the same days. A group whose day the other instance
    filled meanwhile is refused as a whole and its events go one by one: every job is
    decided once, and no day goes over its limit."""
    jobs = 60
    # Both consume; the first is also the one the test reads through.
    async with _two_instances(databases, broker, auth, staff_headers) as (first, _second):
        async with first.runtime.sessions() as session:
            for n in range(TECHNICIANS):
                body = technician(
                    f"T-{n}", "SP-PD", max_jobs_per_day=LIMIT * 3, leave=_only_today()
                )
                await Technicians(session).put(TechnicianIn(**body), datetime.now(UTC))
            await session.commit()
        numbers = [f"SR-2026-{n:06d}" for n in range(1, jobs + 1)]
        await publish_envelopes(broker, [envelope(triaged(number)) for number in numbers])
        await eventually(lambda: _handled(first), lambda n: n == jobs, within=60)
        async with first.runtime.sessions() as session:
            decided = (
                await session.execute(text("SELECT request_no, status, technician_id FROM jobs"))
            ).all()
            loads = dict(
                (
                    await session.execute(
                        text("SELECT technician_id, jobs FROM technician_day_loads WHERE jobs > 0")
                    )
                ).all()
            )
            records = (await session.execute(text("SELECT request_no FROM assignments"))).scalars()
            recorded = Counter(records)
    assert sorted(number for number, _status, _tid in decided) == numbers
    per_technician = Counter(tid for _n, status, tid in decided if status == "assigned")
    assert sum(per_technician.values()) == TECHNICIANS * LIMIT * 3
    assert loads == dict(per_technician)
    assert set(recorded) == set(numbers) and max(recorded.values()) == 1
