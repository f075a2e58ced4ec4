"""``aftersales demo``: the repair lifecycle told as it happens, against a running suite.

The scenarios here drive the five services only through their HTTP APIs, as their staff,
customers and dealers would, and wait for each service to learn from the others' events.
The end-to-end tests run the same scenarios against real processes and then compare the
final state of every service; the demo prints the story instead.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx

from shared.auth.tokens import issue_local_token
from shared.settings import AuthSettings

Say = Callable[[str], None]
ALWAYS = "mon-sun 00:00-24:00"
ALL_STAFF = [
    "admin", "intake_agent", "dispatcher", "warehouse", "claims_adjuster", "billing_clerk",
    "manager", "general_manager",
]  # fmt: skip
# The scenarios' own service point and technicians (always on shift, so that the story does
# not depend on the hour it runs at); the point's id is the one parts's demo stock serves.
POINT = {
    "id": "SP-SH-PD", "name": "上海浦东服务站", "region": "上海", "latitude": 31.2304,
    "longitude": 121.5440, "zone": "city",
}  # fmt: skip
# Four, at the most jobs a day dispatch allows each (50): room for the fault runs' bursts.
PUMP_TECHNICIANS = [
    ("T-E2E-01", "王伟", "tech-e2e-01"), ("T-E2E-02", "李强", "tech-e2e-02"),
    ("T-E2E-03", "刘洋", "tech-e2e-03"), ("T-E2E-04", "陈静", "tech-e2e-04"),
]  # fmt: skip
COMPRESSOR_TECHNICIAN = ("T-E2E-CK", "张敏", "tech-e2e-ck")
SHANGHAI_CUSTOMER = {
    "name": "张伟", "phone": "13800138000", "address": "上海市浦东新区世纪大道100号",
    "region": "上海", "latitude": "31.2354", "longitude": "121.5055",
}  # fmt: skip


class StepFailed(AssertionError):
    pass


@dataclass
class Desk:
    """Where the scenarios make their calls: one base URL per service (or several, taken in
    turn), and tokens signed with the suite's local key."""

    urls: Callable[[str], str]
    auth: AuthSettings
    say: Say = lambda _line: None
    timeout: float = 60.0
    # Under a database outage a call may fail with a 5xx before anything is committed; the
    # fault runs ask again (the services' transactions make that safe), the demo does not.
    retry_server_errors: bool = False
    # Optional: a base URL held for the length of one call (the fault runs do not kill a
    # process while a call is on it).
    lease: Callable[[str], AbstractContextManager[str]] | None = None
    tokens: dict[tuple[str, tuple[str, ...]], str] = field(default_factory=dict)

    def headers(self, *roles: str, subject: str = "e2e") -> dict[str, str]:
        key = (subject, roles)
        if key not in self.tokens:
            self.tokens[key] = issue_local_token(
                self.auth, subject, list(roles or ALL_STAFF), ttl=timedelta(hours=2)
            )
        return {"Authorization": f"Bearer {self.tokens[key]}"}

    async def call(
        self,
        service: str,
        method: str,
        path: str,
        body: Any = None,
        *,
        as_: tuple[str, ...] = (),
        subject: str = "e2e",
        expect: tuple[int, ...] = (200, 201),
        headers: dict[str, str] | None = None,
    ) -> Any:
        """One call; a refused step fails the scenario with the service's own words. A
        connection refused (a process being restarted) is tried again until the deadline."""
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                with self.lease(service) if self.lease else nullcontext(self.urls(service)) as base:
                    async with httpx.AsyncClient(timeout=20) as client:
                        answer = await client.request(
                            method,
                            base + path,
                            json=body,
                            headers={**self.headers(*as_, subject=subject), **(headers or {})},
                        )
            except httpx.TransportError as exc:
                # Refused before anything was sent: always safe to ask again. Cut off after
                # sending: only for reads.
                sent = not isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout)
                if (sent and method != "GET") or time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.2)
                continue
            retry = answer.status_code in (502, 503) or (
                self.retry_server_errors and answer.status_code >= 500
            )
            if retry and time.monotonic() < deadline:
                await asyncio.sleep(0.2)
                continue
            if answer.status_code not in expect:
                raise StepFailed(f"{service} {method} {path}: {answer.status_code} {answer.text}")
            return answer.json() if answer.content else None

    async def get(self, service: str, path: str, **kwargs: Any) -> Any:
        return await self.call(service, "GET", path, **kwargs)

    async def until(
        self,
        service: str,
        path: str,
        holds: Callable[[Any], bool],
        what: str,
        within: float | None = None,
    ) -> Any:
        """Wait until the service's answer shows what another service's event told it."""
        deadline = time.monotonic() + (within or self.timeout)
        last: Any = None
        while True:
            try:
                last = await self.call(service, "GET", path, expect=(200, 404))
                if last is not None and holds(last):
                    return last
            except (httpx.TransportError, StepFailed) as exc:
                last = repr(exc)
            if time.monotonic() > deadline:
                raise StepFailed(f"{service}: {what} not seen within the deadline; last: {last}")
            await asyncio.sleep(0.1)


