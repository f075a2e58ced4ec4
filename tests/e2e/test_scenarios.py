"""The repair lifecycle across the five services as separate processes on the real
RabbitMQ and PostgreSQL, driven only through their HTTP APIs; the final state of every
service is compared to what the scenario must leave behind. The same scenarios run on one
instance of each service and on two (same databases and queues)."""

from __future__ import annotations

from typing import Any

from shared.cli import demo
from tests.e2e.conftest import desk_for
from tests.support.suite_processes import Suite


def statuses(timeline: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(entry["department"], entry["status"]) for entry in timeline]


async def test_out_of_warranty_quote_repair_invoice_and_two_payments(running: Suite) -> None:
    desk = desk_for(running)
    outcome = await demo.out_of_warranty_paid_repair(desk)
    number, facts = outcome.request_no, outcome.facts

    # billing: category A, one quote accepted, one invoice at list prices with 13 % VAT
    # (1.5 h × 160 = 240.00 + 31.20; 2 × P-2002 at 45 = 90.00 + 11.70), paid in two parts,
    # settled; the cost ledger at internal rates (1.5 h × 120, 20 km × 1.50, parts at cost).
    request = await desk.until(
        "billing", f"/api/v1/requests/{number}", lambda r: r["settled_at"], "settled"
    )
    assert (request["category"], request["category_reason"]) == ("A", "out of warranty")
    assert request["invoices"] == [facts["invoice_no"]]
    assert sorted((c["kind"], c["amount"]) for c in request["costs"]) == [
        ("labour", "180.00"), ("parts", "36.00"), ("travel", "30.00"),
    ]  # fmt: skip
    assert request["total_cost"] == "246.00"
    invoice = await desk.get("billing", f"/api/v1/invoices/{facts['invoice_no']}")
    assert (invoice["net"], invoice["tax"], invoice["total"]) == ("330.00", "42.90", "372.90")
    assert (invoice["paid"], invoice["outstanding"], invoice["category"]) == (
        "372.90", "0.00", "A",
    )  # fmt: skip
    assert [(x["kind"], x["net"], x["tax"]) for x in invoice["lines"]] == [
        ("labour", "240.00", "31.20"), ("parts", "90.00", "11.70"),
    ]  # fmt: skip
    assert [a["amount"] for a in invoice["allocations"]] == ["100.00", "272.90"]
    assert invoice["quote_no"] == facts["quote_no"]
    quote = await desk.get("billing", f"/api/v1/quotes/{facts['quote_no']}")
    assert (quote["status"], quote["total"]) == ("accepted", "372.90")
    assert len(await desk.get("billing", f"/api/v1/invoices?request_no={number}")) == 1

    # dispatch: completed by the assigned technician, after the quote was accepted.
    job = await desk.get("dispatch", f"/api/v1/jobs/{number}")
    assert (job["status"], job["quote_state"], job["technician_id"]) == (
        "completed", "accepted", facts["technician_id"],
    )  # fmt: skip

    # parts: two P-2002 reserved, issued and consumed once from the Pudong stock.
    reservations = await desk.until(
        "parts", f"/api/v1/reservations?request_no={number}",
        lambda found: found and found[0]["status"] == "closed", "the parts consumed",
    )  # fmt: skip
    assert [(r["warehouse_id"], r["status"]) for r in reservations] == [("WH-SH-PD", "closed")]
    assert [(x["part_no"], x["issued"]) for x in reservations[0]["lines"]] == [("P-2002", 2)]
    movements = [
        (m["kind"], m["warehouse_id"], m["quantity"])
        for m in await desk.get("parts", "/api/v1/parts/P-2002/movements")
        if m["request_no"] == number
    ]
    assert movements == [
        ("reservation", "WH-SH-PD", 2), ("issue", "WH-SH-PD", 2),
        ("consumption", "WH-SH-PD", 2),
    ]  # fmt: skip

    # claims: nothing to claim out of warranty.
    assert await desk.get("claims", f"/api/v1/claims?request_no={number}") == []

    # intake: the customer's view follows every department, ending paid.
    seen = await desk.until(
        "intake",
        f"/api/v1/service-requests/{number}",
        lambda r: r["status"] == "paid",
        "paid on intake's view",
    )
    assert seen["warranty"]["in_warranty"] is False
    summary = statuses(seen["timeline"])
    for step in (
        ("intake", "triaged"), ("dispatch", "assigned"), ("billing", "assigned"),
        ("dispatch", "on_site"), ("dispatch", "repaired"), ("billing", "invoiced"),
        ("billing", "paid"),
    ):  # fmt: skip
        assert step in summary, (step, summary)
    assert sum(1 for e in seen["timeline"] if "INV-" in e["summary"]) == 1


