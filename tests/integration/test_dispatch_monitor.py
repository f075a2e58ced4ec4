"""The arrival SLA monitor (breach emitted once, counted), the loaner, the board, what
billing, parts and intake tell dispatch, and the demo seed."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import select

from services.dispatch.commands.monitor import (
    check_due_times,
    count_breaches,
    flag_same_day_missed,
    refresh_gauges,
)
from services.dispatch.commands.staff import seed_demo
from services.dispatch.db.models import TechnicianRow
from services.dispatch.settings import DispatchSettings
from shared.events.schemas.billing import QuoteAcceptedV1, QuoteDeclinedV1, QuoteIssuedV1
from shared.events.schemas.intake import RequestClosedV1, SurveyRecordedV1
from shared.events.schemas.parts import ReservationBackorderedV1
from shared.settings import BrokerSettings
from tests.integration.test_dispatch_assignment import (
    dispatch,  # noqa: F401 (fixture)
    envelope,
    job_of,
    outbox,
    put_points,
    put_technician,
    technician,
    triaged,
)
from tests.support.broker import publish_envelopes
from tests.support.metrics import sample
from tests.support.services import RunningService
from tests.support.waiting import eventually

Headers = Callable[..., dict[str, str]]


async def test_breaches_are_emitted_once_and_loaners_required(
    dispatch: RunningService,  # noqa: F811
    broker: BrokerSettings,
    staff_headers: Headers,
) -> None:
    await put_points(dispatch, staff_headers)
    await put_technician(dispatch, staff_headers, technician("T-A", "SP-PD", "tech-a"))
    number = "SR-2026-000010"
    await publish_envelopes(broker, [envelope(triaged(number))])
    job = (
        await eventually(
            lambda: job_of(dispatch, number, staff_headers),
            lambda a: a.json().get("status") == "assigned",
        )
    ).json()
    due = datetime.fromisoformat(job["arrival_due_at"])
    settings = DispatchSettings()
    risky = await dispatch.client.get("/api/v1/jobs?at_risk=true", headers=staff_headers("manager"))
    at_risk_now = [j["request_no"] for j in risky.json()]
    assert at_risk_now == ([number] if due <= datetime.now(UTC) + timedelta(hours=1) else [])

    before = sample("aftersales_dispatch_sla_breaches_total", target="arrival")
    for _ in range(2):
        async with dispatch.runtime.unit_of_work() as uow:
            breached = await check_due_times(uow, settings, due + timedelta(minutes=1))
            await uow.commit()
        count_breaches(breached)
    assert sample("aftersales_dispatch_sla_breaches_total", target="arrival") == before + 1
    events = await outbox(dispatch, "dispatch.sla.breached.v1")
    assert [(e["request_no"], e["target"]) for e in events] == [(number, "arrival")]
    read = (await job_of(dispatch, number, staff_headers)).json()
    assert read["arrival_breached_at"] is not None

    tech = staff_headers("technician", subject="tech-a")
    for action in ("accept", "depart", "arrive"):
        assert (
            await dispatch.client.post(f"/api/v1/jobs/{number}/{action}", headers=tech)
        ).status_code == 200
    on_site = await outbox(dispatch, "dispatch.job.on_site.v1")
    assert on_site[0]["late"] is False  # arrived before the due time
    arrived = datetime.fromisoformat(
        (await job_of(dispatch, number, staff_headers)).json()["arrived_at"]
    )
    async with dispatch.runtime.unit_of_work() as uow:
        assert await check_due_times(uow, settings, arrived + timedelta(hours=11)) == []
        await uow.commit()
    async with dispatch.runtime.unit_of_work() as uow:
        await check_due_times(uow, settings, arrived + timedelta(hours=12, minutes=1))
        await uow.commit()
    loaners = await outbox(dispatch, "dispatch.loaner.required.v1")
    assert len(loaners) == 1
    assert datetime.fromisoformat(loaners[0]["due_at"]) == arrived + timedelta(hours=36)
    async with dispatch.runtime.unit_of_work() as uow:
        late = await check_due_times(uow, settings, arrived + timedelta(hours=37))
        await uow.commit()
    assert late == ["loaner"]
    board = (await dispatch.client.get("/api/v1/board", headers=staff_headers("dispatcher"))).json()
    assert [j["request_no"] for j in board["loaners_to_deliver"]] == [number]
    delivered = await dispatch.client.post(
        f"/api/v1/jobs/{number}/loaner-delivered", json={"note": "备用泵 WX200-L-01"}, headers=tech
    )
    assert delivered.status_code == 200 and delivered.json()["loaner_delivered_at"] is not None
    again = await dispatch.client.post(
        f"/api/v1/jobs/{number}/loaner-delivered", json={}, headers=tech
    )
    assert again.status_code == 409

    async with dispatch.runtime.unit_of_work() as uow:
        await refresh_gauges(uow, settings, datetime.now(UTC))
    assert sample("aftersales_dispatch_jobs", status="on_site") == 1
    # One job today over T-A's limit of 4 (the only active technician).
    assert sample("aftersales_dispatch_technician_utilisation_ratio") == 0.25
    board = await dispatch.client.get("/api/v1/board", headers=staff_headers("auditor"))
    assert board.status_code == 200
    assert board.json()["jobs_by_status"] == {"on_site": 1}
    assert [t["technician_id"] for t in board.json()["technicians"]] == ["T-A"]


async def test_quotes_parts_and_intake_news_reach_the_job(
    dispatch: RunningService,  # noqa: F811
    broker: BrokerSettings,
    staff_headers: Headers,
) -> None:
    await put_points(dispatch, staff_headers)
    await put_technician(dispatch, staff_headers, technician("T-A", "SP-PD", "tech-a"))
    now = datetime.now(UTC)
    # The quote overtakes the triage: kept until the job comes.
    await publish_envelopes(
        broker,
        [
            envelope(
                QuoteIssuedV1(
                    quote_no="QT-2026-000001", request_no="SR-2026-000020", total=Decimal("350.00"),
                    currency="CNY", valid_until=None, issued_at=now,
                )
            ),
            envelope(triaged("SR-2026-000020")),
            envelope(triaged("SR-2026-000021")),
            envelope(
                ReservationBackorderedV1(
                    request_no="SR-2026-000020", reservation_id="R-1",
                    lines=[{"part_no": "IMP-200", "quantity": 1}], backordered_at=now,
                )
            ),
            envelope(
                SurveyRecordedV1(
                    request_no="SR-2026-000020", score=5, comment="很好", dealer_id=None,
                    recorded_at=now,
                )
            ),
        ],
    )  # fmt: skip
    job = (
        await eventually(
            lambda: job_of(dispatch, "SR-2026-000020", staff_headers),
            lambda a: (
                a.status_code == 200
                and a.json()["satisfaction_score"] == 5
                and a.json()["parts_state"] == "backordered"
                and a.json()["status"] == "assigned"
            ),
        )
    ).json()
    assert (job["status"], job["quote_state"], job["parts_state"]) == (
        "assigned",
        "issued",
        "backordered",
    )
    dispatcher = staff_headers("dispatcher")
    for action in ("accept",):
        await dispatch.client.post(f"/api/v1/jobs/SR-2026-000020/{action}", headers=dispatcher)
    waiting = await dispatch.client.post("/api/v1/jobs/SR-2026-000020/depart", headers=dispatcher)
    assert waiting.status_code == 409 and "QT-2026-000001" in waiting.json()["detail"]

    await publish_envelopes(
        broker,
        [
            envelope(
                QuoteAcceptedV1(
                    quote_no="QT-2026-000001", request_no="SR-2026-000020",
                    total=Decimal("350"), currency="CNY", accepted_at=now,
                )
            ),
            envelope(
                QuoteDeclinedV1(
                    quote_no="QT-2026-000002", request_no="SR-2026-000021",
                    call_out_fee=Decimal("50"), currency="CNY", reason="太贵", declined_at=now,
                )
            ),
            envelope(RequestClosedV1(request_no="SR-2026-000099", closed_at=now)),
        ],
    )  # fmt: skip
    declined = await eventually(
        lambda: job_of(dispatch, "SR-2026-000021", staff_headers),
        lambda a: a.json()["status"] == "cancelled",
    )
    assert declined.json()["cancel_reason"] == "quote declined: 太贵"
    accepted = await eventually(
        lambda: job_of(dispatch, "SR-2026-000020", staff_headers),
        lambda a: a.json()["quote_state"] == "accepted",
    )
    assert accepted.json()["status"] == "accepted"
    assert (
        await dispatch.client.post("/api/v1/jobs/SR-2026-000020/depart", headers=dispatcher)
    ).status_code == 200
    technicians = await dispatch.client.get("/api/v1/technicians", headers=dispatcher)
    assert technicians.json()[0]["satisfaction_average"] == 5.0
    assert (
        sum(t["jobs_today"] for t in technicians.json()) <= 1
    )  # the declined job gave its day back


async def test_demo_seed_is_idempotent(
    dispatch: RunningService,  # noqa: F811
) -> None:
    first = await seed_demo(dispatch.runtime.unit_of_work())
    second = await seed_demo(dispatch.runtime.unit_of_work())
    assert first.startswith("dispatch: 6 service points and 36 technicians added")
    assert second.startswith("dispatch: 0 service points and 0 technicians added")
    async with dispatch.runtime.sessions() as session:
        rows = list((await session.execute(select(TechnicianRow))).scalars())
    regions = {row.service_point_id[3:5] for row in rows}
    assert len(rows) >= 30 and regions == {"SH", "BJ", "GZ"}
    assert {"pumps", "compressors"} <= {s for row in rows for s in row.skills.split(",") if s}


async def test_a_job_unfinished_after_its_working_day_is_flagged_once(
    dispatch: RunningService,  # noqa: F811
    broker: BrokerSettings,
    staff_headers: Headers,
) -> None:
    await put_points(dispatch, staff_headers)
    await put_technician(dispatch, staff_headers, technician("T-A", "SP-PD", "tech-a"))
    number = "SR-2026-000012"
    await publish_envelopes(broker, [envelope(triaged(number))])
    job = (
        await eventually(
            lambda: job_of(dispatch, number, staff_headers),
            lambda a: a.json().get("status") == "assigned",
        )
    ).json()
    settings = DispatchSettings()
    # The technician works around the clock: the day ends at midnight after the planned day.
    day_ends = datetime.combine(
        date.fromisoformat(job["planned_day"]) + timedelta(days=1),
        time(0),
        ZoneInfo(settings.calendar_zone),
    )
    async with dispatch.runtime.unit_of_work() as uow:
        assert await flag_same_day_missed(uow, settings, day_ends - timedelta(minutes=1)) == 0
        await uow.commit()
    for expected in (1, 0):  # flagged once
        async with dispatch.runtime.unit_of_work() as uow:
            assert (
                await flag_same_day_missed(uow, settings, day_ends + timedelta(minutes=1))
                == expected
            )
            await uow.commit()
    events = [h["what"] for h in (await job_of(dispatch, number, staff_headers)).json()["history"]]
    assert events.count("same_day_missed") == 1
    async with dispatch.runtime.unit_of_work() as uow:
        await refresh_gauges(uow, settings, day_ends + timedelta(minutes=1))
    assert sample("aftersales_dispatch_jobs_needing_promised_time") >= 1