# --- staff the scenarios need ---------------------------------------------------------


def technician(
    tid: str, name: str, login: str, skills: list[str], certified_until: date
) -> dict[str, Any]:
    return {
        "id": tid, "name": name, "login": login, "skills": skills,
        "certification_level": "senior", "certified_until": certified_until.isoformat(),
        "service_point_id": POINT["id"], "max_jobs_per_day": 50, "shifts": ALWAYS,
    }  # fmt: skip


async def put_dispatch_staff(desk: Desk) -> None:
    """The service point and its pumps technicians; the compressors technician's
    certificate has expired (scenario 7 renews it)."""
    await desk.call("dispatch", "PUT", f"/api/v1/service-points/{POINT['id']}", POINT)
    valid = date.today() + timedelta(days=365)
    for tid, name, login in PUMP_TECHNICIANS:
        await desk.call(
            "dispatch", "PUT", f"/api/v1/technicians/{tid}",
            technician(tid, name, login, ["pumps"], valid),
        )  # fmt: skip
    tid, name, login = COMPRESSOR_TECHNICIAN
    expired = date.today() - timedelta(days=1)
    await desk.call(
        "dispatch", "PUT", f"/api/v1/technicians/{tid}",
        technician(tid, name, login, ["compressors"], expired),
    )  # fmt: skip


# --- the steps every scenario shares --------------------------------------------------


def serial(prefix: str) -> str:
    return f"{prefix}-E2E-{uuid.uuid4().hex[:8].upper()}"


async def phone_in(
    desk: Desk,
    model: str,
    serial_no: str,
    purchase_date: str,
    fault: str,
    severity: str = "urgent",
    kind: str = "repair",
    request: str = "repair",
    visit_needed: bool | None = None,
) -> str:
    created = await desk.call(
        "intake",
        "POST",
        "/api/v1/service-requests",
        {
            "channel": "phone",
            "customer": SHANGHAI_CUSTOMER,
            "product": {"model": model, "serial_no": serial_no},
            "fault_description": fault,
            "request": request,
            "severity": severity,
            "purchase_date": purchase_date,
        },
    )
    number = str(created["request_no"])
    await desk.call(
        "intake", "POST", f"/api/v1/service-requests/{number}/triage",
        {"kind": kind, "severity": severity, "visit_needed": visit_needed},
    )  # fmt: skip
    warranty = "in warranty" if created["warranty"]["in_warranty"] else "out of warranty"
    desk.say(f"{number}: {model} {serial_no}, {fault} ({severity}, {warranty}), triaged")
    return number


async def assigned(desk: Desk, number: str) -> dict[str, Any]:
    job = await desk.until(
        "dispatch",
        f"/api/v1/jobs/{number}",
        lambda j: j.get("status") == "assigned",
        "the technician's assignment",
    )
    desk.say(
        f"{number}: dispatch assigned {job['technician_name']} ({job['technician_id']}) "
        f"from {job['service_point_id']}, arrival due {job['arrival_due_at']}"
    )
    return dict(job)


def login_of(technician_id: str) -> str:
    everyone = [*PUMP_TECHNICIANS, COMPRESSOR_TECHNICIAN]
    return next(login for tid, _name, login in everyone if tid == technician_id)


async def job_step(
    desk: Desk, number: str, technician_id: str, action: str, body: Any = None
) -> dict[str, Any]:
    answer = await desk.call(
        "dispatch", "POST", f"/api/v1/jobs/{number}/{action}", body,
        as_=("technician",), subject=login_of(technician_id),
    )  # fmt: skip
    return dict(answer)


async def agree_appointment(desk: Desk, number: str, parts: list[dict[str, Any]]) -> None:
    start = datetime.now(UTC) + timedelta(hours=1)
    window = {
        "window_start": start.isoformat(),
        "window_end": (start + timedelta(hours=2)).isoformat(),
    }
    await desk.call("dispatch", "POST", f"/api/v1/jobs/{number}/appointment", window)
    await desk.call(
        "dispatch", "POST", f"/api/v1/jobs/{number}/appointment/agree", {"parts": parts}
    )
    if parts:
        await desk.until(
            "dispatch",
            f"/api/v1/jobs/{number}",
            lambda j: j.get("parts_state") == "reserved",
            "parts reserved",
        )
    wanted = ", ".join(f"{p['part_no']} × {p['quantity']}" for p in parts) or "no parts"
    desk.say(f"{number}: appointment agreed, {wanted} reserved")