async def test_return_for_repair_fails_inspection_once_then_ships_back(running: Suite) -> None:
    desk = desk_for(running)
    outcome = await demo.return_for_repair(desk)
    number = outcome.request_no
    final = outcome.facts["final"]
    assert final["status"] == "receipt_confirmed"
    assert final["repair_rounds"] == 2
    assert (final["carrier"], final["tracking_no"], final["shipping_cost"]) == (
        "顺丰速运", "SF1234567890", "25.00",
    )  # fmt: skip
    assert [step["status"] for step in final["history"]] == [
        "stored", "in_repair", "in_repair", "passed_inspection", "shipped", "receipt_confirmed",
    ]  # fmt: skip
    # intake: the request was triaged for the workshop, never sent to dispatch.
    seen = await desk.get("intake", f"/api/v1/service-requests/{number}")
    assert ("dispatch", "assigned") not in statuses(seen["timeline"])
    assert await desk.get("dispatch", f"/api/v1/jobs/{number}", expect=(404,)) is not None
    # billing: the workshop's repair (1.5 h at the internal rate, P-1001 at cost) and the
    # shipping back are the company's cost (in warranty); no invoice.
    billing = await desk.until(
        "billing",
        f"/api/v1/requests/{number}",
        lambda r: len(r["costs"]) == 3,
        "the return's costs",
    )
    assert sorted((c["kind"], c["amount"]) for c in billing["costs"]) == [
        ("labour", "180.00"), ("other", "25.00"), ("parts", "180.00"),
    ]  # fmt: skip
    assert billing["invoices"] == [] and billing["in_warranty"] is True
    # parts: the workshop's old part was expected (from intake.return.repaired) and matched;
    # nothing reserved (the workshop's own stock is not a job's).
    [receipt] = [
        r for r in await desk.get("parts", "/api/v1/core-receipts") if r["request_no"] == number
    ]
    assert (receipt["matched"], receipt["serials"]) == (True, [outcome.facts["old_serial"]])
    assert await desk.get("parts", f"/api/v1/reservations?request_no={number}") == []
    # claims: the workshop's repair opened the return's claim (1.5 h, P-1001), approved once
    # the old part matched; billing settled the request as warranty (C).
    claim = outcome.facts["claim"]
    assert (claim["source"], claim["status"], claim["reason_codes"]) == ("return", "approved", [])
    assert [(p["part_no"], p["old_part_serial"]) for p in claim["parts"]] == [
        ("P-1001", outcome.facts["old_serial"])
    ]
    assert claim["amount_approved"] == claim["amount_claimed"]
    assert (billing_now := await desk.get("billing", f"/api/v1/requests/{number}"))[
        "category"
    ] == "C"
    assert billing_now["settled_at"] is not None and billing_now["invoices"] == []


async def test_nobody_fits_until_a_certificate_is_renewed(running: Suite) -> None:
    desk = desk_for(running)
    outcome = await demo.nobody_fits(desk)
    number = outcome.request_no
    assert outcome.facts["technician_id"] == demo.COMPRESSOR_TECHNICIAN[0]
    assert outcome.facts["reasons"].get("certificate_expired", 0) >= 1, outcome.facts
    job = await desk.get("dispatch", f"/api/v1/jobs/{number}")
    assert job["status"] == "assigned" and job["required_skill"] == "compressors"
    seen = await desk.until(
        "intake",
        f"/api/v1/service-requests/{number}",
        lambda r: r["status"] == "assigned",
        "assigned on intake's view",
    )
    assert ("dispatch", "assigned") in statuses(seen["timeline"])
    waiting = [e for e in seen["timeline"] if e["department"] == "dispatch"]
    assert waiting, seen["timeline"]


