"""The staff API of a running parts service on PostgreSQL and RabbitMQ: roles on every
route, clear refusals, and a job's parts from dispatch's event to the technician and back."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime

import httpx
import pytest

from services.parts.app import DEFINITION as PARTS
from services.parts.db.stockroom import ledger_problems
from shared.messaging.outbox import envelope_for
from shared.settings import AuthSettings, BrokerSettings
from tests.integration.test_parts_inventory import requested
from tests.support.broker import publish_envelopes
from tests.support.databases import DatabaseFactory
from tests.support.services import RunningService, running_service
from tests.support.waiting import eventually

Headers = Callable[..., dict[str, str]]
API = "/api/v1"


@pytest.fixture
async def parts(
    databases: DatabaseFactory, broker: BrokerSettings, auth: AuthSettings
) -> AsyncIterator[RunningService]:
    url = await databases.migrated(PARTS.migrations_dir, "parts")
    async with running_service(PARTS, url, broker, auth, monitor_seconds=3600) as service:
        # A loaded machine may take a while to connect; the wait ends as soon as it consumes.
        await eventually(lambda: service.runtime.consumer.is_consuming, within=60)  # type: ignore[union-attr]
        yield service
        async with service.runtime.sessions() as session:
            assert await ledger_problems(session) == []


async def _set_up(client: httpx.AsyncClient, warehouse: dict[str, str]) -> None:
    for warehouse_id, body in {
        "WH-C": {"kind": "central", "name": "中央仓库"},
        "WH-SH": {"kind": "service_centre", "name": "上海", "service_point_id": "SP-SH"},
        "WH-OLD": {"kind": "old_parts", "name": "旧件库"},
    }.items():
        answer = await client.put(f"{API}/warehouses/{warehouse_id}", json=body, headers=warehouse)
        assert answer.status_code == 200, answer.text
    csv = (
        "part_no,name,fits_models,unit_cost,list_price,supplier_id,genuine,return_required\n"
        "P-1001,WX-200 主控板,WX-200,180.00,320.00,S-01,true,true\n"
        "P-2002,机械密封,WX-200;WX-300,18.00,40.00,S-02,true,false\n"
        "P-BAD,,WX-200,x,1,,,\n"
    )
    imported = await client.post(
        f"{API}/parts/import", content=csv.encode(),
        headers={**warehouse, "Content-Type": "text/csv"},
    )  # fmt: skip
    assert imported.status_code == 200
    assert (imported.json()["created"], [r["line"] for r in imported.json()["rejected"]]) == (
        2,
        [4],
    )
    for part_no, warehouse_id, quantity in (("P-1001", "WH-SH", 2), ("P-2002", "WH-SH", 5)):
        receipt = {"part_no": part_no, "warehouse_id": warehouse_id, "quantity": quantity}
        answer = await client.post(f"{API}/receipts", json=receipt, headers=warehouse)
        assert answer.status_code == 201, answer.text


async def test_roles_and_refusals(parts: RunningService, staff_headers: Headers) -> None:
    client, warehouse = parts.client, staff_headers("warehouse")
    await _set_up(client, warehouse)
    technician, auditor = staff_headers("technician", subject="T-1"), staff_headers("auditor")
    receipt = {"part_no": "P-1001", "warehouse_id": "WH-SH", "quantity": 1}
    assert (await client.post(f"{API}/receipts", json=receipt)).status_code == 401
    assert (
        await client.post(f"{API}/receipts", json=receipt, headers=technician)
    ).status_code == 403
    assert (await client.post(f"{API}/receipts", json=receipt, headers=auditor)).status_code == 403
    assert (await client.get(f"{API}/stock", headers=auditor)).status_code == 200
    assert (await client.get(f"{API}/parts", headers=technician)).status_code == 200
    bad = await client.post(
        f"{API}/receipts", json={"part_no": "", "warehouse_id": "WH-SH", "quantity": 0},
        headers=warehouse,
    )  # fmt: skip
    assert bad.status_code == 422
    assert {e["field"] for e in bad.json()["errors"]} == {"part_no", "quantity"}
    unknown = {"part_no": "P-NONE", "warehouse_id": "WH-SH", "quantity": 1}
    assert (
        await client.post(f"{API}/receipts", json=unknown, headers=warehouse)
    ).status_code == 404
    too_many = {"part_no": "P-1001", "warehouse_id": "WH-SH", "quantity": 9, "reason": "broken"}
    refused = await client.post(f"{API}/scrap", json=too_many, headers=warehouse)
    assert refused.status_code == 409 and "on hand" in refused.json()["detail"]
    twice = await client.put(
        f"{API}/warehouses/WH-SH2", json={"kind": "service_centre", "name": "x",
                                          "service_point_id": "SP-SH"}, headers=warehouse,
    )  # fmt: skip
    assert twice.status_code == 409
    van = {"kind": "van", "name": "王强的车", "technician_id": "T-1"}
    assert (
        await client.put(f"{API}/warehouses/VAN-T1", json=van, headers=warehouse)
    ).status_code == 200
    listed = (await client.get(f"{API}/warehouses", headers=auditor)).json()
    assert {w["warehouse_id"]: w["technician_id"] for w in listed}["VAN-T1"] == "T-1"
    await client.post(
        f"{API}/transfers", headers=warehouse,
        json={"part_no": "P-2002", "from_warehouse_id": "WH-SH", "to_warehouse_id": "VAN-T1",
              "quantity": 2},
    )  # fmt: skip
    # A technician sees the stock of their own van only.
    own_van = (await client.get(f"{API}/stock", headers=technician)).json()
    assert [(x["warehouse_id"], x["part_no"], x["on_hand"]) for x in own_van] == [
        ("VAN-T1", "P-2002", 2)
    ]
    other = staff_headers("technician", subject="T-2")
    assert (await client.get(f"{API}/stock?warehouse_id=VAN-T1", headers=other)).json() == []
    no_owner = await client.put(
        f"{API}/warehouses/VAN-X", json={"kind": "van", "name": "x"}, headers=warehouse
    )
    assert no_owner.status_code == 409 and "technician" in no_owner.json()["detail"]
    assert (await client.get(f"{API}/parts/P-NONE", headers=warehouse)).status_code == 404
    part = {"name": "压力罐", "fits_models": ["WX-300"], "unit_cost": "90.00",
            "list_price": "170.00", "supplier_id": "S-02"}  # fmt: skip
    created = await client.put(f"{API}/parts/P-2007", json=part, headers=warehouse)
    assert created.status_code == 201 and created.json()["return_required"] is False
    changed = await client.put(
        f"{API}/parts/P-2007", json={**part, "list_price": "180.00"}, headers=warehouse
    )
    assert changed.status_code == 200 and changed.json()["list_price"] == "180.00"
    wrong = await client.put(
        f"{API}/parts/P-2007", json={**part, "unit_cost": "-1", "colour": "red"}, headers=warehouse
    )
    assert {e["field"] for e in wrong.json()["errors"]} == {"unit_cost", "colour"}
    blank = await client.put(f"{API}/parts/P-2007", json={**part, "name": "   "}, headers=warehouse)
    assert blank.status_code == 422 and [e["field"] for e in blank.json()["errors"]] == ["name"]
    for_model = await client.get(f"{API}/parts?model=WX-300", headers=technician)
    assert [p["part_no"] for p in for_model.json()] == ["P-2002", "P-2007"]
    decision = await client.post(
        f"{API}/emergencies/EM-2026-000001/decision", json={"approve": True}, headers=warehouse
    )
    assert decision.status_code == 403
    low = await client.get(f"{API}/stock?warehouse_id=WH-SH&part_no=P-1001", headers=warehouse)
    assert low.json()[0]["available"] == 2
    ledger = await client.get(f"{API}/parts/P-1001/movements", headers=auditor)
    assert [m["kind"] for m in ledger.json()] == ["receipt"]


async def test_a_job_from_dispatch_to_the_technician_and_back(
    parts: RunningService, staff_headers: Headers, broker: BrokerSettings
) -> None:
    client, warehouse = parts.client, staff_headers("warehouse")
    await _set_up(client, warehouse)
    await publish_envelopes(broker, [envelope_for(requested("SR-A", {"P-1001": 3, "P-2002": 2}))])

    async def reservation() -> list[dict]:  # type: ignore[type-arg]
        answer = await client.get(f"{API}/reservations?request_no=SR-A", headers=warehouse)
        return answer.json()  # type: ignore[no-any-return]

    found = (
        await eventually(reservation, lambda r: len(r) == 1, within=60, what="the reservation")
    )[0]
    assert found["status"] == "backordered"
    assert [(x["part_no"], x["reserved"], x["backordered"]) for x in found["lines"]] == [
        ("P-1001", 2, 1), ("P-2002", 2, 0),
    ]  # fmt: skip
    backorders = (await client.get(f"{API}/backorders", headers=warehouse)).json()
    assert [(b["request_no"], b["part_no"], b["waiting"]) for b in backorders] == [
        ("SR-A", "P-1001", 1)
    ]
    filled = await client.post(
        f"{API}/receipts", json={"part_no": "P-1001", "warehouse_id": "WH-C", "quantity": 4},
        headers=warehouse,
    )  # fmt: skip
    assert filled.json()["to_backorders"] == 1
    issued = await client.post(
        f"{API}/reservations/{found['reservation_id']}/issue", json={"technician_id": "T-1"},
        headers=warehouse,
    )  # fmt: skip
    assert issued.status_code == 200, issued.text
    assert sorted((x["part_no"], x["quantity"]) for x in issued.json()) == [
        ("P-1001", 3), ("P-2002", 2),
    ]  # fmt: skip
    mine, other = (
        staff_headers("technician", subject="T-1"),
        staff_headers("technician", subject="T-2"),
    )
    assert len((await client.get(f"{API}/issues", headers=mine)).json()) == 2
    assert (await client.get(f"{API}/issues?technician_id=T-1", headers=other)).json() == []
    back = {"request_no": "SR-A", "part_no": "P-2002", "quantity": 1}
    assert (await client.post(f"{API}/returns", json=back, headers=other)).status_code == 409
    assert (await client.post(f"{API}/returns", json=back, headers=mine)).status_code == 201

    # Emergency: asked by a dispatcher, approved by a manager, shipped by the warehouse.
    asked = await client.post(
        f"{API}/emergencies",
        json={"request_no": "SR-E", "service_point_id": "SP-SH", "reason": "产线停机",
              "lines": [{"part_no": "P-1001", "quantity": 1}]},
        headers=staff_headers("dispatcher"),
    )  # fmt: skip
    assert asked.status_code == 201, asked.text
    number = asked.json()["emergency_no"]
    approved = await client.post(
        f"{API}/emergencies/{number}/decision", json={"approve": True},
        headers=staff_headers("manager", subject="mgr-1"),
    )  # fmt: skip
    assert approved.json()["status"] == "approved"
    shipped = await client.post(
        f"{API}/emergencies/{number}/shipment", json={"carrier": "顺丰", "tracking_no": "SF1"},
        headers=warehouse,
    )  # fmt: skip
    assert shipped.json()["status"] == "shipped"
    again = await client.post(
        f"{API}/emergencies/{number}/shipment", json={"carrier": "顺丰", "tracking_no": "SF1"},
        headers=warehouse,
    )  # fmt: skip
    assert again.status_code == 409 and "approved" in again.json()["detail"]

    core = await client.post(
        f"{API}/core-receipts",
        json={"request_no": "SR-X", "part_no": "P-1001", "quantity": 1, "serials": ["OP-1"]},
        headers=warehouse,
    )  # fmt: skip
    assert core.status_code == 201 and core.json()["matched"] is False
    assert (
        await client.get(f"{API}/expected-returns?overdue=true", headers=warehouse)
    ).json() == []
    unmatched = (await client.get(f"{API}/core-receipts?matched=false", headers=warehouse)).json()
    assert [(c["request_no"], c["mismatches"]) for c in unmatched] == [
        ("SR-X", ["no old part P-1001 is expected from this job"])
    ]

    report = await client.get(f"{API}/reconciliation/WH-SH", headers=staff_headers("auditor"))
    assert report.status_code == 200
    figures = {p["part_no"]: p for p in report.json()["parts"]}
    assert (figures["P-2002"]["issued"], figures["P-2002"]["returned"]) == (2, 1)
    assert figures["P-2002"]["still_out"] == 1
    start = datetime.fromisoformat(report.json()["period_start"])
    assert (datetime.now(UTC) - start).days in range(180, 186)

    plan = await client.put(
        f"{API}/warehouses/WH-SH/replenishment-plan",
        json={"lines": [{"part_no": "P-2002", "quantity": 3}]}, headers=warehouse,
    )  # fmt: skip
    plan_no = plan.json()["plan_no"]
    submitted = await client.post(f"{API}/replenishment-plans/{plan_no}/submit", headers=warehouse)
    assert submitted.json()["status"] == "submitted"
    sent = await client.post(
        f"{API}/transfers",
        json={"part_no": "P-2002", "from_warehouse_id": "WH-SH", "to_warehouse_id": "WH-SH",
              "quantity": 1}, headers=warehouse,
    )  # fmt: skip
    assert sent.status_code == 409
    receipt = {"part_no": "P-2002", "warehouse_id": "WH-SH", "quantity": 3, "plan_no": plan_no}
    assert (
        await client.post(f"{API}/receipts", json=receipt, headers=warehouse)
    ).status_code == 201
    plans = (await client.get(f"{API}/replenishment-plans", headers=warehouse)).json()
    assert plans[0]["status"] == "filled"

    advice = await client.get(f"{API}/reorder-advice/WH-SH?days=30", headers=warehouse)
    assert {a["part_no"] for a in advice.json()} == {"P-1001", "P-2002"}
    assert (await client.get(f"{API}/reorder-advice/WH-NONE", headers=warehouse)).status_code == 404
    metrics = (await client.get("/metrics")).text
    assert 'aftersales_parts_movements_total{kind="reservation"}' in metrics
    assert "aftersales_parts_reservation_latency_seconds_count" in metrics


def _write_routes(parts: RunningService) -> list[tuple[str, str]]:
    """Every route that changes something (from the published API), path parameters named."""
    found = []
    for path, operations in parts.app.openapi()["paths"].items():
        if not path.startswith(API):
            continue
        for method in sorted(operations):
            if method.upper() not in ("GET", "HEAD"):
                found.append((method.upper(), path.replace("{", "").replace("}", "")))
    return found


async def test_every_route_asks_for_the_right_role(
    parts: RunningService, staff_headers: Headers
) -> None:
    client = parts.client
    writes = _write_routes(parts)
    assert len(writes) >= 19
    allowed = {  # beyond the warehouse and admin, who may change what
        "technician": {("POST", f"{API}/returns")},
        "manager": {
            ("POST", f"{API}/emergencies"), ("POST", f"{API}/emergencies/emergency_no/decision"),
        },
        "dispatcher": {("POST", f"{API}/emergencies")},
        "auditor": set(),
        "claims_adjuster": set(),
    }  # fmt: skip
    for method, path in writes:
        assert (await client.request(method, path, json={})).status_code == 401, path
        for role, may in allowed.items():
            answer = await client.request(method, path, json={}, headers=staff_headers(role))
            assert (answer.status_code == 403) is ((method, path) not in may), (role, path)
            assert answer.headers["content-type"].startswith("application/problem+json")
        for role in ("warehouse", "admin"):
            answer = await client.request(method, path, json={}, headers=staff_headers(role))
            if path.endswith("/decision"):  # approvals are a manager's (or admin's)
                assert (answer.status_code == 403) is (role == "warehouse"), path
            else:
                assert answer.status_code not in (401, 403), (role, path)
    # Reading: the auditor reads everything, a technician the catalogue and own issues only.
    auditor, technician = staff_headers("auditor"), staff_headers("technician", subject="T-1")
    for path in ("/stock", "/reservations", "/backorders", "/emergencies", "/core-receipts",
                 "/expected-returns", "/supplier-collections", "/replenishment-plans",
                 "/parts/P-1/movements", "/warehouses", "/issues", "/parts"):  # fmt: skip
        assert (await client.get(f"{API}{path}", headers=auditor)).status_code in (200, 404)
    for path in ("/reservations", "/backorders", "/core-receipts", "/supplier-collections"):
        assert (await client.get(f"{API}{path}", headers=technician)).status_code == 403


HUGE = "長" * 5000
# A sensible body for each route; each field in turn is then made wrong.
GOOD_BODIES: dict[str, dict] = {  # type: ignore[type-arg]
    "/receipts": {"part_no": "P-1001", "warehouse_id": "WH-SH", "quantity": 1, "reference": "DN"},
    "/transfers": {"part_no": "P-1001", "from_warehouse_id": "WH-SH", "to_warehouse_id": "WH-C",
                   "quantity": 1},
    "/adjustments": {"part_no": "P-1001", "warehouse_id": "WH-SH", "change": 1, "reason": "count"},
    "/scrap": {"part_no": "P-1001", "warehouse_id": "WH-SH", "quantity": 1, "reason": "broken"},
    "/returns": {"request_no": "SR-Z", "part_no": "P-1001", "quantity": 1},
    "/core-receipts": {"request_no": "SR-Z", "part_no": "P-1001", "quantity": 1,
                       "serials": ["S1"]},
    "/emergencies": {"request_no": "SR-Z", "service_point_id": "SP-SH", "reason": "停机",
                     "lines": [{"part_no": "P-1001", "quantity": 1}]},
    "/parts/part_no": {"name": "主控板", "fits_models": ["WX-200"], "unit_cost": "1.00",
                      "list_price": "2.00", "supplier_id": "S-01"},
    "/suppliers/supplier_id": {"name": "供应商", "contact": "x"},
    "/warehouses/warehouse_id": {"kind": "service_centre", "name": "上海",
                                 "service_point_id": "SP-SH"},
    "/warehouses/warehouse_id/replenishment-plan": {"lines": [{"part_no": "P-1001",
                                                               "quantity": 1}]},
    "/stock/warehouse_id/part_no/reorder": {"reorder_point": 1, "reorder_quantity": 2},
    "/reservations/reservation_id/issue": {"technician_id": "T-1"},
    "/emergencies/emergency_no/shipment": {"carrier": "顺丰", "tracking_no": "SF1"},
}  # fmt: skip
# The names in the paths above, as the sweep of bodies fills them.
NAMES = {"part_no": "P-1001", "warehouse_id": "WH-SH", "supplier_id": "S-01",
         "reservation_id": "R-1", "emergency_no": "EM-1"}  # fmt: skip
WRONG_VALUES = (HUGE, -1, -(10**30), 10**30, "many", None, [], {"x": 1}, [HUGE], True, 1.5)


async def test_bad_input_is_refused_with_a_problem_never_a_500(
    parts: RunningService, staff_headers: Headers
) -> None:
    client, admin = parts.client, staff_headers("admin")
    await _set_up(client, staff_headers("warehouse"))

    async def refused_cleanly(method: str, path: str, body: object) -> None:
        answer = await client.request(method, f"{API}{path}", json=body, headers=admin)
        assert answer.status_code < 500, (path, body, answer.text)
        if answer.status_code >= 400:
            assert answer.headers["content-type"].startswith("application/problem+json")

    for template, good in GOOD_BODIES.items():
        path = template
        for placeholder, name in NAMES.items():
            path = path.replace(placeholder, name)
        method = "PUT" if template.startswith(("/parts/", "/suppliers/", "/warehouses/",
                                               "/stock/")) else "POST"  # fmt: skip
        for body in (None, [], "text", {**good, "unknown_field": 1}):
            await refused_cleanly(method, path, body)
        for field in good:
            for wrong in WRONG_VALUES:
                await refused_cleanly(method, path, {**good, field: wrong})
    # Names in the path that are too long, unknown or odd.
    for method, path in _write_routes(parts):
        for name in ("X" * 21, "X" * 39, "X" * 500, "未知", "a%20b"):
            filled = path
            for placeholder in ("part_no", "warehouse_id", "supplier_id", "reservation_id",
                                "emergency_no", "collection_no", "plan_no"):  # fmt: skip
                filled = filled.replace(placeholder, name)
            body = GOOD_BODIES.get(path.removeprefix(API), {})
            await refused_cleanly(method, filled.removeprefix(API), body)
    # Unknown parts and warehouses are 404s, bad numbers 422s naming the field.
    unknown = await client.post(
        f"{API}/transfers", headers=admin,
        json={**GOOD_BODIES["/transfers"], "to_warehouse_id": "WH-NONE"},
    )  # fmt: skip
    assert unknown.status_code == 404
    negative = await client.post(
        f"{API}/scrap", json={**GOOD_BODIES["/scrap"], "quantity": -3}, headers=admin
    )
    assert negative.status_code == 422 and negative.json()["errors"][0]["field"] == "quantity"
    unknown_part = await client.put(
        f"{API}/warehouses/WH-SH/replenishment-plan", headers=admin,
        json={"lines": [{"part_no": "P-NONE", "quantity": 2}]},
    )  # fmt: skip
    assert unknown_part.status_code == 404


async def test_overdue_old_parts_and_a_suppliers_collection_deadline_are_listed(
    parts: RunningService, staff_headers: Headers, broker: BrokerSettings
) -> None:
    from datetime import timedelta

    from sqlalchemy import update

    from services.parts.db.models import ExpectedReturnRow
    from tests.integration.test_parts_jobs_and_cores import completed, recovery

    client, warehouse = parts.client, staff_headers("warehouse")
    await _set_up(client, warehouse)
    await publish_envelopes(
        broker,
        [
            envelope_for(completed("SR-O", {}, [("P-1001", 1, ["OP-9"])])),
            envelope_for(recovery("RC-2026-000009", "SR-O")),
        ],
    )

    async def listed(path: str) -> list[dict]:  # type: ignore[type-arg]
        return (await client.get(f"{API}{path}", headers=staff_headers("auditor"))).json()  # type: ignore[no-any-return]

    expected = await eventually(
        lambda: listed("/expected-returns?request_no=SR-O"), lambda r: len(r) == 1, within=60
    )
    assert expected[0]["serials_expected"] == ["OP-9"]
    assert await listed("/expected-returns?overdue=true") == []
    # Fifteen days on (the due date moved back instead of waiting): listed as overdue.
    async with parts.runtime.sessions() as session:
        await session.execute(
            update(ExpectedReturnRow).values(due_at=datetime.now(UTC) - timedelta(minutes=1))
        )
        await session.commit()
    assert [e["request_no"] for e in await listed("/expected-returns?overdue=true")] == ["SR-O"]
    # The supplier's deadline: five whole days (5 x 24 h) from being told, shown with the row.
    collection = (
        await eventually(lambda: listed("/supplier-collections"), lambda r: len(r) == 1, within=60)
    )[0]
    told, due = (datetime.fromisoformat(collection[k]) for k in ("notified_at", "due_at"))
    assert (collection["status"], due - told) == ("notified", timedelta(days=5))


async def test_bad_queries_are_refused_with_a_problem_never_a_500(
    parts: RunningService, staff_headers: Headers
) -> None:
    client, admin = parts.client, staff_headers("admin")
    await _set_up(client, staff_headers("warehouse"))
    for query in (
        "/stock?limit=-1", "/stock?limit=abc", f"/stock?warehouse_id={'W' * 5000}",
        "/stock?below_reorder_point=perhaps", "/parts/P-1001/movements?after_id=-5",
        "/parts/P-1001/movements?kind=theft", "/reservations?status=lost",
        "/expected-returns?overdue=maybe", "/emergencies?status=x", f"/parts?model={'M' * 500}",
        "/reconciliation/WH-SH?start=yesterday", "/reconciliation/WH-SH?start=2026-01-01T00:00",
        "/reconciliation/WH-SH?end=0001-02-01T00:00:00Z",
        "/reconciliation/WH-SH?start=0001-01-01T00:00:00Z&end=9999-12-31T23:59:59Z",
        "/reconciliation/WH-SH?start=2026-06-01T00:00:00Z&end=2026-01-01T00:00:00Z",
        "/reconciliation/WH-NONE", "/reorder-advice/WH-SH?days=0", "/reorder-advice/WH-SH?days=x",
        "/parts/%E6%9C%AA%E7%9F%A5", f"/parts/{'P' * 41}",
    ):  # fmt: skip
        answer = await client.get(f"{API}{query}", headers=admin)
        assert answer.status_code < 500, (query, answer.text)
        if answer.status_code >= 400:
            assert answer.headers["content-type"].startswith("application/problem+json"), query