async def repair_on_site(
    desk: Desk,
    number: str,
    technician_id: str,
    parts_used: list[dict[str, Any]],
    old_parts: list[dict[str, Any]],
    cause: str = "quality_defect",
    labour_minutes: int = 90,
    travel_km: str = "20",
) -> dict[str, Any]:
    for action in ("accept", "depart", "arrive"):
        await job_step(desk, number, technician_id, action)
    desk.say(f"{number}: {technician_id} on site")
    report = {
        "findings": "主控板烧毁" if cause == "quality_defect" else "进水导致短路（使用不当）",
        "work_done": "更换部件，试机正常",
        "labour_minutes": labour_minutes,
        "travel_km": travel_km,
        "parts_used": parts_used,
        "old_parts_removed": old_parts,
        "cause": cause,
        "fault_code": "E42",
        "result": "repaired",
    }
    await desk.call(
        "dispatch", "PUT", f"/api/v1/jobs/{number}/field-report", report,
        as_=("technician",), subject=login_of(technician_id),
    )  # fmt: skip
    await job_step(
        desk, number, technician_id, "sign-off",
        {"signer": SHANGHAI_CUSTOMER["name"], "signature_png_base64": "iVBORw0KGgo="},
    )  # fmt: skip
    done = await job_step(desk, number, technician_id, "complete")
    used = ", ".join(f"{p['part_no']} × {p['quantity']}" for p in parts_used) or "no parts"
    desk.say(f"{number}: repaired ({cause}), {used}; the customer signed")
    return done


# --- scenarios ------------------------------------------------------------------------


@dataclass
class Outcome:
    request_no: str
    facts: dict[str, Any] = field(default_factory=dict)


async def out_of_warranty_paid_repair(desk: Desk) -> Outcome:
    """Scenario 3: quote, acceptance, repair, invoice, a partial and a final payment."""
    number = await phone_in(desk, "WX-200", serial("WX200"), "2024-01-10", "水泵不出水", "ordinary")
    job = await assigned(desk, number)
    await desk.until("billing", f"/api/v1/requests/{number}", lambda r: True, "billing's view")
    quote = await desk.call(
        "billing",
        "POST",
        "/api/v1/quotes",
        {
            "request_no": number,
            "lines": [
                {"kind": "labour", "quantity": "1.5"},
                {"kind": "parts", "part_no": "P-2002", "quantity": "2"},
            ],
        },
        as_=("billing_clerk",),
    )
    desk.say(f"{number}: quote {quote['quote_no']} {quote['total']} {quote['currency']}")
    await desk.until(
        "dispatch", f"/api/v1/jobs/{number}", lambda j: j["quote_state"] == "issued", "the quote"
    )
    await desk.call("billing", "POST", f"/api/v1/quotes/{quote['quote_no']}/accept", {})
    await desk.until(
        "dispatch",
        f"/api/v1/jobs/{number}",
        lambda j: j["quote_state"] == "accepted",
        "the customer's acceptance",
    )
    desk.say(f"{number}: the customer accepted the quote")
    await agree_appointment(desk, number, [{"part_no": "P-2002", "quantity": 2}])
    await repair_on_site(
        desk, number, job["technician_id"],
        [{"part_no": "P-2002", "quantity": 2, "serials": []}], [], cause="wear",
    )  # fmt: skip
    invoices = await desk.until(
        "billing",
        f"/api/v1/invoices?request_no={number}",
        lambda found: len(found) == 1,
        "the invoice",
    )
    invoice = invoices[0]
    desk.say(f"{number}: invoice {invoice['invoice_no']} {invoice['total']} {invoice['currency']}")
    customer_id = invoice["bill_to_id"]
    total = invoice["total"]
    first = await desk.call(
        "billing", "POST", "/api/v1/payments",
        {"customer_id": customer_id, "amount": "100.00", "method": "bank",
         "invoice_no": invoice["invoice_no"]},
        as_=("billing_clerk",),
    )  # fmt: skip
    desk.say(f"{number}: paid 100.00 ({first['payment_no']})")
    rest = await desk.until(
        "billing",
        f"/api/v1/invoices/{invoice['invoice_no']}",
        lambda i: i["paid"] == "100.00",
        "the partial payment",
    )
    second = await desk.call(
        "billing", "POST", "/api/v1/payments",
        {"customer_id": customer_id, "amount": rest["outstanding"], "method": "bank",
         "invoice_no": invoice["invoice_no"]},
        as_=("billing_clerk",),
    )  # fmt: skip
    desk.say(f"{number}: paid {rest['outstanding']} ({second['payment_no']}); settled")
    return Outcome(
        number,
        {
            "quote_no": quote["quote_no"],
            "invoice_no": invoice["invoice_no"],
            "total": total,
            "customer_id": customer_id,
            "technician_id": job["technician_id"],
            "payments": [first["payment_no"], second["payment_no"]],
        },
    )