async def test_urgent_warranty_repair_claim_and_supplier_recovery(running: Suite) -> None:
    desk = desk_for(running)
    outcome = await demo.urgent_warranty_repair(desk)
    number, facts = outcome.request_no, outcome.facts

    # claims: one claim, approved by the rules once the old part matched; the supplier's
    # recovery (P-1001 from S-01: part 320 + labour 180 + travel 30 + assessment 800) final.
    [claim] = await demo.claims_of(desk, number)
    assert (claim["status"], claim["source"], claim["decided_by"]) == ("approved", "job", "rules")
    assert (claim["amount_claimed"], claim["amount_approved"]) == ("530.00", "530.00")
    recovery = facts["recovery"]
    assert (recovery["state"], recovery["supplier_id"], recovery["total"]) == (
        "finalized", "S-01", "1330.00",
    )  # fmt: skip
    assert (recovery["material"], recovery["labour"], recovery["travel"]) == (
        "320.00", "180.00", "30.00",
    )  # fmt: skip

    # billing: category C, no customer invoice, the cost recorded, one chargeback to S-01.
    request = await desk.get("billing", f"/api/v1/requests/{number}")
    assert (request["category"], request["claim_outcome"], request["invoices"]) == (
        "C", "approved", [],
    )  # fmt: skip
    assert request["settled_at"] is not None
    assert sorted((c["kind"], c["amount"]) for c in request["costs"]) == [
        ("labour", "180.00"), ("parts", "180.00"), ("travel", "30.00"),
    ]  # fmt: skip
    chargebacks = [
        c for c in await desk.get("billing", "/api/v1/supplier-chargebacks")
        if c["request_no"] == number
    ]  # fmt: skip
    assert [(c["supplier_id"], c["total"], c["reference"]) for c in chargebacks] == [
        ("S-01", "1330.00", recovery["recovery_no"])
    ]
    assert await desk.get("billing", f"/api/v1/invoices?request_no={number}") == []

    # parts: P-1001 consumed once from Pudong, the old part back and matched, S-01 told to
    # collect it.
    movements = [
        (m["kind"], m["warehouse_id"], m["quantity"])
        for m in await desk.get("parts", "/api/v1/parts/P-1001/movements")
        if m["request_no"] == number
    ]
    assert [m for m in movements if m[0] == "consumption"] == [("consumption", "WH-SH-PD", 1)]
    returns = [
        r for r in await desk.get("parts", "/api/v1/expected-returns")
        if r["request_no"] == number
    ]  # fmt: skip
    assert [(r["status"], r["serials_received"]) for r in returns] == [
        ("received", [facts["old_serial"]])
    ]
    collections = [
        c for c in await desk.get("parts", "/api/v1/supplier-collections")
        if c["request_no"] == number
    ]  # fmt: skip
    assert [(c["supplier_id"], c["status"]) for c in collections] == [("S-01", "notified")]

    # dispatch: completed within the arrival target by the assigned technician.
    job = await desk.get("dispatch", f"/api/v1/jobs/{number}")
    assert (job["status"], job["technician_id"]) == ("completed", facts["technician_id"])
    assert job["arrival_breached_at"] is None and job["arrived_at"] <= job["arrival_due_at"]

    # intake: closed, the survey recorded, each department's step on the customer's view.
    seen = await desk.get("intake", f"/api/v1/service-requests/{number}")
    assert seen["status"] == "closed"
    summary = statuses(seen["timeline"])
    for step in (
        ("dispatch", "assigned"), ("dispatch", "on_site"), ("dispatch", "repaired"),
        ("claims", "claim_submitted"), ("claims", "claim_approved"),
    ):  # fmt: skip
        assert step in summary, (step, summary)
    assert not any(
        e["department"] == "billing" and "INV-" in e["summary"] for e in seen["timeline"]
    )
    assert facts["survey"]["score"] == 5


