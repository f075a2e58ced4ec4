"""Triage across intake and dispatch: the rules decide what they can, agents decide the rest,
dispatch's queue of jobs follows, and illegal moves are refused naming the allowed ones."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from services.dispatch.app import DEFINITION as DISPATCH
from services.intake.app import DEFINITION as INTAKE
from services.intake.db.models import ProductModelRow
from shared.db.messaging_tables import inbox, outbox
from shared.events.envelope import Envelope
from shared.events.registry import EventSchema
from shared.events.schemas.intake import RequestCancelledV1, RequestTriagedV1
from shared.settings import AuthSettings, BrokerSettings
from tests.support.broker import publish_envelopes
from tests.support.databases import DatabaseFactory
from tests.support.dealer_client import DealerClient, contract_report
from tests.support.metrics import sample
from tests.support.services import RunningService, running_service
from tests.support.waiting import eventually

Headers = Callable[..., dict[str, str]]
REQUESTS = "/api/v1/service-requests"
REGISTERED = "intake.request.registered"


@pytest.fixture
async def suite(
    databases: DatabaseFactory, broker: BrokerSettings, auth: AuthSettings, tmp_path: Path
) -> AsyncIterator[tuple[RunningService, RunningService]]:
    intake_db = await databases.migrated(INTAKE.migrations_dir, "intake")
    dispatch_db = await databases.migrated(DISPATCH.migrations_dir, "dispatch")
    async with (
        running_service(DISPATCH, dispatch_db, broker, auth) as dispatch,
        running_service(
            INTAKE, intake_db, broker, auth, secrets_key_file=tmp_path / "secrets.key"
        ) as intake,
    ):
        async with intake.runtime.sessions() as session:
            session.add(
                ProductModelRow(
                    model="WX-200", name="WX-200 水泵", product_line="pumps",
                    warranty_months=12, covers_parts=True, covers_labour=True,
                    covers_travel=True,
                )
            )  # fmt: skip
            await session.commit()
        yield intake, dispatch


async def _status(intake: RunningService, number: str, headers: dict[str, str]) -> str:
    answer = await intake.client.get(f"{REQUESTS}/{number}", headers=headers)
    return str(answer.json()["status"])


async def _job(dispatch: RunningService, number: str, headers: dict[str, str]) -> httpx.Response:
    return await dispatch.client.get(f"/api/v1/jobs/{number}", headers=headers)


async def test_dealer_report_is_triaged_automatically_and_queued_for_dispatch(
    suite: tuple[RunningService, RunningService], staff_headers: Headers
) -> None:
    intake, dispatch = suite
    made = await intake.client.post(
        "/api/v1/admin/dealers", json={"name": "广州服务站"}, headers=staff_headers("admin")
    )
    dealer = DealerClient(intake.client, made.json()["dealer_id"], made.json()["secret"])
    report = contract_report()
    del report["work_done"]
    created = await dealer.post_report(report, key="auto-1")
    assert created.status_code == 201 and created.json()["status"] == "received"
    number = created.json()["request_no"]
    agent = staff_headers("intake_agent")

    await eventually(lambda: _status(intake, number, agent), lambda s: s == "handed_to_dispatch")
    read = (await intake.client.get(f"{REQUESTS}/{number}", headers=agent)).json()
    # Intake's own steps; dispatch's report that nobody fits may follow at any moment.
    assert [e["status"] for e in read["timeline"] if e["department"] == "intake"] == [
        "received", "triaged", "handed_to_dispatch",
    ]  # fmt: skip
    assert (read["kind"], read["severity"], read["product_line"]) == ("repair", "urgent", "pumps")
    assert read["timeline"][1]["summary"].startswith("自动分诊")

    job = (
        await eventually(
            lambda: _job(dispatch, number, staff_headers("dispatcher")),
            lambda a: a.status_code == 200,
        )
    ).json()
    assert job["status"] == "unassigned"
    assert job["required_skill"] == "pumps" and job["region"] == "上海"
    # Urgent fault: respond within 30 minutes of receipt, around the clock.
    received = datetime.fromisoformat(read["received_at"])
    assert datetime.fromisoformat(job["response_due_at"]) == received + timedelta(minutes=30)

    # The dealer sees intake's internal hand-over as "triaged", and dispatch's news that
    # nobody fits yet (no technicians in this test) without a change of status.
    seen = (
        await eventually(
            lambda: dealer.get(f"/api/v1/dealer/repair-reports/{number}"),
            lambda r: len(r.json()["timeline"]) == 4,
        )
    ).json()
    assert seen["status"] == "triaged"
    assert [(e["department"], e["status"]) for e in seen["timeline"]] == [
        ("intake", "received"),
        ("intake", "triaged"),
        ("intake", "triaged"),
        ("dispatch", "triaged"),
    ]


async def test_dealer_work_goes_to_claims_without_a_job(
    suite: tuple[RunningService, RunningService], staff_headers: Headers
) -> None:
    intake, dispatch = suite
    made = await intake.client.post(
        "/api/v1/admin/dealers", json={"name": "北京服务站"}, headers=staff_headers("admin")
    )
    dealer = DealerClient(intake.client, made.json()["dealer_id"], made.json()["secret"])
    number = (await dealer.post_report(contract_report(), key="w-1")).json()["request_no"]
    agent = staff_headers("intake_agent")
    await eventually(lambda: _status(intake, number, agent), lambda s: s == "triaged")
    read = (await intake.client.get(f"{REQUESTS}/{number}", headers=agent)).json()
    assert read["timeline"][-1]["details"]["route"] == "claims"
    assert (await _job(dispatch, number, staff_headers("dispatcher"))).status_code == 404


async def _registrations_in_inbox(intake: RunningService) -> set[str]:
    """Request numbers whose registration intake's consumer recorded in its inbox."""
    async with intake.runtime.sessions() as session:
        handled = select(inbox.c.message_id).where(inbox.c.event_type == REGISTERED)
        rows = await session.execute(
            select(outbox.c.envelope).where(outbox.c.event_id.in_(handled))
        )
        return {Envelope.model_validate_json(e).data["request_no"] for e in rows.scalars()}