async def return_for_repair(desk: Desk) -> Outcome:
    """Scenario 5: shipped in, repaired, inspection fails once, repaired again, passes,
    shipped back with tracking, the customer confirms."""
    number = await phone_in(
        desk, "WX-200", serial("WX200"), (date.today() - timedelta(days=60)).isoformat(),
        "返厂维修：压力不稳", "ordinary", kind="return_for_repair", visit_needed=False,
    )  # fmt: skip
    base = f"/api/v1/service-requests/{number}/return"
    received = await desk.call(
        "intake", "POST", base, {"condition": "外壳有划痕，包装完好", "accessories": ["电源线"]}
    )
    desk.say(f"{number}: return {received['return_no']} received")
    await desk.call("intake", "POST", f"{base}/store", {"location": "A-01-03"})
    await desk.call("intake", "POST", f"{base}/send-to-repair", {"note": "更换压力传感器"})
    failed = await desk.call(
        "intake", "POST", f"{base}/inspect", {"passed": False, "notes": "漏水"}
    )
    desk.say(f"{number}: inspection failed ({failed['status']}), back to repair")
    if failed["status"] != "in_repair":
        await desk.call("intake", "POST", f"{base}/send-to-repair", {"note": "重新密封"})
    old_serial = f"OP-{uuid.uuid4().hex[:6].upper()}"
    repair = {
        "cause": "quality_defect", "fault_code": "E31", "labour_hours": "1.5",
        "parts_replaced": [{"part_no": "P-1001", "quantity": 1, "old_part_serial": old_serial}],
    }  # fmt: skip
    await desk.call(
        "intake", "POST", f"{base}/inspect",
        {"passed": True, "notes": "试压合格", "repair": repair},
    )  # fmt: skip
    desk.say(f"{number}: passed inspection; the workshop replaced P-1001 (quality defect)")
    await hand_in_old_part(desk, number, "P-1001", old_serial)
    desk.say(f"{number}: the old part {old_serial} went to the old-parts store")
    shipped = await desk.call(
        "intake", "POST", f"{base}/ship",
        {"carrier": "顺丰速运", "tracking_no": "SF1234567890", "shipping_cost": "25.00"},
    )  # fmt: skip
    desk.say(f"{number}: shipped back, {shipped['carrier']} {shipped['tracking_no']}")
    confirmed = await desk.call("intake", "POST", f"{base}/confirm-receipt", {})
    desk.say(f"{number}: the customer confirmed receipt")
    claim = await claim_of(
        desk, number, lambda c: c["status"] in ("approved", "partially_approved", "rejected"),
        "the return's claim decision",
    )  # fmt: skip
    desk.say(f"{number}: claim {claim['claim_no']} {claim['status']} {claim['amount_approved']}")
    settled = await desk.until(
        "billing", f"/api/v1/requests/{number}", lambda r: r["settled_at"], "settled"
    )
    desk.say(f"{number}: billing settled it as category {settled['category']}")
    return Outcome(
        number,
        {
            "return_no": received["return_no"],
            "final": confirmed,
            "old_serial": old_serial,
            "claim": claim,
        },
    )


async def nobody_fits(desk: Desk) -> Outcome:
    """Scenario 7: the only compressors technician's certificate has expired; renewed, he
    takes the waiting job."""
    number = await phone_in(
        desk, "CK-50", serial("CK50"), (date.today() - timedelta(days=100)).isoformat(),
        "压缩机无法启动", "ordinary",
    )  # fmt: skip
    waiting = await desk.until(
        "dispatch",
        f"/api/v1/jobs/{number}",
        lambda j: j.get("status") == "unassigned" and j.get("assignments"),
        "the job in the unassigned queue",
    )
    reasons = waiting["assignments"][0]["explanation"]["exclusions"]
    desk.say(f"{number}: nobody fits ({reasons}); the job waits")
    tid, name, login = COMPRESSOR_TECHNICIAN
    await desk.call(
        "dispatch", "PUT", f"/api/v1/technicians/{tid}",
        technician(tid, name, login, ["compressors"], date.today() + timedelta(days=730)),
    )  # fmt: skip
    desk.say(f"{number}: {name}'s certificate renewed")
    job = await assigned(desk, number)
    return Outcome(number, {"technician_id": job["technician_id"], "reasons": reasons})


async def hand_in_old_part(desk: Desk, number: str, part_no: str, serial: str) -> None:
    """The warehouse books an old part in against the return parts expects: once parts has
    heard of the repair (an old part handed in before that is recorded as a mismatch)."""
    await desk.until(
        "parts", f"/api/v1/expected-returns?request_no={number}", bool, "the old part expected"
    )
    await desk.call(
        "parts", "POST", "/api/v1/core-receipts",
        {"request_no": number, "part_no": part_no, "quantity": 1, "serials": [serial]},
        as_=("warehouse",),
    )  # fmt: skip


async def claims_of(desk: Desk, number: str) -> list[dict[str, Any]]:
    found = await desk.get("claims", f"/api/v1/claims?request_no={number}")
    return list(found)


async def claim_of(
    desk: Desk, number: str, holds: Callable[[dict[str, Any]], bool], what: str
) -> dict[str, Any]:
    deadline = time.monotonic() + desk.timeout
    while True:
        found = await claims_of(desk, number)
        if len(found) == 1 and holds(found[0]):
            return found[0]
        if time.monotonic() > deadline:
            raise StepFailed(f"claims: {what} not seen; last: {found}")
        await asyncio.sleep(0.2)