async def test_dealer_warranty_work_reaches_the_claim_and_the_dealers_timeline(
    running: Suite,
) -> None:
    """Scenario 2: the signed report (replayed: one request), one claim waiting for the old
    part; parts expects the dealer's old part (from ``intake.dealer_work.reported``), so the
    receipt matches, the rules approve the claim, and the month's settlement becomes the
    dealer's statement in billing."""
    desk = desk_for(running)
    outcome = await demo.dealer_warranty_work(desk)
    number, facts = outcome.request_no, outcome.facts
    [claim] = await demo.claims_of(desk, number)
    assert (claim["source"], claim["dealer_id"]) == ("dealer_report", facts["dealer_id"])
    # 1.5 h labour, 20 km travel and P-1001 at the dealer rates: all of it approved.
    assert (claim["status"], claim["amount_claimed"], claim["amount_approved"]) == (
        "approved", "530.00", "530.00",
    )  # fmt: skip
    receipts = [
        r for r in await desk.get("parts", "/api/v1/core-receipts")
        if r["request_no"] == number
    ]  # fmt: skip
    assert len(receipts) == 1 and receipts[0]["matched"] is True, receipts
    # claims: the month's settlement pays the dealer the approved amount.
    settlement = facts["settlement"]
    assert (settlement["party"], settlement["total"]) == ("dealer", "530.00")
    assert [(i["reference"], i["amount"]) for i in settlement["items"]] == [
        (claim["claim_no"], "530.00")
    ]
    # billing: the dealer's statement from that settlement; nothing invoiced to the customer.
    statement = facts["statement"]
    assert (statement["settlement_no"], statement["total"], statement["status"]) == (
        settlement["settlement_no"], "530.00", "issued",
    )  # fmt: skip
    request = await desk.get("billing", f"/api/v1/requests/{number}")
    assert request["invoices"] == [] and request["category"] == "C"
    # dispatch: the dealer did the work, so no job was ever opened.
    assert await desk.get("dispatch", f"/api/v1/jobs/{number}", expect=(404,)) is not None
    # The dealer sees its report with each step the services reported.
    view = facts["dealer_view"]
    assert view["dealer_report_no"] == facts["report_no"]
    assert view["status"] == "claim_approved"
    assert {"received", "triaged", "claim_submitted", "claim_approved"} <= {
        e["status"] for e in view["timeline"]
    }, view["timeline"]


async def test_misuse_quoted_declined_and_closed_with_the_call_out_fee(running: Suite) -> None:
    """Scenario 4: misuse diagnosed on site → claim rejected ``CDR`` → quote → declined →
    closed with the call-out fee, the visit costed."""
    desk = desk_for(running)
    outcome = await demo.misuse_declined(desk)
    number, facts = outcome.request_no, outcome.facts
    # billing: the quote (2 h × 160 + P-2007 at 170, 13 % VAT) declined; one invoice of
    # the call-out fee alone (80.00 + 10.40), paid; category A because the quote was declined.
    quote = await desk.get("billing", f"/api/v1/quotes/{facts['quote']['quote_no']}")
    assert (quote["status"], quote["total"], quote["call_out_fee"]) == (
        "declined", "553.70", "80.00",
    )  # fmt: skip
    [invoice] = await desk.get("billing", f"/api/v1/invoices?request_no={number}")
    assert (invoice["net"], invoice["tax"], invoice["total"], invoice["outstanding"]) == (
        "80.00", "10.40", "90.40", "0.00",
    )  # fmt: skip
    request = await desk.get("billing", f"/api/v1/requests/{number}")
    assert (request["category"], request["category_reason"]) == ("A", "quote declined")
    assert request["settled_at"] is not None
    # dispatch: the job closed by the declined quote, nothing completed, no parts.
    job = await desk.get("dispatch", f"/api/v1/jobs/{number}")
    assert (job["status"], job["quote_state"], job["completed_at"]) == (
        "cancelled", "declined", None,
    )  # fmt: skip
    assert job["cancel_reason"].startswith("quote declined")
    assert await desk.get("parts", f"/api/v1/reservations?request_no={number}") == []
    # claims: one claim, from the diagnosis, rejected for misuse with nothing approved.
    [claim] = await demo.claims_of(desk, number)
    assert (claim["source"], claim["status"], claim["reason_codes"]) == ("job", "rejected", ["CDR"])
    assert (claim["amount_claimed"], claim["amount_approved"]) == ("0.00", "0.00")
    # billing: the declined visit is still the company's cost: the standard diagnosis time
    # (30 min at 120.00 an hour); no standard travel is set for the service point here.
    costed = await desk.until(
        "billing", f"/api/v1/requests/{number}", lambda r: r["costs"], "the visit's cost"
    )
    assert [(c["kind"], c["amount"]) for c in costed["costs"]] == [("labour", "60.00")]
    # intake: closed, with the quote, its refusal and the fee's invoice on the timeline.
    seen = await desk.get("intake", f"/api/v1/service-requests/{number}")
    assert seen["status"] == "closed"
    billing_steps = [e["summary"] for e in seen["timeline"] if e["department"] == "billing"]
    assert any("553.70" in line for line in billing_steps), billing_steps
    assert any("90.40" in line for line in billing_steps), billing_steps
    assert ("claims", "claim_rejected") in statuses(seen["timeline"])


