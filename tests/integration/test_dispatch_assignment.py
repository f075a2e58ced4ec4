"""Dispatch on PostgreSQL and RabbitMQ: staff records, automatic assignment of triaged
requests with its explanation, the unassigned queue retried when a technician comes,
decline and override, the field work up to the completion event, appointments."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import text

from services.dispatch.app import DEFINITION as DISPATCH
from services.dispatch.commands.monitor import refresh_gauges
from services.dispatch.settings import DispatchSettings
from shared.events.envelope import Envelope
from shared.events.registry import EventSchema
from shared.events.schemas.intake import RequestTriagedV1, RequestTriagedV2
from shared.settings import AuthSettings, BrokerSettings
from tests.support.broker import publish_envelopes
from tests.support.databases import DatabaseFactory, migrated_on
from tests.support.metrics import sample
from tests.support.services import RunningService, running_service
from tests.support.waiting import eventually

Headers = Callable[..., dict[str, str]]
VALID = (date.today() + timedelta(days=365)).isoformat()
ALWAYS = "mon-sun 00:00-24:00"


@pytest.fixture(params=["postgresql", "sqlite"])
async def dispatch(
    request: pytest.FixtureRequest,
    databases: DatabaseFactory,
    broker: BrokerSettings,
    auth: AuthSettings,
    tmp_path: Path,
) -> AsyncIterator[RunningService]:
    """Dispatch on PostgreSQL, and on the embedded SQLite default."""
    url = await migrated_on(request.param, DISPATCH, databases, tmp_path)
    async with running_service(DISPATCH, url, broker, auth) as service:
        await eventually(lambda: service.runtime.consumer.is_consuming)  # type: ignore[union-attr]
        yield service


def envelope(event: EventSchema) -> Envelope:
    return Envelope(
        type=event.event_type, version=event.event_version, producer=event.producer,
        correlation_id="test", data=event.model_dump(mode="json"),
    )  # fmt: skip


def triaged(number: str, skill: str = "pumps", **changes: Any) -> RequestTriagedV2:
    now = datetime.now(UTC)
    values: dict[str, Any] = {
        "request_no": number, "kind": "repair", "severity": "urgent", "visit_needed": True,
        "route": "dispatch", "channel": "phone", "product_line": skill,
        "product_model": "WX-200", "serial_no": "WX200-1", "quantity": 1,
        "purchase_date": "2026-03-01", "in_warranty": True, "warranty_expires_on": "2027-03-01",
        "dealer_id": None, "customer_id": "C-1", "customer_name": "张伟",
        "customer_phone": "13800138000", "address": "上海市浦东新区世纪大道100号",
        "region": "上海", "latitude": "31.2400", "longitude": "121.5000",
        "fault_description": "水泵不出水", "response_due_at": now + timedelta(minutes=30),
        "triaged_at": now,
    }  # fmt: skip
    values.update(changes)
    return RequestTriagedV2(**values)


async def put_points(service: RunningService, headers: Headers) -> None:
    for point in (
        {"id": "SP-PD", "name": "浦东服务站", "region": "上海", "latitude": 31.2304,
         "longitude": 121.5440, "zone": "city"},
        {"id": "SP-SJ", "name": "松江服务站", "region": "上海", "latitude": 31.0320,
         "longitude": 121.2270, "zone": "suburb"},
    ):  # fmt: skip
        answer = await service.client.put(
            f"/api/v1/service-points/{point['id']}", json=point, headers=headers("manager")
        )
        assert answer.status_code in (200, 201), answer.text


def technician(tid: str, point: str, login: str | None = None, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": tid, "name": f"技师{tid}", "login": login, "skills": ["pumps"],
        "certification_level": "senior", "certified_until": VALID, "service_point_id": point,
        "max_jobs_per_day": 4, "shifts": ALWAYS,
    }  # fmt: skip
    body.update(changes)
    return body


async def put_technician(
    service: RunningService, headers: Headers, body: dict[str, Any]
) -> httpx.Response:
    return await service.client.put(
        f"/api/v1/technicians/{body['id']}", json=body, headers=headers("manager")
    )


async def job_of(service: RunningService, number: str, headers: Headers) -> httpx.Response:
    return await service.client.get(f"/api/v1/jobs/{number}", headers=headers("dispatcher"))


async def outbox(service: RunningService, routing_key: str) -> list[dict[str, Any]]:
    async with service.runtime.sessions() as session:
        rows = await session.execute(
            text("SELECT envelope FROM outbox WHERE routing_key = :key ORDER BY id"),
            {"key": routing_key},
        )
        return [json.loads(envelope)["data"] for (envelope,) in rows]


async def test_service_points_and_technicians_crud_and_csv_import(
    dispatch: RunningService, staff_headers: Headers
) -> None:
    await put_points(dispatch, staff_headers)
    created = await put_technician(dispatch, staff_headers, technician("T-1", "SP-PD", "tech-1"))
    assert created.status_code == 201
    assert created.json()["certificate_valid"] and created.json()["jobs_today"] == 0
    assert (
        await put_technician(
            dispatch, staff_headers, technician("T-1", "SP-PD", "tech-1", max_jobs_per_day=2)
        )
    ).status_code == 200
    bad = await put_technician(
        dispatch,
        staff_headers,
        technician("T-2", "SP-PD", skills=[], shifts="whenever", max_jobs_per_day=0),
    )
    assert bad.status_code == 422
    assert {e["field"] for e in bad.json()["errors"]} == {"skills", "shifts", "max_jobs_per_day"}
    unknown = await put_technician(dispatch, staff_headers, technician("T-2", "SP-XX"))
    assert unknown.status_code == 422
    taken = await put_technician(dispatch, staff_headers, technician("T-2", "SP-PD", "tech-1"))
    assert taken.status_code == 409

    csv_text = (
        "id,name,login,skills,certified_until,service_point_id,max_jobs_per_day,shifts,leave\n"
        f"T-10,王芳,tech-10,pumps;compressors,{VALID},SP-SJ,5,mon-fri 09:00-18:00,\n"
        f"T-11,李强,,pumps,not-a-date,SP-SJ,5,mon-fri 09:00-18:00,\n"
        f"T-12,赵敏,,pumps,{VALID},SP-NOWHERE,5,mon-fri 09:00-18:00,\n"
        f"T-13,孙丽,,compressors,{VALID},SP-PD,5,mon-fri 09:00-18:00,2026-12-01..2026-12-03\n"
    )
    imported = await dispatch.client.post(
        "/api/v1/technicians/import", content=csv_text.encode(),
        headers={**staff_headers("manager"), "Content-Type": "text/csv"},
    )  # fmt: skip
    assert imported.status_code == 200, imported.text
    report = imported.json()
    assert (report["created"], report["updated"]) == (2, 0)
    assert [r["line"] for r in report["rejected"]] == [3, 4]
    assert "certified_until" in report["rejected"][0]["errors"][0]
    assert "SP-NOWHERE" in report["rejected"][1]["errors"][0]

    listed = await dispatch.client.get(
        "/api/v1/technicians?skill=compressors", headers=staff_headers("auditor")
    )
    assert [t["id"] for t in listed.json()] == ["T-10", "T-13"]
    assert listed.json()[0]["skills"] == ["compressors", "pumps"]
    assert (
        await dispatch.client.get("/api/v1/technicians", headers=staff_headers("technician"))
    ).status_code == 403
    assert (
        await put_technician(
            dispatch, lambda *_: staff_headers("dispatcher"), technician("T-3", "SP-PD")
        )
    ).status_code == 403
    assert (
        await dispatch.client.delete("/api/v1/technicians/T-13", headers=staff_headers("manager"))
    ).status_code == 204
    assert (
        await dispatch.client.get("/api/v1/technicians/T-13", headers=staff_headers("dispatcher"))
    ).json()["active"] is False
    in_use = await dispatch.client.delete(
        "/api/v1/service-points/SP-SJ", headers=staff_headers("manager")
    )
    assert in_use.status_code == 409
    points_csv = (
        "id,name,region,latitude,longitude,zone,covers_regions\n"
        "SP-SZ,深圳服务站,深圳,22.54,114.06,city,东莞;惠州\n"
        "SP-BAD,坏站,深圳,95,114.06,downtown,\n"
    )
    imported = await dispatch.client.post(
        "/api/v1/service-points/import", content=points_csv.encode(),
        headers={**staff_headers("manager"), "Content-Type": "text/csv"},
    )  # fmt: skip
    assert imported.json()["created"] == 1
    assert imported.json()["rejected"][0]["line"] == 3
    assert len(imported.json()["rejected"][0]["errors"]) == 2  # latitude and zone
    point = await dispatch.client.get(
        "/api/v1/service-points/SP-SZ", headers=staff_headers("auditor")
    )
    assert point.json()["covers_regions"] == ["深圳", "东莞", "惠州"]
    gone = await dispatch.client.delete(
        "/api/v1/service-points/SP-SZ", headers=staff_headers("manager")
    )
    assert gone.status_code == 204
    assert (
        await dispatch.client.get("/api/v1/service-points/SP-SZ", headers=staff_headers("auditor"))
    ).status_code == 404
    wrong_type = await dispatch.client.post(
        "/api/v1/service-points/import", content=b"x", headers=staff_headers("manager")
    )
    assert wrong_type.status_code == 415


async def test_triaged_request_is_assigned_to_the_nearest_with_an_explanation(
    dispatch: RunningService, broker: BrokerSettings, staff_headers: Headers
) -> None:
    await put_points(dispatch, staff_headers)
    await put_technician(dispatch, staff_headers, technician("T-NEAR", "SP-PD", "tech-near"))
    await put_technician(dispatch, staff_headers, technician("T-FAR", "SP-SJ", "tech-far"))
    await put_technician(
        dispatch, staff_headers, technician("T-OLD", "SP-PD", certified_until="2020-01-01")
    )
    timed = sample("aftersales_dispatch_assignment_seconds_count", outcome="assigned")
    await publish_envelopes(broker, [envelope(triaged("SR-2026-000001"))])
    job = (
        await eventually(
            lambda: job_of(dispatch, "SR-2026-000001", staff_headers),
            lambda a: a.status_code == 200 and a.json()["status"] == "assigned",
        )
    ).json()
    assert job["technician_id"] == "T-NEAR" and job["service_point_id"] == "SP-PD"
    assert job["arrival_target"] == "city" and job["arrival_due_at"] is not None
    assert job["in_warranty"] is True and job["latitude"] == pytest.approx(31.24)
    explanation = job["assignments"][0]["explanation"]
    assert explanation["winner"] == "T-NEAR"
    assert explanation["exclusions"] == {"certificate_expired": 1, "farther_than_winner": 1}
    assert explanation["score"]["distance_km"] == pytest.approx(4.3, abs=0.2)
    assert job["allowed_actions"] == ["accept", "decline"]
    assert sample("aftersales_dispatch_assignment_seconds_count", outcome="assigned") == timed + 1
    assigned = await outbox(dispatch, "dispatch.job.assigned.v1")
    assert [(e["request_no"], e["technician_id"], e["how"]) for e in assigned] == [
        ("SR-2026-000001", "T-NEAR", "automatic")
    ]
    technicians = await dispatch.client.get(
        "/api/v1/technicians", headers=staff_headers("dispatcher")
    )
    loads = {t["id"]: t["jobs_today"] for t in technicians.json()}
    assert sum(loads.values()) == 1  # today, or tomorrow if today's shift has no time left

    # The same triage again (redelivery) and an old v1 triage change nothing.
    v1 = RequestTriagedV1(
        request_no="SR-2026-000001", kind="repair", severity="ordinary", visit_needed=True,
        route="dispatch", product_line="pumps", product_model="WX-200", serial_no="WX200-1",
        in_warranty=True, customer_name="张伟", customer_phone="13800138000", address=None,
        region="上海", response_due_at=None, triaged_at=datetime.now(UTC) - timedelta(hours=1),
    )  # fmt: skip
    await publish_envelopes(broker, [envelope(triaged("SR-2026-000001")), envelope(v1)])
    await eventually(
        lambda: dispatch.client.get("/metrics"),
        lambda m: 'event_type="intake.request.triaged",outcome="handled"' in m.text,
    )
    again = (await job_of(dispatch, "SR-2026-000001", staff_headers)).json()
    assert again["severity"] == "urgent" and len(again["assignments"]) == 1


async def test_nobody_fits_then_a_technician_comes_and_takes_the_job(
    dispatch: RunningService, broker: BrokerSettings, staff_headers: Headers
) -> None:
    await put_points(dispatch, staff_headers)
    await put_technician(dispatch, staff_headers, technician("T-P", "SP-PD"))
    await publish_envelopes(broker, [envelope(triaged("SR-2026-000002", skill="compressors"))])
    job = (
        await eventually(
            lambda: job_of(dispatch, "SR-2026-000002", staff_headers),
            lambda a: a.status_code == 200 and a.json()["assignments"],
        )
    ).json()
    assert job["status"] == "unassigned"
    assert job["assignments"][0]["technician_id"] is None
    assert job["assignments"][0]["explanation"]["exclusions"] == {"missing_skill": 1}
    assert sample("aftersales_dispatch_unassignable_total") >= 1
    unassignable = await outbox(dispatch, "dispatch.job.unassignable.v1")
    assert [(e["request_no"], e["reasons"]) for e in unassignable] == [
        ("SR-2026-000002", {"missing_skill": 1})
    ]
    queue = await dispatch.client.get(
        "/api/v1/jobs?status=unassigned", headers=staff_headers("dispatcher")
    )
    assert [j["request_no"] for j in queue.json()] == ["SR-2026-000002"]

    # A compressor technician is added: the queue is retried at once.
    await put_technician(
        dispatch, staff_headers, technician("T-C", "SP-SJ", skills=["compressors"])
    )
    job = (await job_of(dispatch, "SR-2026-000002", staff_headers)).json()
    assert (job["status"], job["technician_id"]) == ("assigned", "T-C")
    assert len(await outbox(dispatch, "dispatch.job.unassignable.v1")) == 1


async def test_when_one_slot_frees_up_the_urgent_job_in_the_queue_gets_it(
    dispatch: RunningService, broker: BrokerSettings, staff_headers: Headers
) -> None:
    await put_points(dispatch, staff_headers)
    ordinary, urgent = "SR-2026-000020", "SR-2026-000021"
    # The ordinary job waits longer, yet the urgent one is served first.
    for number, severity in ((ordinary, "ordinary"), (urgent, "urgent")):
        await publish_envelopes(
            broker, [envelope(triaged(number, "compressors", severity=severity))]
        )
        await eventually(
            lambda n=number: job_of(dispatch, n, staff_headers),  # type: ignore[misc]
            lambda a: a.json().get("status") == "unassigned",
        )
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date()
    leave = f"{today + timedelta(days=1)}..{today + timedelta(days=20)}"
    await put_technician(
        dispatch,
        staff_headers,
        technician("T-1", "SP-PD", skills=["compressors"], max_jobs_per_day=1, leave=leave),
    )
    served = {n: (await job_of(dispatch, n, staff_headers)).json() for n in (ordinary, urgent)}
    assert (served[urgent]["status"], served[urgent]["technician_id"]) == ("assigned", "T-1")
    assert served[ordinary]["status"] == "unassigned"
    async with dispatch.runtime.unit_of_work() as uow:
        await refresh_gauges(uow, DispatchSettings(), datetime.now(UTC))
    assert sample("aftersales_dispatch_unassigned_jobs") == 1
    assert sample("aftersales_dispatch_jobs", status="assigned") == 1


async def test_decline_override_and_a_technicians_own_jobs(
    dispatch: RunningService, broker: BrokerSettings, staff_headers: Headers
) -> None:
    await put_points(dispatch, staff_headers)
    await put_technician(dispatch, staff_headers, technician("T-A", "SP-PD", "tech-a"))
    await put_technician(dispatch, staff_headers, technician("T-B", "SP-SJ", "tech-b"))
    await put_technician(dispatch, staff_headers, technician("T-C", "SP-SJ", "tech-c"))
    number = "SR-2026-000003"
    await publish_envelopes(broker, [envelope(triaged(number))])
    await eventually(
        lambda: job_of(dispatch, number, staff_headers),
        lambda a: a.json().get("technician_id") == "T-A",
    )
    # Another technician neither sees nor acts on it; a stranger with the role is refused.
    assert (
        await dispatch.client.get(
            f"/api/v1/jobs/{number}", headers=staff_headers("technician", subject="tech-b")
        )
    ).status_code == 403
    assert (
        await dispatch.client.post(
            f"/api/v1/jobs/{number}/accept", headers=staff_headers("technician", subject="tech-b")
        )
    ).status_code == 403
    assert (
        await dispatch.client.post(
            f"/api/v1/jobs/{number}/accept", headers=staff_headers("technician", subject="nobody")
        )
    ).status_code == 403
    assert (
        await dispatch.client.post(
            f"/api/v1/jobs/{number}/decline",
            json={"reason": ""},
            headers=staff_headers("technician", subject="tech-a"),
        )
    ).status_code == 422

    declined = await dispatch.client.post(
        f"/api/v1/jobs/{number}/decline", json={"reason": "车辆故障"},
        headers=staff_headers("technician", subject="tech-a"),
    )  # fmt: skip
    assert declined.status_code == 200, declined.text
    assert declined.json()["technician_id"] == "T-B"  # next nearest, T-A excluded
    assert declined.json()["assignments"][-1]["how"] == "after_decline"
    assert declined.json()["assignments"][-1]["explanation"]["exclusions"]["declined"] == 1

    mine = await dispatch.client.get(
        "/api/v1/jobs?status=assigned", headers=staff_headers("technician", subject="tech-b")
    )
    assert [j["request_no"] for j in mine.json()] == [number]
    everything_mine = await dispatch.client.get(
        "/api/v1/jobs", headers=staff_headers("technician", subject="tech-b")
    )
    assert [j["request_no"] for j in everything_mine.json()] == [number]
    assert (
        await dispatch.client.get(
            "/api/v1/jobs?status=assigned", headers=staff_headers("technician", subject="tech-c")
        )
    ).json() == []
    # The board's filters; a technician asking for another's jobs still sees only their own.
    for query, expected in (
        ("status=assigned&region=上海", [number]),
        ("status=assigned&region=北京", []),
        ("status=assigned&technician_id=T-B", [number]),
        ("status=assigned&technician_id=T-A", []),
    ):
        board = await dispatch.client.get(
            f"/api/v1/jobs?{query}", headers=staff_headers("dispatcher")
        )
        assert [j["request_no"] for j in board.json()] == expected, query
    nosy = await dispatch.client.get(
        "/api/v1/jobs?technician_id=T-B", headers=staff_headers("technician", subject="tech-c")
    )
    assert nosy.json() == []

    no_reason = await dispatch.client.post(
        f"/api/v1/jobs/{number}/reassign",
        json={"technician_id": "T-C"},
        headers=staff_headers("dispatcher"),
    )
    assert no_reason.status_code == 422
    by_technician = await dispatch.client.post(
        f"/api/v1/jobs/{number}/reassign", json={"technician_id": "T-C", "reason": "x"},
        headers=staff_headers("technician", subject="tech-b"),
    )  # fmt: skip
    assert by_technician.status_code == 403
    overridden = await dispatch.client.post(
        f"/api/v1/jobs/{number}/reassign", json={"technician_id": "T-C", "reason": "客户指定技师"},
        headers=staff_headers("dispatcher"),
    )  # fmt: skip
    assert overridden.status_code == 200, overridden.text
    last = overridden.json()["assignments"][-1]
    assert (last["how"], last["reason"], last["technician_id"]) == (
        "override",
        "客户指定技师",
        "T-C",
    )
    assigned = await outbox(dispatch, "dispatch.job.assigned.v1")
    assert [(e["technician_id"], e["how"]) for e in assigned] == [
        ("T-A", "automatic"), ("T-B", "after_decline"), ("T-C", "override"),
    ]  # fmt: skip
    loads = {
        t["id"]: t["jobs_today"]
        for t in (
            await dispatch.client.get("/api/v1/technicians", headers=staff_headers("dispatcher"))
        ).json()
    }
    assert loads["T-A"] == 0 and loads["T-B"] == 0
    unknown = await dispatch.client.post(
        f"/api/v1/jobs/{number}/reassign", json={"technician_id": "T-ZZ", "reason": "x"},
        headers=staff_headers("dispatcher"),
    )  # fmt: skip
    assert unknown.status_code == 404
    await put_technician(
        dispatch, staff_headers, technician("T-OLD", "SP-PD", certified_until="2020-01-01")
    )
    await put_technician(
        dispatch, staff_headers, technician("T-CMP", "SP-PD", skills=["compressors"])
    )
    await put_technician(dispatch, staff_headers, technician("T-OFF", "SP-PD", active=False))
    for refused, words in (
        ("T-OLD", "certificate expired"),
        ("T-CMP", "skill"),
        ("T-OFF", "not active"),
    ):
        answer = await dispatch.client.post(
            f"/api/v1/jobs/{number}/reassign", json={"technician_id": refused, "reason": "试试"},
            headers=staff_headers("dispatcher"),
        )  # fmt: skip
        assert answer.status_code == 409 and words in answer.json()["detail"], answer.text


async def test_a_diagnosis_on_site_is_recorded_once_and_announced(
    dispatch: RunningService, broker: BrokerSettings, staff_headers: Headers
) -> None:
    await put_points(dispatch, staff_headers)
    await put_technician(dispatch, staff_headers, technician("T-A", "SP-PD", "tech-a"))
    tech = staff_headers("technician", subject="tech-a")
    number = "SR-2026-000011"
    await publish_envelopes(broker, [envelope(triaged(number))])
    await eventually(
        lambda: job_of(dispatch, number, staff_headers),
        lambda a: a.json().get("status") == "assigned",
    )
    finding = {"cause": "misuse", "fault_code": "E21", "findings": "进水，外壳摔裂"}
    path = f"/api/v1/jobs/{number}/diagnosis"
    early = await dispatch.client.post(path, json=finding, headers=tech)
    assert early.status_code == 409 and early.json()["status_now"] == "assigned", early.text
    for action in ("accept", "depart", "arrive"):
        answer = await dispatch.client.post(f"/api/v1/jobs/{number}/{action}", headers=tech)
        assert answer.status_code == 200, answer.text
    bad = await dispatch.client.post(path, json={**finding, "cause": "bad luck"}, headers=tech)
    assert bad.status_code == 422, bad.text
    diagnosed = await dispatch.client.post(path, json=finding, headers=tech)
    assert diagnosed.status_code == 200, diagnosed.text
    job = diagnosed.json()
    assert job["status"] == "on_site" and job["diagnosis"]["fault_code"] == "E21"
    assert (job["diagnosis"]["cause"], job["diagnosis"]["diagnosed_by"]) == ("misuse", "tech-a")
    assert any(h["what"] == "diagnosed" for h in job["history"]), job["history"]
    again = await dispatch.client.post(
        path, json={**finding, "cause": "quality_defect"}, headers=tech
    )
    assert again.status_code == 409 and "field report" in again.json()["detail"]
    [event] = await outbox(dispatch, "dispatch.job.diagnosed.v1")
    assert (event["request_no"], event["technician_id"], event["cause"]) == (
        number, "T-A", "misuse",
    )  # fmt: skip
    assert (event["serial_no"], event["in_warranty"], event["fault_code"]) == (
        job["serial_no"], True, "E21",
    )  # fmt: skip


async def test_field_work_to_completion_with_sign_off_and_repeat_repair(
    dispatch: RunningService, broker: BrokerSettings, staff_headers: Headers
) -> None:
    await put_points(dispatch, staff_headers)
    await put_technician(dispatch, staff_headers, technician("T-A", "SP-PD", "tech-a"))
    tech = staff_headers("technician", subject="tech-a")
    report = {
        "findings": "叶轮卡死（与报修描述不同）", "work_done": "更换叶轮和密封圈",
        "labour_minutes": 95, "travel_km": "12.5",
        "parts_used": [{"part_no": "IMP-200", "quantity": 1, "serials": ["IMP-S-1"]}],
        "old_parts_removed": [{"part_no": "IMP-200", "quantity": 1, "serials": ["IMP-OLD-1"]}],
        "cause": "quality_defect", "fault_code": "E07", "result": "repaired",
    }  # fmt: skip

    async def post(number: str, action: str, body: Any = None) -> httpx.Response:
        return await dispatch.client.post(
            f"/api/v1/jobs/{number}/{action}", json=body, headers=tech
        )

    for number in ("SR-2026-000004", "SR-2026-000005"):
        await publish_envelopes(broker, [envelope(triaged(number))])
        await eventually(
            lambda n=number: job_of(dispatch, n, staff_headers),
            lambda a: a.json().get("status") == "assigned",
        )  # type: ignore[misc]
        refused = await post(number, "arrive")
        assert refused.status_code == 409
        assert refused.json()["allowed"] == ["accept", "decline"]
        assert refused.json()["status_now"] == "assigned"
        for action in ("accept", "depart", "arrive"):
            answer = await post(number, action)
            assert answer.status_code == 200, answer.text
        waiting = await post(
            number, "wait-for-parts", {"lines": [{"part_no": "IMP-200", "quantity": 1}]}
        )
        assert waiting.json()["status"] == "waiting_parts"
        assert (await post(number, "resume")).json()["status"] == "on_site"
        refused = await post(number, "complete")
        assert refused.status_code == 409 and "field report" in refused.json()["detail"]
        put = await dispatch.client.put(
            f"/api/v1/jobs/{number}/field-report", json=report, headers=tech
        )
        assert put.status_code == 200, put.text
        refused = await post(number, "complete")
        assert refused.status_code == 409 and "signed" in refused.json()["detail"]
        too_big = await post(
            number, "sign-off", {"signer": "张伟", "signature_png_base64": "A" * 400_000}
        )
        assert too_big.status_code == 413
        assert (await post(number, "sign-off", {"signer": "张伟"})).status_code == 422
        signed = await post(
            number, "sign-off", {"signer": "张伟", "signature_png_base64": "iVBORw0KGgo="}
        )
        assert signed.status_code == 200
        done = await post(number, "complete")
        assert done.status_code == 200, done.text
        assert done.json()["status"] == "completed" and done.json()["allowed_actions"] == []
        assert (await post(number, "resume")).status_code == 409

    completed = await outbox(dispatch, "dispatch.job.completed.v1")
    assert len(completed) == 2
    # First-time-fix inputs: the first job needed a second visit for its parts.
    assert sample("aftersales_dispatch_jobs_finished_total", result="completed", first_visit="no")
    assert sample("aftersales_dispatch_repeat_repairs_total") >= 1
    first = completed[0]
    assert first["technician_id"] == "T-A" and first["service_point_id"] == "SP-PD"
    assert first["parts_used"] == [{"part_no": "IMP-200", "quantity": 1, "serials": ["IMP-S-1"]}]
    assert first["old_parts_removed"][0]["serials"] == ["IMP-OLD-1"]
    assert (first["cause"], first["fault_code"], first["result"]) == (
        "quality_defect",
        "E07",
        "repaired",
    )
    assert (first["labour_minutes"], first["travel_km"], first["in_warranty"]) == (95, "12.5", True)
    assert first["signed_by"] == "张伟" and first["repeat_repair"] is False
    assert completed[1]["repeat_repair"] is True
    flagged = await outbox(dispatch, "dispatch.repeat_repair.flagged.v1")
    assert [(f["request_no"], f["previous_request_no"]) for f in flagged] == [
        ("SR-2026-000005", "SR-2026-000004")
    ]
    # Not a repeat: the same unit with another fault code, another unit with the same code.
    for number, serial, fault in (
        ("SR-2026-000007", "WX200-1", "E09"),
        ("SR-2026-000008", "WX200-2", "E07"),
    ):
        await publish_envelopes(broker, [envelope(triaged(number, serial_no=serial))])
        await eventually(
            lambda n=number: job_of(dispatch, n, staff_headers),
            lambda a: a.json().get("status") == "assigned",
        )  # type: ignore[misc]
        for action in ("accept", "depart", "arrive"):
            assert (await post(number, action)).status_code == 200
        put = await dispatch.client.put(
            f"/api/v1/jobs/{number}/field-report",
            json={**report, "fault_code": fault},
            headers=tech,
        )
        assert put.status_code == 200, put.text
        typed = {"signer": "张伟", "typed_confirmation": "本人确认维修完成"}
        assert (await post(number, "sign-off", typed)).status_code == 200
        done = await post(number, "complete")
        assert done.status_code == 200, done.text
    later = (await outbox(dispatch, "dispatch.job.completed.v1"))[2:]
    assert [c["repeat_repair"] for c in later] == [False, False]
    assert len(await outbox(dispatch, "dispatch.repeat_repair.flagged.v1")) == 1
    assert len(await outbox(dispatch, "dispatch.job.on_site.v1")) == 6  # 4 + 2 without parts
    assert len(await outbox(dispatch, "dispatch.job.waiting_parts.v1")) == 2
    requested = await outbox(dispatch, "dispatch.parts.requested.v1")
    assert [(r["request_no"], r["lines"]) for r in requested] == [
        ("SR-2026-000004", [{"part_no": "IMP-200", "quantity": 1}]),
        ("SR-2026-000005", [{"part_no": "IMP-200", "quantity": 1}]),
    ]


async def test_appointment_escalation_and_promise(
    dispatch: RunningService, broker: BrokerSettings, staff_headers: Headers
) -> None:
    await put_points(dispatch, staff_headers)
    shanghai = ZoneInfo("Asia/Shanghai")
    leave_day = datetime.now(shanghai).date() + timedelta(days=10)
    await put_technician(
        dispatch, staff_headers, technician("T-A", "SP-PD", "tech-a", leave=str(leave_day))
    )
    number = "SR-2026-000006"
    await publish_envelopes(broker, [envelope(triaged(number))])
    await eventually(
        lambda: job_of(dispatch, number, staff_headers),
        lambda a: a.json().get("status") == "assigned",
    )
    dispatcher = staff_headers("dispatcher")
    start = datetime.now(UTC) + timedelta(hours=2)

    async def post(action: str, body: Any = None) -> httpx.Response:
        return await dispatch.client.post(
            f"/api/v1/jobs/{number}/{action}", json=body, headers=dispatcher
        )

    window = {
        "window_start": start.isoformat(),
        "window_end": (start + timedelta(hours=2)).isoformat(),
    }
    assert (await post("appointment/agree", {})).status_code == 409  # nothing proposed
    assert (
        await post(
            "appointment",
            {"window_start": window["window_end"], "window_end": window["window_start"]},
        )
    ).status_code == 422
    on_leave = datetime.combine(leave_day, time(10), shanghai)
    outside = await post(
        "appointment",
        {
            "window_start": on_leave.isoformat(),
            "window_end": (on_leave + timedelta(hours=2)).isoformat(),
        },
    )
    assert outside.status_code == 422 and outside.json()["errors"][0]["field"] == "window_start"
    assert (await post("appointment", window)).json()["appointment_state"] == "proposed"
    agreed = await post("appointment/agree", {"parts": [{"part_no": "IMP-200", "quantity": 2}]})
    assert (
        agreed.json()["appointment_state"] == "agreed"
        and agreed.json()["parts_state"] == "requested"
    )
    later = {
        "window_start": (start + timedelta(days=1)).isoformat(),
        "window_end": (start + timedelta(days=1, hours=2)).isoformat(),
    }
    assert (await post("appointment/reschedule", later)).status_code == 422  # no reason
    assert (
        await post("appointment/reschedule", {**later, "reason": "客户出差"})
    ).status_code == 200
    events = await outbox(dispatch, "dispatch.appointment.agreed.v1")
    assert [(e["rescheduled"], e["reason"]) for e in events] == [(False, None), (True, "客户出差")]
    parts = await outbox(dispatch, "dispatch.parts.requested.v1")
    assert (
        parts[0]["lines"] == [{"part_no": "IMP-200", "quantity": 2}]
        and parts[0]["priority"] == "urgent"
    )
    assert parts[0]["service_point_id"] == "SP-PD"

    past = await post("promise", {"promised_at": "2020-01-01T00:00:00+00:00"})
    assert past.status_code == 422 and past.json()["errors"][0]["field"] == "promised_at"
    promised = await post(
        "promise",
        {"promised_at": (start + timedelta(days=1)).isoformat(), "note": "明早十点前修好"},
    )
    assert promised.json()["promised_at"] is not None
    for action in ("accept", "depart", "arrive"):
        assert (await post(action)).status_code == 200
    escalated = await post("escalate", {"reason": "主板间歇故障", "owner": "技术部 陈工"})
    assert escalated.json()["status"] == "escalated"
    resolved = await post(
        "escalation/resolution", {"resolution": "联合评估：更换主板", "joint_evaluation": True}
    )
    assert resolved.json()["escalation"]["joint_evaluation"] is True
    assert (await post("resume")).json()["status"] == "on_site"
    assert [e["owner"] for e in await outbox(dispatch, "dispatch.job.escalated.v1")] == [
        "技术部 陈工"
    ]
    auditor = await dispatch.client.post(
        f"/api/v1/jobs/{number}/resume", headers=staff_headers("auditor")
    )
    assert auditor.status_code == 403


async def test_re_triage_moves_the_job_with_the_request(
    dispatch: RunningService, broker: BrokerSettings, staff_headers: Headers
) -> None:
    await put_points(dispatch, staff_headers)
    await put_technician(dispatch, staff_headers, technician("T-P", "SP-PD"))
    await put_technician(
        dispatch, staff_headers, technician("T-C", "SP-SJ", skills=["compressors"])
    )
    number = "SR-2026-000030"
    start = datetime.now(UTC) - timedelta(minutes=10)

    async def triage_at(minutes: int, **changes: Any) -> None:
        event = triaged(number, triaged_at=start + timedelta(minutes=minutes), **changes)
        await publish_envelopes(broker, [envelope(event)])

    def technician_is(expected: str | None) -> Callable[[httpx.Response], bool]:
        return lambda a: a.status_code == 200 and a.json()["technician_id"] == expected

    await triage_at(0)
    await eventually(lambda: job_of(dispatch, number, staff_headers), technician_is("T-P"))
    # Another product line: the pump technician gives the job back, the other one takes it.
    await triage_at(1, product_line="compressors")
    await eventually(lambda: job_of(dispatch, number, staff_headers), technician_is("T-C"))
    # No visit after all: cancelled; a visit again later: back in the queue and assigned.
    await triage_at(2, visit_needed=False, route="remote")
    cancelled = await eventually(
        lambda: job_of(dispatch, number, staff_headers),
        lambda a: a.json()["status"] == "cancelled",
    )
    assert cancelled.json()["cancel_reason"] == "re-triaged: no visit needed"
    await triage_at(1, product_line="pumps")  # an older triage, late: ignored
    await triage_at(3)
    job = (
        await eventually(lambda: job_of(dispatch, number, staff_headers), technician_is("T-P"))
    ).json()
    assert job["status"] == "assigned"
    assert [h["what"] for h in job["history"]] == [
        "created", "assigned", "unassigned", "assigned", "cancelled", "reopened", "assigned",
    ]  # fmt: skip
    loads = {
        t["id"]: t["jobs_today"]
        for t in (
            await dispatch.client.get("/api/v1/technicians", headers=staff_headers("dispatcher"))
        ).json()
    }
    assert loads["T-C"] == 0 and loads["T-P"] <= 1