async def urgent_warranty_repair(desk: Desk) -> Outcome:
    """Scenario 1: an urgent in-warranty fault repaired by our own technician; the old part
    comes back, the claim is approved, the supplier pays."""
    number = await phone_in(
        desk, "WX-200", serial("WX200"), (date.today() - timedelta(days=90)).isoformat(),
        "开机无反应，显示E42", "urgent",
    )  # fmt: skip
    job = await assigned(desk, number)
    await agree_appointment(desk, number, [{"part_no": "P-1001", "quantity": 1}])
    old_serial = f"OP-{uuid.uuid4().hex[:6].upper()}"
    await repair_on_site(
        desk, number, job["technician_id"],
        [{"part_no": "P-1001", "quantity": 1, "serials": [f"NP-{uuid.uuid4().hex[:6].upper()}"]}],
        [{"part_no": "P-1001", "quantity": 1, "serials": [old_serial]}],
    )  # fmt: skip
    claim = await claim_of(desk, number, lambda c: True, "the claim")
    desk.say(f"{number}: claim {claim['claim_no']} {claim['status']}")
    await hand_in_old_part(desk, number, "P-1001", old_serial)
    desk.say(f"{number}: old part {old_serial} received in the old-parts store")
    claim = await claim_of(
        desk, number, lambda c: c["status"] in ("approved", "partially_approved", "rejected"),
        "the claim decision",
    )  # fmt: skip
    desk.say(
        f"{number}: claim {claim['claim_no']} {claim['status']} by {claim['decided_by']}: "
        f"{claim['amount_approved']} of {claim['amount_claimed']}"
    )
    recovery = await supplier_pays(desk, number)
    survey = await close_with_survey(desk, number)
    billed = await desk.get("billing", f"/api/v1/requests/{number}")
    desk.say(
        f"{number}: billing: category {billed['category']} ({billed['category_reason']}), "
        f"customer invoices {billed['invoices'] or 'none'}, cost recorded {billed['total_cost']} "
        + ", ".join(f"{c['kind']} {c['amount']}" for c in billed["costs"])
    )
    return Outcome(
        number,
        {
            "claim": claim, "recovery": recovery, "survey": survey,
            "technician_id": job["technician_id"], "old_serial": old_serial,
        },
    )  # fmt: skip


async def supplier_pays(desk: Desk, number: str) -> dict[str, Any]:
    """The supplier's recovery made final. Claims makes it final by itself on the day after
    the dispute window (calendar days), which no run of minutes reaches; here the supplier
    disputes in time and the re-verification upholds it, which makes it final at once."""
    recovery = await desk.until(
        "claims",
        "/api/v1/recoveries?limit=500",
        lambda found: any(r["request_no"] == number for r in found),
        "the supplier recovery",
    )
    recovery = next(r for r in recovery if r["request_no"] == number)
    desk.say(
        f"{number}: supplier recovery {recovery['recovery_no']} from {recovery['supplier_id']}: "
        f"{recovery['total']} (assessment {recovery['assessment']}), disputable until "
        f"{recovery['dispute_deadline']}"
    )
    path = f"/api/v1/recoveries/{recovery['recovery_no']}"
    await desk.call("claims", "POST", f"{path}/dispute", {"reason": "供应商要求复检"})
    final = await desk.call(
        "claims", "POST", f"{path}/ruling", {"upheld": True, "reason": "复检确认主控板缺陷"},
        as_=("manager",),
    )  # fmt: skip
    desk.say(f"{number}: re-verified and upheld: {final['state']}")
    chargebacks = await desk.until(
        "billing",
        "/api/v1/supplier-chargebacks",
        lambda found: any(c["reference"] == recovery["recovery_no"] for c in found),
        "the supplier chargeback",
    )
    chargeback = next(c for c in chargebacks if c["reference"] == recovery["recovery_no"])
    desk.say(
        f"{number}: billing charged {chargeback['supplier_id']} back: "
        f"{chargeback['chargeback_no']} {chargeback['total']} {chargeback['currency']}"
    )
    return dict(final)


async def close_with_survey(desk: Desk, number: str) -> dict[str, Any]:
    await desk.until("billing", f"/api/v1/requests/{number}", lambda r: r["settled_at"], "settled")
    await desk.call("intake", "POST", f"/api/v1/service-requests/{number}/close")
    survey = await desk.call(
        "intake", "POST", f"/api/v1/service-requests/{number}/survey",
        {"score": 5, "comment": "师傅很专业"},
    )  # fmt: skip
    desk.say(f"{number}: closed; survey {survey['score']}/5 recorded")
    return dict(survey)


@dataclass
class Dealer:
    dealer_id: str
    secret: str

    def signed(self, method: str, path: str, body: bytes) -> dict[str, str]:
        from services.intake.domain.dealer_signature import sign

        timestamp = str(int(time.time()))
        return {
            "X-Dealer-Id": self.dealer_id,
            "X-Timestamp": timestamp,
            "X-Signature": sign(self.secret, timestamp, method, path, body),
        }