def _registrations(outcome: str) -> float:
    return sample(
        "aftersales_events_consumed_total",
        service="intake",
        event_type=REGISTERED,
        outcome=outcome,
    )


async def test_a_dealer_reports_registration_is_settled_from_its_message_alone(
    suite: tuple[RunningService, RunningService], staff_headers: Headers
) -> None:
    """A dealer's report is triaged in its registration's transaction: intake's consumer
    acknowledges the registration without a transaction of its own. A web request is
    triaged by the consumer, after its registration, as ever."""
    intake, _dispatch = suite
    agent = staff_headers("intake_agent")
    settled_before, handled_before = _registrations("settled"), _registrations("handled")
    made = await intake.client.post(
        "/api/v1/admin/dealers", json={"name": "上海服务站"}, headers=staff_headers("admin")
    )
    dealer = DealerClient(intake.client, made.json()["dealer_id"], made.json()["secret"])
    report = contract_report()
    del report["work_done"]
    reported = (await dealer.post_report(report, key="settled-1")).json()["request_no"]
    web = {
        "channel": "web",
        "customer": {"name": "李娜", "phone": "13911111111", "region": "上海"},
        "product": {"model": "WX-200", "serial_no": "WX200-WEB-1"},
        "fault_description": "水泵不启动",
        "request": "repair",
        "severity": "ordinary",
    }
    online = (await intake.client.post(REQUESTS, json=web, headers=agent)).json()["request_no"]

    await eventually(lambda: _status(intake, online, agent), lambda s: s == "handed_to_dispatch")
    await eventually(
        lambda: _registrations("settled"), lambda n: n == settled_before + 1, what="settled"
    )
    assert await _registrations_in_inbox(intake) == {online}
    assert _registrations("handled") == handled_before + 1
    assert await _status(intake, reported, agent) == "handed_to_dispatch"


