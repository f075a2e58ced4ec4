"""Intake follows what the other departments publish: through the real consumer on an
isolated RabbitMQ, each event goes on the request's timeline, the newest one with a status
sets the status (an older one never overwrites it), duplicates count once, unknown requests
are dropped, and the dealer sees the contract's statuses."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from services.intake.app import DEFINITION as INTAKE
from services.intake.db.models import ProductModelRow
from shared.events.envelope import Envelope
from shared.events.registry import EventSchema
from shared.events.schemas import billing, claims, dispatch
from shared.settings import AuthSettings, BrokerSettings
from tests.support.broker import publish_envelopes
from tests.support.databases import DatabaseFactory
from tests.support.dealer_client import DealerClient, contract_report
from tests.support.metrics import sample
from tests.support.services import RunningService, running_service
from tests.support.waiting import eventually

Headers = Callable[..., dict[str, str]]
REQUESTS = "/api/v1/service-requests"


@pytest.fixture
async def intake(
    databases: DatabaseFactory, broker: BrokerSettings, auth: AuthSettings, tmp_path: Path
) -> AsyncIterator[RunningService]:
    url = await databases.migrated(INTAKE.migrations_dir, "intake")
    async with running_service(INTAKE, url, broker, auth, secrets_key_file=tmp_path / "k") as s:
        async with s.runtime.sessions() as session:
            session.add(
                ProductModelRow(
                    model="WX-200", name="WX-200 水泵", product_line="pumps",
                    warranty_months=12, covers_parts=True, covers_labour=True,
                    covers_travel=True,
                )
            )  # fmt: skip
            await session.commit()
        await eventually(lambda: s.runtime.consumer.is_consuming)  # type: ignore[union-attr]
        yield s


def _envelope(event: EventSchema) -> Envelope:
    return Envelope(
        type=event.event_type, version=event.event_version, producer=event.producer,
        correlation_id="following", data=event.model_dump(mode="json"),
    )  # fmt: skip


async def _dealer_request(
    intake: RunningService, staff_headers: Headers
) -> tuple[DealerClient, str]:
    made = await intake.client.post(
        "/api/v1/admin/dealers", json={"name": "杭州服务站"}, headers=staff_headers("admin")
    )
    dealer = DealerClient(intake.client, made.json()["dealer_id"], made.json()["secret"])
    report = contract_report()
    del report["work_done"]
    created = await dealer.post_report(report, key="follow-1")
    assert created.status_code == 201, created.text
    return dealer, str(created.json()["request_no"])


async def _read(intake: RunningService, number: str, headers: dict[str, str]) -> dict[str, Any]:
    return dict((await intake.client.get(f"{REQUESTS}/{number}", headers=headers)).json())


def _decision(number: str, at: datetime) -> dict[str, Any]:
    return dict(
        claim_no="WC-2026-000001", request_no=number, source="job", dealer_id=None,
        product_model="WX-200", serial_no="WX200-2025-000123", cause="quality_defect",
        lines=[], amount_claimed=Decimal("500.00"), amount_approved=Decimal("420.00"),
        currency="CNY", reason_codes=["ELH"], decided_by="rules", final=True, decided_at=at,
    )  # fmt: skip


async def test_a_request_follows_dispatch_claims_and_billing(
    intake: RunningService, broker: BrokerSettings, staff_headers: Headers
) -> None:
    agent = staff_headers("intake_agent")
    dealer, number = await _dealer_request(intake, staff_headers)
    await eventually(
        lambda: _read(intake, number, agent), lambda r: r["status"] == "handed_to_dispatch"
    )
    t = datetime.now(UTC)

    def at(minutes: int) -> datetime:
        return t + timedelta(minutes=minutes)

    assigned = dispatch.JobAssignedV1(
        request_no=number, technician_id="T-007", technician_name="李强", service_point_id="SP-1",
        how="automatic", reason=None, arrival_due_at=at(240), assigned_at=at(10),
    )  # fmt: skip
    on_site = dispatch.JobOnSiteV1(
        request_no=number, technician_id="T-007", arrived_at=at(60), arrival_due_at=at(240),
        late=False,
    )  # fmt: skip
    # The arrival overtakes the assignment: the older assignment must not undo it.
    await publish_envelopes(broker, [_envelope(on_site)])
    await eventually(lambda: _read(intake, number, agent), lambda r: r["status"] == "on_site")
    await publish_envelopes(broker, [_envelope(assigned), _envelope(assigned)])
    read = await eventually(
        lambda: _read(intake, number, agent),
        lambda r: any(e["status"] == "assigned" for e in r["timeline"]),
    )
    assert read["status"] == "on_site"
    assert read["technician"]["name"] == "李强" and read["technician"]["technician_id"] == "T-007"

    later: list[EventSchema] = [
        dispatch.AppointmentAgreedV1(
            request_no=number, technician_id="T-007", window_start=at(30), window_end=at(90),
            rescheduled=False, reason=None, agreed_at=at(20),
        ),
        dispatch.JobWaitingPartsV1(request_no=number, technician_id="T-007", lines=[
            dispatch.RequestedPartV1(part_no="P-1001", quantity=1)], since=at(90)),
        dispatch.JobOnSiteV1(request_no=number, technician_id="T-007", arrived_at=at(120),
                             arrival_due_at=None, late=False),
        dispatch.JobCompletedV1(
            request_no=number, technician_id="T-007", technician_name="李强",
            service_point_id="SP-1", region="上海", kind="repair", product_line="pumps",
            product_model="WX-200", serial_no="WX200-2025-000123", purchase_date=None,
            in_warranty=True, dealer_id=None, customer_name="张伟", findings="叶轮磨损",
            work_done="更换叶轮", cause="quality_defect", fault_code="E42", result="repaired",
            labour_minutes=90, travel_km=Decimal("20"), parts_used=[], old_parts_removed=[],
            repeat_repair=False, arrived_at=at(120), completed_at=at(180), signed_by="张伟",
            signed_at=at(180),
        ),
        claims.ClaimSubmittedV1(
            claim_no="WC-2026-000001", request_no=number, source="job", dealer_id=None,
            product_model="WX-200", serial_no="WX200-2025-000123",
            amount_claimed=Decimal("500.00"), currency="CNY", submitted_at=at(200),
        ),
        claims.ClaimPartiallyApprovedV1(**_decision(number, at(300))),
        billing.InvoiceIssuedV1(
            invoice_no="INV-2026-000001", request_no=number, bill_to="customer",
            bill_to_id=None, category="A", net=Decimal("70.80"), tax=Decimal("9.20"),
            total=Decimal("80.00"), currency="CNY", issued_at=at(400),
        ),
        billing.PaymentReceivedV1(
            payment_no="PAY-1", request_no=number, invoice_no="INV-2026-000001",
            amount=Decimal("30.00"), currency="CNY", method="cash",
            outstanding=Decimal("50.00"), received_at=at(450),
        ),
        billing.PaymentReceivedV1(
            payment_no="PAY-2", request_no=number, invoice_no="INV-2026-000001",
            amount=Decimal("50.00"), currency="CNY", method="bank",
            outstanding=Decimal("0.00"), received_at=at(500),
        ),
        # For a request intake has never heard of: dropped, nothing breaks.
        dispatch.JobOnSiteV1(request_no="SR-2026-999999", technician_id="T-1",
                             arrived_at=at(1), arrival_due_at=None, late=False),
    ]  # fmt: skip
    for event in later:
        # One by one, each handled (none dead-lettered, not even the unknown request's).
        before = _handled(event.event_type)
        await publish_envelopes(broker, [_envelope(event)])
        await eventually(
            lambda e=event: _handled(e.event_type),
            lambda count, n=before: count == n + 1,
        )
    read = await eventually(lambda: _read(intake, number, agent), lambda r: r["status"] == "paid")
    statuses = [(e["department"], e["status"]) for e in read["timeline"]]
    assert statuses[3:] == [
        ("dispatch", "assigned"), ("dispatch", "assigned"), ("dispatch", "on_site"),
        ("dispatch", "waiting_parts"), ("dispatch", "on_site"), ("dispatch", "repaired"),
        ("claims", "claim_submitted"), ("claims", "claim_partially_approved"),
        ("billing", "invoiced"), ("billing", "invoiced"), ("billing", "paid"),
    ]  # fmt: skip
    # The assignment published twice (two messages, one event) is on the timeline once.
    assert [e["summary"] for e in read["timeline"]].count("已派工：李强") == 1
    by_summary = {e["summary"]: e for e in read["timeline"]}
    assert "已派工：李强" in by_summary and "技师已到场" in by_summary
    window = next(e for e in read["timeline"] if e["summary"].startswith("已约定上门时间"))
    assert window["details"]["window_start"] == at(30).isoformat()
    assert window["details"]["technician_name"] == "李强"
    decided = next(e for e in read["timeline"] if e["status"] == "claim_partially_approved")
    assert decided["details"]["amount_approved"] == "420.00"
    assert decided["details"]["reason_codes"] == ["ELH"]

    # The dealer sees the contract's statuses, with the details it promises.
    seen = (await dealer.get(f"/api/v1/dealer/repair-reports/{number}")).json()
    assert seen["status"] == "paid"
    assert [e["status"] for e in seen["timeline"]] == [
        "received", "triaged", "triaged", "assigned", "assigned", "on_site", "waiting_parts",
        "on_site", "repaired", "claim_submitted", "claim_partially_approved", "invoiced",
        "invoiced", "paid",
    ]  # fmt: skip
    invoice = next(e for e in seen["timeline"] if e["status"] == "invoiced")
    assert invoice["details"]["invoice_no"] == "INV-2026-000001"
    listed = (await dealer.get("/api/v1/dealer/repair-reports?status=paid")).json()
    assert [r["request_no"] for r in listed["items"]] == [number]

    # Closing: a late invoice correction still shows, but nothing reopens the request.
    assert (await intake.client.post(f"{REQUESTS}/{number}/close", headers=agent)).status_code == (
        200
    )
    credit = billing.CreditNoteIssuedV1(
        credit_note_no="CN-1", invoice_no="INV-2026-000001", request_no=number,
        total=Decimal("10.00"), currency="CNY", reason="折扣", issued_at=at(600),
    )  # fmt: skip
    settled = billing.RequestSettledV1(
        request_no=number, category="A", total_billed=Decimal("70.00"),
        total_cost=Decimal("300"), currency="CNY", settled_at=at(610),
    )  # fmt: skip
    await publish_envelopes(broker, [_envelope(credit), _envelope(settled)])
    read = await eventually(
        lambda: _read(intake, number, agent), lambda r: len(r["timeline"]) == len(statuses) + 3
    )
    assert read["status"] == "closed"

    # The technician dispatch assigned is who the customer's score counts for.
    surveyed = await intake.client.post(
        f"{REQUESTS}/{number}/survey", json={"score": 4}, headers=agent
    )
    assert surveyed.status_code == 201, surveyed.text
    averages = await intake.client.get(
        "/api/v1/surveys/averages?by=technician", headers=staff_headers("manager")
    )
    assert averages.json() == [{"key": "T-007 李强", "answers": 1, "average": 4.0}]


async def test_a_burst_in_reverse_order_twice_ends_at_the_newest_status(
    intake: RunningService, broker: BrokerSettings, staff_headers: Headers
) -> None:
    agent = staff_headers("intake_agent")
    _dealer, number = await _dealer_request(intake, staff_headers)
    await eventually(
        lambda: _read(intake, number, agent), lambda r: r["status"] == "handed_to_dispatch"
    )
    t = datetime.now(UTC)
    events: list[EventSchema] = [
        dispatch.JobAssignedV1(
            request_no=number, technician_id="T-9", technician_name="周强", service_point_id="SP-2",
            how="automatic", reason=None, arrival_due_at=None, assigned_at=t + timedelta(minutes=1),
        ),
        dispatch.JobOnSiteV1(request_no=number, technician_id="T-9", late=False,
                             arrived_at=t + timedelta(minutes=2), arrival_due_at=None),
        dispatch.JobWaitingPartsV1(request_no=number, technician_id="T-9", lines=[],
                                   since=t + timedelta(minutes=3)),
        claims.ClaimSubmittedV1(
            claim_no="WC-2026-000009", request_no=number, source="job", dealer_id=None,
            product_model="WX-200", serial_no="S", amount_claimed=Decimal("1"), currency="CNY",
            submitted_at=t + timedelta(minutes=4),
        ),
        claims.ClaimRejectedV1(**_decision(number, t + timedelta(minutes=5))),
    ]  # fmt: skip
    # Newest first, every one twice, all at once: the consumer handles them in parallel.
    burst = [_envelope(e) for e in reversed(events) for _ in range(2)]
    before = sum(_handled(e.event_type) for e in events)
    await publish_envelopes(broker, burst)
    await eventually(
        lambda: sum(_handled(e.event_type) for e in events), lambda n: n == before + len(burst)
    )
    read = await _read(intake, number, agent)
    assert read["status"] == "claim_rejected"
    assert [e["status"] for e in read["timeline"]][3:] == [
        "assigned", "on_site", "waiting_parts", "claim_submitted", "claim_rejected",
    ]  # fmt: skip


async def test_quality_alerts_are_shown_on_the_model_and_its_requests(
    intake: RunningService, broker: BrokerSettings, staff_headers: Headers
) -> None:
    agent = staff_headers("intake_agent")
    _dealer, number = await _dealer_request(intake, staff_headers)
    now = datetime.now(UTC)
    alert = claims.QualityAlertRaisedV1(
        product_model="WX-200", fault_code="E42", quarter="2026-Q4", count=6, threshold=5,
        raised_at=now,
    )  # fmt: skip
    stale = alert.model_copy(update={"count": 5, "raised_at": now - timedelta(days=1)})
    before = _handled("claims.quality_alert.raised")
    await publish_envelopes(broker, [_envelope(alert), _envelope(stale)])
    await eventually(lambda: _handled("claims.quality_alert.raised"), lambda n: n == before + 2)
    read = await _read(intake, number, agent)
    assert [(a["fault_code"], a["quarter"], a["count"]) for a in read["quality_alerts"]] == [
        ("E42", "2026-Q4", 6)
    ]
    model = await intake.client.get("/api/v1/product-models/WX-200", headers=agent)
    assert model.json()["quality_alerts"] == read["quality_alerts"]
    assert model.json()["product_line"] == "pumps"
    listed = await intake.client.get(
        "/api/v1/quality-alerts?product_model=WX-200", headers=staff_headers("auditor")
    )
    assert listed.json() == read["quality_alerts"]
    assert (
        await intake.client.get("/api/v1/product-models/NOPE", headers=agent)
    ).status_code == 404
    assert (
        await intake.client.get("/api/v1/quality-alerts", headers=staff_headers("dispatcher"))
    ).status_code == 403


def _handled(event_type: str) -> float:
    return sample(
        "aftersales_events_consumed_total", service="intake", event_type=event_type,
        outcome="handled",
    )  # fmt: skip