async def dealer_call(
    desk: Desk,
    dealer: Dealer,
    method: str,
    path: str,
    report: dict[str, Any] | None = None,
    key: str | None = None,
) -> Any:
    body = json.dumps(report, ensure_ascii=False).encode() if report is not None else b""
    headers = dealer.signed(method, path, body)
    if report is not None:
        headers["Content-Type"] = "application/json"
    if key is not None:
        headers["Idempotency-Key"] = key
    async with httpx.AsyncClient(timeout=20) as client:
        answer = await client.request(
            method, desk.urls("intake") + path, content=body or None, headers=headers
        )
    if answer.status_code not in (200, 201):
        raise StepFailed(f"dealer {method} {path}: {answer.status_code} {answer.text}")
    return answer.json()


def dealer_report(report_no: str, serial_no: str, old_serial: str) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "dealer_report_no": report_no,
        "customer": {
            "name": "李娜", "phone": "13700000001", "address": "上海市徐汇区漕溪北路20号",
            "region": "上海",
        },
        "product": {"model": "WX-200", "serial_no": serial_no},
        "purchase_date": (date.today() - timedelta(days=120)).isoformat(),
        "fault": {
            "description": "开机无反应", "code": "E42",
            "occurred_at": (now - timedelta(days=2)).isoformat(),
        },
        "request": "repair",
        "severity": "urgent",
        "work_done": {
            "completed_at": (now - timedelta(days=1)).isoformat(),
            "technician_name": "经销商技师 周杰",
            "labour_hours": 1.5,
            "travel_km": 20,
            "cause": "quality_defect",
            "parts_replaced": [
                {"part_no": "P-1001", "quantity": 1, "old_part_serial": old_serial}
            ],
        },
    }  # fmt: skip


async def dealer_warranty_work(desk: Desk) -> Outcome:
    """Scenario 2: a partner dealer reports warranty work it already did; the claim waits
    for the old part, is approved, and the month's statement reimburses the dealer."""
    issued = await desk.call(
        "intake",
        "POST",
        "/api/v1/admin/dealers",
        {"name": f"上海徐汇特约维修站 {uuid.uuid4().hex[:4]}"},
    )
    dealer = Dealer(issued["dealer_id"], issued["secret"])
    report_no = f"DLR-{uuid.uuid4().hex[:8].upper()}"
    old_serial = f"OP-{uuid.uuid4().hex[:6].upper()}"
    report = dealer_report(report_no, serial("WX200"), old_serial)
    key = f"key-{report_no}"
    created = await dealer_call(desk, dealer, "POST", "/api/v1/dealer/repair-reports", report, key)
    number = str(created["request_no"])
    desk.say(f"{number}: dealer {dealer.dealer_id} reported {report_no} (signed)")
    again = await dealer_call(desk, dealer, "POST", "/api/v1/dealer/repair-reports", report, key)
    assert again["request_no"] == number, again
    claim = await claim_of(desk, number, lambda c: True, "the dealer's claim")
    desk.say(f"{number}: claim {claim['claim_no']} {claim['status']}")
    await hand_in_old_part(desk, number, "P-1001", old_serial)
    desk.say(f"{number}: the dealer's old part {old_serial} arrived")
    claim = await claim_of(
        desk, number,
        lambda c: c["status"] in ("in_review", "approved", "partially_approved", "rejected"),
        "the claim decision",
    )  # fmt: skip
    facts: dict[str, Any] = {"dealer_id": dealer.dealer_id, "report_no": report_no}
    if claim["status"] == "in_review":
        detail = await desk.get("claims", f"/api/v1/claims/{claim['claim_no']}")
        desk.say(
            f"{number}: claim {claim['claim_no']} goes to an adjuster: {detail['review_reasons']}"
        )
        facts["review_reasons"] = detail["review_reasons"]
        claim = await desk.call(
            "claims", "POST", f"/api/v1/claims/{claim['claim_no']}/decision",
            {"reason": "旧件已核对，经销商维修记录完整"}, as_=("claims_adjuster",),
        )  # fmt: skip
    desk.say(
        f"{number}: claim {claim['claim_no']} {claim['status']}: "
        f"{claim['amount_approved']} of {claim['amount_claimed']}"
    )
    facts["claim"] = claim
    if claim["status"] in ("approved", "partially_approved"):
        facts.update(await monthly_statement(desk, number, dealer.dealer_id))
    else:
        desk.say(f"{number}: the claim was rejected, so this month's statement leaves it out")
    seen = await dealer_call(desk, dealer, "GET", f"/api/v1/dealer/repair-reports/{number}")
    for entry in seen["timeline"]:
        desk.say(
            f"{number}:   the dealer sees {entry['at'][:19]} {entry['status']}: {entry['summary']}"
        )
    facts["dealer_view"] = seen
    return Outcome(number, facts)


