"""Roles on every dispatch route: nobody without a token, an auditor reads everything and
changes nothing, an admin may do anything, a technician never manages staff nor reassigns
(their own jobs only is tested with the jobs themselves)."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.routing import APIRoute

from services.dispatch.app import DEFINITION as DISPATCH
from shared.settings import BrokerSettings
from tests.integration.test_dispatch_assignment import (
    dispatch,  # noqa: F401 (fixture)
    envelope,
    job_of,
    put_points,
    put_technician,
    technician,
    triaged,
)
from tests.support.broker import publish_envelopes
from tests.support.services import RunningService
from tests.support.waiting import eventually

Headers = Callable[..., dict[str, str]]
HOUR = timedelta(hours=1)


def routes() -> list[tuple[str, str]]:
    found = [
        (method, re.sub(r"{[^}]+}", "SR-2026-000001", route.path))
        for router in DISPATCH.routers
        for route in router.routes
        if isinstance(route, APIRoute)
        for method in sorted(route.methods)
    ]
    assert len(found) > 20
    return found


async def test_every_route_wants_a_token_and_an_auditor_never_writes(
    dispatch: RunningService,  # noqa: F811
    staff_headers: Headers,
) -> None:
    auditor = staff_headers("auditor")
    for method, path in routes():
        anonymous = await dispatch.client.request(method, path, json={})
        assert anonymous.status_code == 401, (method, path, anonymous.status_code)
        answer = await dispatch.client.request(method, path, json={}, headers=auditor)
        if method == "GET":
            assert answer.status_code != 403, (method, path, answer.text)
        else:
            assert answer.status_code == 403, (method, path, answer.status_code)
        # An admin may do anything (the request itself may still be refused as bad).
        admin = await dispatch.client.request(method, path, json={}, headers=staff_headers("admin"))
        assert admin.status_code not in (401, 403), (method, path, admin.text)


async def test_a_technician_neither_manages_staff_nor_assigns(
    dispatch: RunningService,  # noqa: F811
    staff_headers: Headers,
) -> None:
    technician = staff_headers("technician", subject="tech-a")
    for method, path in routes():
        if method == "GET" or not path.startswith(
            ("/api/v1/technicians", "/api/v1/service-points")
        ):
            continue
        answer = await dispatch.client.request(method, path, json={}, headers=technician)
        assert answer.status_code == 403, (method, path, answer.status_code)
    for action in ("assign", "reassign"):
        answer = await dispatch.client.post(
            f"/api/v1/jobs/SR-2026-000001/{action}", json={}, headers=technician
        )
        assert answer.status_code == 403, (action, answer.status_code)


async def test_a_technician_touches_no_route_of_another_technicians_job(
    dispatch: RunningService,  # noqa: F811
    broker: BrokerSettings,
    staff_headers: Headers,
) -> None:
    await put_points(dispatch, staff_headers)
    await put_technician(dispatch, staff_headers, technician("T-A", "SP-PD", "tech-a"))
    await put_technician(dispatch, staff_headers, technician("T-B", "SP-SJ", "tech-b"))
    number = "SR-2026-000001"
    await publish_envelopes(broker, [envelope(triaged(number))])
    await eventually(
        lambda: job_of(dispatch, number, staff_headers),
        lambda a: a.json().get("technician_id") == "T-A",
    )
    other = staff_headers("technician", subject="tech-b")
    job_routes = [(m, p) for m, p in routes() if p.startswith(f"/api/v1/jobs/{number}")]
    assert len(job_routes) > 10
    soon = datetime.now(UTC) + timedelta(hours=2)
    window = {"window_start": soon.isoformat(), "window_end": (soon + HOUR).isoformat()}
    line = {"part_no": "IMP-200", "quantity": 1}
    # A valid body for each route, so that only the job's owner can be what refuses.
    bodies: dict[str, dict[str, Any]] = {
        "decline": {"reason": "不去"},
        "reassign": {"technician_id": "T-B", "reason": "换人"},
        "wait-for-parts": {"lines": [line]},
        "escalate": {"reason": "疑难", "owner": "技术部"},
        "resolution": {"resolution": "更换主板"},
        "appointment": window,
        "reschedule": {**window, "reason": "客户改期"},
        "promise": {"promised_at": (soon + HOUR).isoformat()},
        "field-report": {
            "findings": "叶轮卡死", "work_done": "更换叶轮", "labour_minutes": 30,
            "travel_km": "5", "parts_used": [], "old_parts_removed": [], "cause": "wear",
            "fault_code": "E07", "result": "repaired",
        },
        "sign-off": {"signer": "张伟", "typed_confirmation": "确认"},
        "diagnosis": {"cause": "misuse", "findings": "进水"},
    }  # fmt: skip
    refused = {}
    for method, path in job_routes:
        body = bodies.get(path.rsplit("/", 1)[-1], {})
        answer = await dispatch.client.request(method, path, json=body, headers=other)
        refused[(method, path)] = answer.status_code
    assert set(refused.values()) == {403}, refused
    # Nothing changed on the job.
    job = (await job_of(dispatch, number, staff_headers)).json()
    assert (job["status"], job["technician_id"]) == ("assigned", "T-A")