async def test_reports_registered_together_are_each_settled_or_handled_as_their_own(
    suite: tuple[RunningService, RunningService], staff_headers: Headers
) -> None:
    """Dealer reports arriving at once are registered together, in one transaction; the
    relay still names each report's events apart, so each triaged report's registration is
    settled from its message and the one the rules could not triage (an unknown model) is
    handled by the consumer, never taken for settled by its neighbours' triages."""
    intake, _dispatch = suite
    agent = staff_headers("intake_agent")
    settled_before, handled_before = _registrations("settled"), _registrations("handled")
    groups_before = sample("aftersales_intake_dealer_report_group_size_count")
    made = await intake.client.post(
        "/api/v1/admin/dealers", json={"name": "北京服务站"}, headers=staff_headers("admin")
    )
    dealer = DealerClient(intake.client, made.json()["dealer_id"], made.json()["secret"])
    reports = []
    for n in range(12):
        report = contract_report(f"DLR-G-{n}")
        del report["work_done"]
        report["product"] = {
            "model": "ZZ-UNKNOWN" if n == 5 else "WX-200",
            "serial_no": f"WX200-G-{n}",
        }
        reports.append(report)
    answers = await asyncio.gather(
        *(dealer.post_report(report, key=f"group-{n}") for n, report in enumerate(reports))
    )
    numbers = [answer.json()["request_no"] for answer in answers]
    assert [answer.status_code for answer in answers] == [201] * 12
    groups = sample("aftersales_intake_dealer_report_group_size_count") - groups_before
    assert groups < 12  # some were registered together

    await eventually(
        lambda: _registrations("settled"), lambda n: n == settled_before + 11, what="settled"
    )
    await eventually(
        lambda: _registrations("handled"), lambda n: n == handled_before + 1, what="handled"
    )
    assert numbers[5] in await _registrations_in_inbox(intake)
    assert await _status(intake, numbers[5], agent) == "received"
    assert await _status(intake, numbers[4], agent) == "handed_to_dispatch"


async def test_agent_moves_a_phone_request_and_dispatch_follows(
    suite: tuple[RunningService, RunningService], staff_headers: Headers
) -> None:
    intake, dispatch = suite
    agent = staff_headers("intake_agent")
    dispatcher = staff_headers("dispatcher")
    body: dict[str, Any] = {
        "channel": "phone",
        "customer": {"name": "王芳", "phone": "13900000000", "region": "北京"},
        "product": {"model": "WX-200", "serial_no": "WX200-PH-1"},
        "fault_description": "水泵异响",
        "request": "repair",
        "severity": "ordinary",
    }
    number = (await intake.client.post(REQUESTS, json=body, headers=agent)).json()["request_no"]

    async def act(action: str, payload: dict[str, Any] | None = None) -> httpx.Response:
        return await intake.client.post(
            f"{REQUESTS}/{number}/{action}", json=payload, headers=agent
        )

    # A phone call is not triaged by the rules: an agent is on the line.
    assert await _status(intake, number, agent) == "received"
    assert (await act("acknowledge")).json()["status"] == "acknowledged"
    refused = await act("acknowledge")
    assert refused.status_code == 409
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["allowed"] == ["cancel", "resolve_remotely", "triage"]
    assert refused.json()["status_now"] == "acknowledged"

    triaged = await act("triage", {"kind": "repair", "severity": "ordinary"})
    assert triaged.json()["status"] == "handed_to_dispatch"
    job = await eventually(
        lambda: _job(dispatch, number, dispatcher), lambda a: a.status_code == 200
    )
    assert job.json()["status"] == "unassigned"

    # The agent changes their mind: advice on the phone will do.
    changed = await act("triage", {"kind": "consultation", "severity": "consultation"})
    assert changed.json()["status"] == "triaged"
    cancelled = await eventually(
        lambda: _job(dispatch, number, dispatcher), lambda a: a.json()["status"] == "cancelled"
    )
    assert cancelled.json()["cancel_reason"] == "re-triaged: no visit needed"

    assert (await act("resolve-remotely", {"note": "指导客户清理滤网"})).json()["status"] == (
        "resolved_remotely"
    )
    assert (await act("close")).json()["status"] == "closed"
    assert (await act("cancel", {"reason": "x"})).status_code == 409
    reopened = await act("reopen", {"reason": "客户再次来电"})
    assert reopened.json()["status"] == "acknowledged"
    timeline = reopened.json()["timeline"]
    assert [e["status"] for e in timeline if e["department"] == "intake"] == [
        "received", "acknowledged", "triaged", "handed_to_dispatch", "triaged",
        "resolved_remotely", "closed", "acknowledged",
    ]  # fmt: skip
    # While it was with dispatch, dispatch reported that nobody fits (no technicians here);
    # its report never moved the status.
    assert [e["status"] for e in timeline if e["department"] == "dispatch"] in (
        [],
        ["handed_to_dispatch"],
    )

    # Bad input and the wrong people.
    assert (await act("triage", {"kind": "teleport", "severity": "ordinary"})).status_code == 422
    assert (await act("cancel", {"reason": ""})).status_code == 422
    assert (
        await intake.client.post(f"{REQUESTS}/{number}/acknowledge", headers=dispatcher)
    ).status_code == 403
    assert (
        await intake.client.post(
            f"{REQUESTS}/{number}/acknowledge", headers=staff_headers("auditor")
        )
    ).status_code == 403
    missing = await intake.client.post(f"{REQUESTS}/SR-2026-999999/acknowledge", headers=agent)
    assert missing.status_code == 404


