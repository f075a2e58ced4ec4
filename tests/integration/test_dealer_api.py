"""The partner dealer API, rule by rule of the published contract, on intake with PostgreSQL
(concurrency) and the real broker."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import select

from services.intake.app import DEFINITION as INTAKE
from services.intake.db.models import DealerIdempotencyRow, DealerSecretRow
from shared.settings import AuthSettings, BrokerSettings
from tests.support.databases import DatabaseFactory
from tests.support.dealer_client import REPORTS, DealerClient, contract_report
from tests.support.metrics import sample
from tests.support.services import RunningService, running_service

Headers = Callable[..., dict[str, str]]
PROBLEM = "application/problem+json"


@pytest.fixture
async def intake(
    databases: DatabaseFactory, broker: BrokerSettings, auth: AuthSettings, tmp_path: Any
) -> AsyncIterator[RunningService]:
    url = await databases.migrated(INTAKE.migrations_dir, "intake")
    async with running_service(
        INTAKE, url, broker, auth, secrets_key_file=tmp_path / "dealer-secrets.key"
    ) as service:
        yield service


async def _new_dealer(
    intake: RunningService, staff_headers: Headers, **settings: Any
) -> DealerClient:
    created = await intake.client.post(
        "/api/v1/admin/dealers",
        json={"name": "上海浦东服务站", **settings},
        headers=staff_headers("admin"),
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["dealer_id"].startswith("D") and len(body["secret"]) >= 32
    return DealerClient(intake.client, body["dealer_id"], body["secret"])


async def test_report_is_created_with_warranty_and_replayed_for_the_same_key(
    intake: RunningService, staff_headers: Headers
) -> None:
    dealer = await _new_dealer(intake, staff_headers)
    created_before = sample("aftersales_intake_dealer_reports_total", outcome="created")
    requests_before = sample(
        "aftersales_intake_requests_total", channel="dealer", kind="repair", severity="urgent"
    )
    replayed_before = sample("aftersales_intake_dealer_reports_total", outcome="replayed")

    first = await dealer.post_report(contract_report(), key="k-1")
    assert first.status_code == 201, first.text
    body = first.json()
    assert set(body) == {"request_no", "dealer_report_no", "status", "warranty", "received_at"}
    assert body["request_no"].startswith("SR-") and len(body["request_no"]) == 14
    assert body["dealer_report_no"] == "DLR-2026-0001"
    assert body["status"] == "received"
    # Bought 2026-03-01, 12 months (the default for a model intake does not know yet).
    assert body["warranty"] == {"in_warranty": True, "expires_on": "2027-03-01"}
    assert first.headers["location"] == f"{REPORTS}/{body['request_no']}"
    assert "idempotent-replayed" not in first.headers

    # The same report again (other spacing and key order: the same JSON) under the same key.
    again_body = json.dumps(contract_report(), indent=2, sort_keys=True).encode()
    again = await dealer.post_report(again_body, key="k-1")
    assert again.status_code == 201
    assert again.json() == body
    assert again.headers["idempotent-replayed"] == "true"
    assert again.headers["location"] == first.headers["location"]

    listed = await dealer.get(REPORTS)
    assert [item["request_no"] for item in listed.json()["items"]] == [body["request_no"]]
    assert sample("aftersales_intake_dealer_reports_total", outcome="created") == (
        created_before + 1
    )
    assert sample("aftersales_intake_dealer_reports_total", outcome="replayed") == (
        replayed_before + 1
    )
    # One request, though two answers were given.
    assert sample(
        "aftersales_intake_requests_total", channel="dealer", kind="repair", severity="urgent"
    ) == (requests_before + 1)


async def test_reused_key_or_report_number_is_a_conflict(
    intake: RunningService, staff_headers: Headers
) -> None:
    dealer = await _new_dealer(intake, staff_headers)
    assert (await dealer.post_report(contract_report(), key="k-1")).status_code == 201

    changed = contract_report(severity="ordinary")
    other_body = await dealer.post_report(changed, key="k-1")
    assert other_body.status_code == 409
    assert other_body.headers["content-type"] == PROBLEM

    same_report_new_key = await dealer.post_report(contract_report(), key="k-2")
    assert same_report_new_key.status_code == 409
    assert "DLR-2026-0001" in same_report_new_key.json()["detail"]

    # Another dealer may use the same report number: numbers are unique per dealer.
    other = await _new_dealer(intake, staff_headers)
    assert (await other.post_report(contract_report(), key="k-1")).status_code == 201


async def test_concurrent_requests_with_one_key_create_one_report(
    intake: RunningService, staff_headers: Headers
) -> None:
    dealer = await _new_dealer(intake, staff_headers)
    answers = await asyncio.gather(
        *(dealer.post_report(contract_report(), key="same") for _ in range(10))
    )
    assert [a.status_code for a in answers] == [201] * 10, [a.text for a in answers]
    assert len({a.json()["request_no"] for a in answers}) == 1
    assert sum(a.headers.get("idempotent-replayed") == "true" for a in answers) == 9

    # Different keys racing for one report number: one wins, the others are told.
    racing = await asyncio.gather(
        *(dealer.post_report(contract_report("DLR-2026-0002"), key=f"race-{n}") for n in range(6))
    )
    assert sorted(a.status_code for a in racing) == [201] + [409] * 5
    listed = (await dealer.get(REPORTS)).json()["items"]
    assert sorted(i["dealer_report_no"] for i in listed) == ["DLR-2026-0001", "DLR-2026-0002"]


async def test_signature_clock_and_dealer_state(
    intake: RunningService, staff_headers: Headers
) -> None:
    dealer = await _new_dealer(intake, staff_headers)
    report = contract_report()

    unsigned = await intake.client.post(REPORTS, json=report, headers={"Idempotency-Key": "a"})
    assert unsigned.status_code == 401 and unsigned.headers["content-type"] == PROBLEM

    wrong = DealerClient(intake.client, dealer.dealer_id, "not-the-secret")
    assert (await wrong.post_report(report)).status_code == 401
    unknown = DealerClient(intake.client, "D9999", dealer.secret)
    assert (await unknown.post_report(report)).status_code == 401
    # Unknown dealer and wrong signature read the same: nothing to learn from the answer.
    assert (await wrong.post_report(report)).json()["detail"] == (
        (await unknown.post_report(report)).json()["detail"]
    )

    late = DealerClient(intake.client, dealer.dealer_id, dealer.secret, clock_offset=-301)
    assert (await late.post_report(report)).status_code == 401
    # Whole seconds are signed and the request takes time to arrive, so "ahead" is tested
    # clear of the edge (the exact edge is a unit test of the signature rules).
    early = DealerClient(intake.client, dealer.dealer_id, dealer.secret, clock_offset=305)
    assert (await early.post_report(report)).status_code == 401
    skewed = DealerClient(intake.client, dealer.dealer_id, dealer.secret, clock_offset=-250)
    assert (await skewed.post_report(report, key="skewed")).status_code == 201

    # A signature over another path does not open this one.
    body = json.dumps(report).encode()
    replayed_signature = dealer.headers("POST", REPORTS + "?x=1", body)
    moved = await intake.client.post(
        REPORTS, content=body, headers={**replayed_signature, "Idempotency-Key": "m"}
    )
    assert moved.status_code == 401

    admin = staff_headers("admin")
    suspended = await intake.client.post(
        f"/api/v1/admin/dealers/{dealer.dealer_id}/suspend", headers=admin
    )
    assert suspended.json()["status"] == "suspended"
    refused = await dealer.post_report(contract_report("DLR-2"), key="s-1")
    assert refused.status_code == 403 and refused.headers["content-type"] == PROBLEM
    # A suspended dealer's wrong signature is still just 401: suspension is not disclosed.
    assert (await wrong.post_report(report)).status_code == 401
    await intake.client.post(f"/api/v1/admin/dealers/{dealer.dealer_id}/reactivate", headers=admin)
    assert (await dealer.post_report(contract_report("DLR-2"), key="s-1")).status_code == 201


async def test_secret_rotation_with_two_active_secrets(
    intake: RunningService, staff_headers: Headers
) -> None:
    dealer = await _new_dealer(intake, staff_headers)
    admin = staff_headers("admin")
    base = f"/api/v1/admin/dealers/{dealer.dealer_id}"
    issued = await intake.client.post(f"{base}/secrets", headers=admin)
    assert issued.status_code == 201
    rotated = DealerClient(intake.client, dealer.dealer_id, issued.json()["secret"])

    assert (await dealer.post_report(contract_report("R-1"), key="r1")).status_code == 201
    assert (await rotated.post_report(contract_report("R-2"), key="r2")).status_code == 201
    third = await intake.client.post(f"{base}/secrets", headers=admin)
    assert third.status_code == 409

    shown = (await intake.client.get(base, headers=staff_headers("auditor"))).json()
    assert len(shown["secrets"]) == 2
    # Stored sealed: neither secret can be read back from the database.
    async with intake.runtime.sessions() as session:
        stored = (await session.execute(select(DealerSecretRow))).scalars().all()
    for secret in (dealer.secret, rotated.secret):
        for row in stored:
            assert secret.encode() not in row.sealed and secret[:16] not in row.fingerprint
    assert dealer.secret not in json.dumps(shown)  # never shown again, only fingerprints
    old_id = shown["secrets"][0]["secret_id"]
    revoked = await intake.client.delete(f"{base}/secrets/{old_id}", headers=admin)
    assert revoked.status_code == 204
    assert (await dealer.post_report(contract_report("R-3"), key="r3")).status_code == 401
    assert (await rotated.post_report(contract_report("R-3"), key="r3")).status_code == 201

    # Only admins administer dealers; auditors read.
    assert (
        await intake.client.post(f"{base}/secrets", headers=staff_headers("auditor"))
    ).status_code == 403
    assert (
        await intake.client.post(
            "/api/v1/admin/dealers", json={"name": "x"}, headers=staff_headers("intake_agent")
        )
    ).status_code == 403


async def test_rate_limit_answers_429_with_retry_after(
    intake: RunningService, staff_headers: Headers
) -> None:
    dealer = await _new_dealer(intake, staff_headers, rate_per_second=0.5, burst=3)
    answers = [await dealer.get(REPORTS) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert answers[3].headers["content-type"] == PROBLEM
    assert int(answers[3].headers["retry-after"]) >= 1
    # Other dealers are not held back by this one.
    other = await _new_dealer(intake, staff_headers)
    assert (await other.get(REPORTS)).status_code == 200


async def test_bad_input_is_refused_with_every_field_named(
    intake: RunningService, staff_headers: Headers
) -> None:
    dealer = await _new_dealer(intake, staff_headers)
    bad = contract_report()
    del bad["dealer_report_no"]
    bad["customer"]["phone"] = "not a phone"
    bad["request"] = "teleport"
    bad["fault"] = {"code": 42}
    bad["work_done"]["labour_hours"] = -1
    bad["work_done"]["parts_replaced"][0]["quantity"] = "two"
    bad["purchase_date"] = "2026-02-30"
    bad["severity"] = "critical"
    bad["work_done"]["cause"] = "aliens"
    bad["product"] = {"model": ["WX-200"]}
    answer = await dealer.post_report(bad)
    assert answer.status_code == 422 and answer.headers["content-type"] == PROBLEM
    fields = {error["field"] for error in answer.json()["errors"]}
    assert {
        "dealer_report_no",
        "customer.phone",
        "request",
        "fault.description",
        "fault.code",
        "work_done.labour_hours",
        "work_done.parts_replaced.0.quantity",
        "purchase_date",
        "severity",
        "work_done.cause",
        "product.model",
        "product.serial_no",
    } <= fields

    assert (await dealer.post_report(b"{not json")).status_code == 422
    assert (await dealer.post_report(b"[1, 2]")).status_code == 422
    missing_key = await dealer.post_report(contract_report(), key=None)
    assert missing_key.status_code == 400
    assert (await dealer.post_report(contract_report(), key="x" * 256)).status_code == 400
    assert (await dealer.post_report(contract_report(), key="del\x7f")).status_code == 400
    body = json.dumps(contract_report()).encode()
    not_ascii = await intake.client.post(
        REPORTS,
        content=body,
        headers={**dealer.headers("POST", REPORTS, body), "Idempotency-Key": "键".encode()},
    )
    assert not_ascii.status_code == 400

    huge = json.dumps(contract_report(fault={"description": "漏" * 400_000})).encode()
    too_large = await dealer.post_report(huge)
    assert too_large.status_code == 413 and too_large.headers["content-type"] == PROBLEM
    # Sent in chunks without a declared length, it is counted as it arrives.

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(huge), 64 * 1024):
            yield huge[start : start + 64 * 1024]

    streamed = await intake.client.post(
        REPORTS,
        content=chunks(),
        headers={**dealer.headers("POST", REPORTS, huge), "Idempotency-Key": "big"},
    )
    assert streamed.status_code == 413, streamed.text
    # Just under 1 MiB is read (and refused only for the description's length).
    under = contract_report(fault={"description": "x"})
    under["fault"]["description"] = "x" * (1024 * 1024 - len(json.dumps(under)) - 1)
    assert len(json.dumps(under)) < 1024 * 1024
    assert (await dealer.post_report(under, key="under")).status_code == 422

    long_text = await dealer.post_report(
        contract_report(fault={"description": "x" * 5001}), key="long"
    )
    assert long_text.status_code == 422

    # SQL-looking text is just text.
    sql = await dealer.post_report(
        contract_report(
            "'; DROP TABLE service_requests; --",
            customer={"name": "Robert'); DROP TABLE customers;--", "phone": "13800138000"},
        ),
        key="sql",
    )
    assert sql.status_code == 201, sql.text
    read = await dealer.get(f"{REPORTS}/{sql.json()['request_no']}")
    assert read.json()["customer"]["name"] == "Robert'); DROP TABLE customers;--"


async def test_dealer_reads_its_own_reports_with_timeline_and_pages(
    intake: RunningService, staff_headers: Headers
) -> None:
    dealer = await _new_dealer(intake, staff_headers)
    numbers = []
    for n in range(5):
        created = await dealer.post_report(contract_report(f"P-{n}"), key=f"p-{n}")
        numbers.append(created.json()["request_no"])

    one = await dealer.get(f"{REPORTS}/{numbers[0]}")
    assert one.status_code == 200
    report = one.json()
    assert report["customer"]["name"] == "张伟"
    assert report["fault"]["description"] == "开机无反应"
    assert report["work_done"]["parts_replaced"] == [
        {"part_no": "P-1001", "quantity": 1, "old_part_serial": "OP-77812"}
    ]
    assert report["work_done"]["labour_hours"] in ("1.5", "1.50", 1.5)
    assert report["status"] == "received"
    assert report["timeline"][0]["department"] == "intake"
    assert report["timeline"][0]["status"] == "received"
    assert report["timeline"][0]["summary"]

    other = await _new_dealer(intake, staff_headers)
    assert (await other.get(f"{REPORTS}/{numbers[0]}")).status_code == 404
    assert (await other.get(f"{REPORTS}/SR-2026-999999")).status_code == 404

    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        path = f"{REPORTS}?limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = (await dealer.get(path)).json()
        seen += [item["request_no"] for item in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    assert seen == list(reversed(numbers))  # newest update first

    assert (await dealer.get(f"{REPORTS}?status=received")).json()["items"]
    assert (await dealer.get(f"{REPORTS}?status=paid")).json()["items"] == []
    assert (await dealer.get(f"{REPORTS}?status=exploded")).status_code == 422
    assert (await dealer.get(f"{REPORTS}?limit=201")).status_code == 422
    assert (await dealer.get(f"{REPORTS}?limit=0")).status_code == 422
    assert (await dealer.get(f"{REPORTS}?cursor=bm9wZQ")).status_code == 422
    assert (await dealer.get(f"{REPORTS}?updated_since=2026-11-01T00:00:00")).status_code == 422
    later = await dealer.get(f"{REPORTS}?updated_since=2099-01-01T00:00:00Z")
    assert later.status_code == 200 and later.json()["items"] == []


# The metrics the issue names, with exactly its labels (response_seconds carries the SLA
# target it was measured against: a handful of values).
INTAKE_METRICS = {
    "aftersales_intake_requests_total": {"channel", "kind", "severity"},
    "aftersales_intake_open_requests": {"status"},
    "aftersales_intake_response_seconds": {"target"},
    "aftersales_intake_sla_breaches_total": {"target"},
    "aftersales_intake_dealer_reports_total": {"outcome"},
}


async def test_rejections_are_counted_and_no_metric_names_a_dealer(
    intake: RunningService, staff_headers: Headers
) -> None:
    dealer = await _new_dealer(intake, staff_headers, rate_per_second=0.5, burst=3)
    rejected = sample("aftersales_intake_dealer_reports_total", outcome="rejected")
    assert (await dealer.post_report(contract_report(), key="m-1")).status_code == 201
    wrong = DealerClient(intake.client, dealer.dealer_id, "not-the-secret")
    assert (await wrong.post_report(contract_report(), key="m-2")).status_code == 401
    assert (await dealer.post_report({"request": "teleport"}, key="m-3")).status_code == 422
    assert (await dealer.get(REPORTS)).status_code == 200  # the burst of 3 is spent
    assert (await dealer.post_report(contract_report(), key="m-4")).status_code == 429
    assert sample("aftersales_intake_dealer_reports_total", outcome="rejected") == rejected + 3

    families = {f.name: f for f in REGISTRY.collect() if f.name.startswith("aftersales_intake_")}
    for name, labels in INTAKE_METRICS.items():
        family = families[name.removesuffix("_total")]
        for found in family.samples:
            assert set(found.labels) - {"le"} == labels, (name, found.labels)
    for family in families.values():
        for found in family.samples:
            assert dealer.dealer_id not in found.labels.values(), family.name
            assert not any(str(v).startswith("SR-") for v in found.labels.values()), family.name


async def test_an_idempotency_key_is_kept_24_hours(
    intake: RunningService, staff_headers: Headers
) -> None:
    dealer = await _new_dealer(intake, staff_headers)
    first = await dealer.post_report(contract_report("K-1"), key="day")
    assert first.status_code == 201

    async def age_key(by: timedelta) -> None:
        async with intake.runtime.sessions() as session:
            rows = await session.execute(
                select(DealerIdempotencyRow).where(
                    DealerIdempotencyRow.dealer_id == dealer.dealer_id
                )
            )
            for row in rows.scalars():
                row.created_at -= by
            await session.commit()

    await age_key(timedelta(hours=23, minutes=59))
    replayed = await dealer.post_report(contract_report("K-1"), key="day")
    assert replayed.headers.get("idempotent-replayed") == "true"
    assert replayed.json() == first.json()
    assert (await dealer.post_report(contract_report("K-2"), key="day")).status_code == 409

    await age_key(timedelta(minutes=2))  # now 24 h and a minute old: forgotten
    # The same body is no replay any more; its report number is still taken.
    again = await dealer.post_report(contract_report("K-1"), key="day")
    assert again.status_code == 409 and "K-1" in again.json()["detail"]
    # And the key is free for another report.
    other = await dealer.post_report(contract_report("K-2"), key="day")
    assert other.status_code == 201 and "idempotent-replayed" not in other.headers
    assert other.json()["request_no"] != first.json()["request_no"]