async def test_an_emergency_part_jumps_the_backorder_queue(running: Suite) -> None:
    desk = desk_for(running)
    outcome = await demo.emergency_part(desk)
    number, facts = outcome.request_no, outcome.facts
    part_no = facts["part_no"]
    # parts: the one unit that arrived went to the emergency, not to the older backorder.
    [served] = await desk.until(
        "parts", f"/api/v1/reservations?request_no={number}",
        lambda found: found and found[0]["status"] == "closed", "the parts consumed",
    )  # fmt: skip
    assert served["priority"] == "emergency"
    assert [(x["part_no"], x["issued"]) for x in served["lines"]] == [(part_no, 1)]
    [waiting] = await desk.get("parts", f"/api/v1/reservations?request_no={facts['waiting']}")
    assert (waiting["priority"], waiting["status"]) == ("ordinary", "backordered")
    backorders = [
        b for b in await desk.get("parts", "/api/v1/backorders") if b["part_no"] == part_no
    ]
    assert [(b["request_no"], b["waiting"]) for b in backorders] == [(facts["waiting"], 1)]
    movements = [
        (m["kind"], m["request_no"])
        for m in await desk.get("parts", f"/api/v1/parts/{part_no}/movements")
    ]
    assert movements == [
        ("receipt", None), ("reservation", number), ("issue", number), ("consumption", number),
    ]  # fmt: skip
    emergency = facts["emergency"]
    assert (emergency["status"], emergency["tracking_no"]) == ("shipped", "SF9876543210")
    # dispatch: the machine-down job completed; the other still waits for its part.
    job = await desk.get("dispatch", f"/api/v1/jobs/{number}")
    assert (job["status"], job["parts_state"]) == ("completed", "reserved")
    other = await desk.get("dispatch", f"/api/v1/jobs/{facts['waiting']}")
    assert (other["status"], other["parts_state"]) == ("assigned", "backordered")
    # intake: the customer's timeline shows the shipment with its tracking number.
    seen = await desk.until(
        "intake", f"/api/v1/service-requests/{number}",
        lambda r: r["status"] in ("claim_approved", "paid", "closed"), "the claim on intake",
    )  # fmt: skip
    shipped = [e for e in seen["timeline"] if e["department"] == "parts"]
    assert shipped and shipped[0]["details"]["tracking_no"] == "SF9876543210"
    # claims and billing: an in-warranty job, claimed and approved; no customer invoice.
    [claim] = await demo.claims_of(desk, number)
    assert claim["status"] == "approved"
    request = await desk.until(
        "billing", f"/api/v1/requests/{number}", lambda r: r["settled_at"], "settled"
    )
    assert (request["category"], request["invoices"]) == ("C", [])