async def test_cancelling_a_request_cancels_its_job(
    suite: tuple[RunningService, RunningService], staff_headers: Headers
) -> None:
    intake, dispatch = suite
    agent = staff_headers("intake_agent")
    body = {
        "channel": "walk_in",
        "customer": {"name": "赵敏", "phone": "13600000000", "region": "广州"},
        "product": {"model": "WX-200", "serial_no": "WX200-C-1"},
        "fault_description": "漏水",
    }
    number = (await intake.client.post(REQUESTS, json=body, headers=agent)).json()["request_no"]
    await intake.client.post(
        f"{REQUESTS}/{number}/triage", json={"kind": "repair", "severity": "urgent"}, headers=agent
    )
    dispatcher = staff_headers("dispatcher")
    await eventually(lambda: _job(dispatch, number, dispatcher), lambda a: a.status_code == 200)
    queue = await dispatch.client.get("/api/v1/jobs?status=unassigned", headers=dispatcher)
    assert number in [j["request_no"] for j in queue.json()]

    cancelled = await intake.client.post(
        f"{REQUESTS}/{number}/cancel", json={"reason": "客户已自行修好"}, headers=agent
    )
    assert cancelled.json()["status"] == "cancelled"
    job = await eventually(
        lambda: _job(dispatch, number, dispatcher), lambda a: a.json()["status"] == "cancelled"
    )
    assert job.json()["cancel_reason"] == "客户已自行修好"
    queue = await dispatch.client.get("/api/v1/jobs", headers=dispatcher)
    assert number not in [j["request_no"] for j in queue.json()]


async def test_cancellation_overtaking_its_triage_is_not_undone(
    suite: tuple[RunningService, RunningService],
    broker: BrokerSettings,
    staff_headers: Headers,
) -> None:
    _intake, dispatch = suite
    now = datetime.now(UTC)
    triaged = RequestTriagedV1(
        request_no="SR-2026-777777", kind="repair", severity="urgent", visit_needed=True,
        route="dispatch", product_line="pumps", product_model="WX-200", serial_no="S-1",
        in_warranty=True, customer_name="孙丽", customer_phone="13500000000", address=None,
        region="上海", response_due_at=now + timedelta(minutes=30), triaged_at=now,
    )  # fmt: skip
    cancelled = RequestCancelledV1(
        request_no="SR-2026-777777", reason="重复报修", cancelled_at=now + timedelta(minutes=1)
    )
    await eventually(lambda: dispatch.runtime.consumer.is_consuming)  # type: ignore[union-attr]
    await publish_envelopes(broker, [_envelope(cancelled)])
    dispatcher = staff_headers("dispatcher")
    await eventually(
        lambda: _job(dispatch, "SR-2026-777777", dispatcher), lambda a: a.status_code == 200
    )
    await publish_envelopes(broker, [_envelope(triaged)])
    await eventually(
        lambda: dispatch.client.get("/metrics"),
        lambda m: 'event_type="intake.request.triaged",outcome="handled"' in m.text,
    )
    job = (await _job(dispatch, "SR-2026-777777", dispatcher)).json()
    assert job["status"] == "cancelled" and job["cancel_reason"] == "重复报修"


def _envelope(event: EventSchema) -> Envelope:
    return Envelope(
        type=event.event_type,
        version=event.event_version,
        producer=event.producer,
        correlation_id="out-of-order",
        data=event.model_dump(mode="json"),
    )