async def monthly_statement(desk: Desk, number: str, dealer_id: str) -> dict[str, Any]:
    period = datetime.now(UTC).strftime("%Y-%m")
    await desk.call(
        "claims", "POST", "/api/v1/settlements", {"period": period}, as_=("manager",),
        expect=(200, 201, 409),
    )  # fmt: skip
    settlements = await desk.until(
        "claims",
        "/api/v1/settlements",
        lambda found: any(s["party_id"] == dealer_id for s in found),
        "the dealer's settlement",
    )
    settlement = next(s for s in settlements if s["party_id"] == dealer_id)
    desk.say(
        f"{number}: {period} closed: settlement {settlement['settlement_no']} {settlement['total']}"
    )
    statements = await desk.until(
        "billing",
        "/api/v1/dealer-statements",
        lambda found: any(s.get("dealer_id") == dealer_id for s in found),
        "the dealer's statement",
    )
    statement = next(s for s in statements if s.get("dealer_id") == dealer_id)
    desk.say(f"{number}: billing issued the dealer's statement {statement}")
    return {"settlement": settlement, "statement": statement}


# --- the command ----------------------------------------------------------------------


def _print(line: str) -> None:
    print(f"{datetime.now().strftime('%H:%M:%S')}  {line}", flush=True)


async def _seed_demo_data() -> None:
    """What ``aftersales seed --demo`` loads (idempotent), into the databases the running
    suite uses (the same settings: SQLite under data/ by default)."""
    from shared.cli.suite import SERVICE_NAMES, load_definition
    from shared.db.engine import create_engine, create_session_factory
    from shared.db.unit_of_work import UnitOfWork

    for service in SERVICE_NAMES:
        definition = load_definition(service)
        if definition.seed_demo is None:
            continue
        engine = create_engine(definition.settings_from_env().service.database_url)
        try:
            _print(await definition.seed_demo(UnitOfWork(create_session_factory(engine))))
        finally:
            await engine.dispose()


async def _demo(desk: Desk, seed: bool) -> int:
    if seed:
        await _seed_demo_data()
    await put_dispatch_staff(desk)
    for scenario in (urgent_warranty_repair, dealer_warranty_work):
        desk.say("── " + " ".join((scenario.__doc__ or scenario.__name__).split()))
        started = time.monotonic()
        outcome = await scenario(desk)
        desk.say(f"{outcome.request_no}: done in {time.monotonic() - started:.1f}s")
    return 0


def command(args: argparse.Namespace) -> int:
    from shared.cli.suite import SERVICE_NAMES, load_definition

    ports = {s: load_definition(s).settings_from_env().service.port for s in SERVICE_NAMES}
    desk = Desk(lambda service: f"http://{args.host}:{ports[service]}", AuthSettings(), _print)
    try:
        return asyncio.run(_demo(desk, seed=not args.no_seed))
    except (StepFailed, httpx.HTTPError) as exc:
        _print(f"stopped: {exc}")
        _print("is the suite running (`make run`), and were its databases seeded?")
        return 1


def add_command(commands: Any) -> None:
    demo = commands.add_parser(
        "demo", help="scenarios 1 and 2 against the running suite, told as they happen"
    )
    demo.add_argument("--host", default="127.0.0.1")
    demo.add_argument(
        "--no-seed", action="store_true", help="do not load the demo data first (it is idempotent)"
    )
    demo.set_defaults(func=command)


async def misuse_declined(desk: Desk) -> Outcome:
    """Scenario 4: misuse found on site; the paid work is quoted, the customer declines, the
    job closes with the call-out fee only."""
    number = await phone_in(
        desk, "WX-200", serial("WX200"), (date.today() - timedelta(days=30)).isoformat(),
        "水泵漏水", "ordinary",
    )  # fmt: skip
    job = await assigned(desk, number)
    for action in ("accept", "depart", "arrive"):
        await job_step(desk, number, job["technician_id"], action)
    await job_step(
        desk, number, job["technician_id"], "diagnosis",
        {"cause": "misuse", "fault_code": "E21", "findings": "进水，外壳摔裂"},
    )  # fmt: skip
    desk.say(f"{number}: on site, {job['technician_id']} finds misuse (进水, 外壳摔裂)")
    claim = await claim_of(desk, number, lambda c: c["status"] == "rejected", "the rejection")
    desk.say(
        f"{number}: claim {claim['claim_no']} rejected {claim['reason_codes']}: the customer pays"
    )
    await desk.until("billing", f"/api/v1/requests/{number}", lambda r: True, "billing's view")
    quote = await desk.call(
        "billing", "POST", "/api/v1/quotes",
        {"request_no": number, "note": "使用不当，不在保修范围",
         "lines": [{"kind": "labour", "quantity": "2"},
                   {"kind": "parts", "part_no": "P-2007", "quantity": "1"}]},
        as_=("billing_clerk",),
    )  # fmt: skip
    desk.say(
        f"{number}: quote {quote['quote_no']} {quote['total']} "
        f"(call-out fee {quote['call_out_fee']})"
    )
    await desk.until(
        "dispatch", f"/api/v1/jobs/{number}", lambda j: j["quote_state"] == "issued", "the quote"
    )
    await desk.call(
        "billing", "POST", f"/api/v1/quotes/{quote['quote_no']}/decline", {"reason": "太贵，不修了"}
    )
    desk.say(f"{number}: the customer declined")
    job = await desk.until(
        "dispatch", f"/api/v1/jobs/{number}", lambda j: j["status"] == "cancelled", "the job closed"
    )
    invoices = await desk.until(
        "billing", f"/api/v1/invoices?request_no={number}", lambda found: len(found) == 1,
        "the call-out fee's invoice",
    )  # fmt: skip
    invoice = invoices[0]
    desk.say(
        f"{number}: job {job['status']} ({job['cancel_reason']}); "
        f"invoice {invoice['invoice_no']} {invoice['total']} (the call-out fee)"
    )
    await desk.call(
        "billing", "POST", "/api/v1/payments",
        {"customer_id": invoice["bill_to_id"], "amount": invoice["total"], "method": "on_site",
         "invoice_no": invoice["invoice_no"]},
        as_=("billing_clerk",),
    )  # fmt: skip
    await desk.until("billing", f"/api/v1/requests/{number}", lambda r: r["settled_at"], "settled")
    closed = await desk.call("intake", "POST", f"/api/v1/service-requests/{number}/close")
    desk.say(f"{number}: the fee paid on site; request {closed['status']}")
    return Outcome(
        number,
        {
            "quote": quote, "invoice": invoice, "technician_id": job["technician_id"],
            "claim": claim,
        },
    )  # fmt: skip


async def emergency_part(desk: Desk) -> Outcome:
    """Scenario 6: a machine is down; its emergency part is approved, jumps the backorder
    queue when stock arrives, is shipped, and the job completes."""
    part_no = f"P-E{uuid.uuid4().hex[:5].upper()}"
    await desk.call(
        "parts", "PUT", f"/api/v1/parts/{part_no}",
        {"name": "WX-200 电机总成（新型号）", "fits_models": ["WX-200"], "unit_cost": "300.00",
         "list_price": "520.00", "supplier_id": "S-02", "return_required": False},
        as_=("warehouse",),
    )  # fmt: skip
    desk.say(f"{part_no}: a new part, nowhere in stock")
    waiting = await phone_in(
        desk, "WX-200", serial("WX200"), (date.today() - timedelta(days=50)).isoformat(),
        "电机异响", "ordinary",
    )  # fmt: skip
    await assigned(desk, waiting)
    await desk.call("dispatch", "POST", f"/api/v1/jobs/{waiting}/appointment", _window())
    await desk.call(
        "dispatch", "POST", f"/api/v1/jobs/{waiting}/appointment/agree",
        {"parts": [{"part_no": part_no, "quantity": 1}]},
    )  # fmt: skip
    await desk.until(
        "dispatch", f"/api/v1/jobs/{waiting}", lambda j: j["parts_state"] == "backordered",
        "the backorder",
    )  # fmt: skip
    desk.say(f"{waiting}: {part_no} backordered")
    down = await phone_in(
        desk, "WX-200", serial("WX200"), (date.today() - timedelta(days=40)).isoformat(),
        "电机烧毁，整机停机", "urgent",
    )  # fmt: skip
    job = await assigned(desk, down)
    emergency = await desk.call(
        "parts", "POST", "/api/v1/emergencies",
        {"request_no": down, "service_point_id": POINT["id"],
         "lines": [{"part_no": part_no, "quantity": 1}], "reason": "整机停机，客户生产线中断"},
        as_=("warehouse",),
    )  # fmt: skip
    number = emergency["emergency_no"]
    approved = await desk.call(
        "parts", "POST", f"/api/v1/emergencies/{number}/decision", {"approve": True},
        as_=("manager",),
    )  # fmt: skip
    desk.say(f"{down}: emergency {number} approved ({approved['status']})")
    await desk.call(
        "parts", "POST", "/api/v1/receipts",
        {"part_no": part_no, "warehouse_id": "WH-SH-PD", "quantity": 1, "reference": "到货"},
        as_=("warehouse",),
    )  # fmt: skip
    desk.say(f"{part_no}: one arrived at Pudong")
    shipped = await desk.call(
        "parts", "POST", f"/api/v1/emergencies/{number}/shipment",
        {"carrier": "顺丰速运", "tracking_no": "SF9876543210"}, as_=("warehouse",),
    )  # fmt: skip
    desk.say(f"{down}: shipped by {shipped['carrier']} {shipped['tracking_no']}")
    await repair_on_site(
        desk, down, job["technician_id"],
        [{"part_no": part_no, "quantity": 1, "serials": []}], [],
    )  # fmt: skip
    return Outcome(
        down,
        {"part_no": part_no, "waiting": waiting, "emergency": shipped,
         "technician_id": job["technician_id"]},
    )  # fmt: skip


def _window() -> dict[str, str]:
    start = datetime.now(UTC) + timedelta(hours=1)
    return {
        "window_start": start.isoformat(),
        "window_end": (start + timedelta(hours=2)).isoformat(),
    }
