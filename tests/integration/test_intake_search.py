"""Intake staff's search of service requests: every filter, free text in Chinese and taken
literally, keyset pages that survive inserts, validation as problem+json, and roles. Intake
on PostgreSQL; the free text on SQLite too."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from services.intake.app import DEFINITION as INTAKE
from services.intake.db.models import ServiceRequestRow, SlaClockRow
from shared.settings import AuthSettings, BrokerSettings
from tests.support.databases import DatabaseFactory, migrated_on
from tests.support.dealer_client import DealerClient, contract_report
from tests.support.services import RunningService, running_service

Headers = Callable[..., dict[str, str]]
URL = "/api/v1/service-requests"
PROBLEM_JSON = "application/problem+json"
SORTS = ["-received_at", "received_at", "-updated_at", "updated_at"]
BEIJING = timezone(timedelta(hours=8))


@pytest.fixture
async def intake(
    databases: DatabaseFactory, broker: BrokerSettings, auth: AuthSettings, tmp_path: Path
) -> AsyncIterator[RunningService]:
    url = await databases.migrated(INTAKE.migrations_dir, "intake")
    async with running_service(INTAKE, url, broker, auth, secrets_key_file=tmp_path / "k") as s:
        yield s


@pytest.fixture(params=["postgresql", "sqlite"])
async def intake_on_each_backend(
    request: pytest.FixtureRequest,
    databases: DatabaseFactory,
    broker: BrokerSettings,
    auth: AuthSettings,
    tmp_path: Path,
) -> AsyncIterator[RunningService]:
    url = await migrated_on(request.param, INTAKE, databases, tmp_path)
    async with running_service(INTAKE, url, broker, auth, secrets_key_file=tmp_path / "k") as s:
        yield s


class Desk:
    """An intake agent at the staff API."""

    def __init__(self, intake: RunningService, staff_headers: Headers) -> None:
        self.http = intake.client
        self.agent = staff_headers("intake_agent")
        self._staff_headers = staff_headers
        self._serials = 0

    async def register(
        self,
        name: str,
        *,
        channel: str = "phone",
        phone: str = "13800000000",
        region: str | None = None,
        address: str | None = None,
        model: str = "KX-100",
        serial: str | None = None,
        fault: str = "不制冷",
        severity: str | None = None,
    ) -> dict[str, Any]:
        self._serials += 1
        body: dict[str, Any] = {
            "channel": channel,
            "customer": {"name": name, "phone": phone, "region": region, "address": address},
            "product": {"model": model, "serial_no": serial or f"KX100-{self._serials:04d}"},
            "fault_description": fault,
            "severity": severity,
        }
        answer = await self.http.post(URL, json=body, headers=self.agent)
        assert answer.status_code == 201, answer.text
        assert answer.json()["status"] == "received"
        return dict(answer.json())

    async def act(self, number: str, action: str, body: Any = None) -> dict[str, Any]:
        answer = await self.http.post(f"{URL}/{number}/{action}", json=body, headers=self.agent)
        assert answer.status_code == 200, answer.text
        return dict(answer.json())

    async def dealer_report(self, **changes: Any) -> tuple[str, dict[str, Any]]:
        made = await self.http.post(
            "/api/v1/admin/dealers",
            json={"name": "上海浦东服务站"},
            headers=self._staff_headers("admin"),
        )
        assert made.status_code == 201, made.text
        dealer = DealerClient(self.http, made.json()["dealer_id"], made.json()["secret"])
        created = await dealer.post_report(contract_report(**changes), key="search-1")
        assert created.status_code == 201, created.text
        read = await self.http.get(f"{URL}/{created.json()['request_no']}", headers=self.agent)
        return dealer.dealer_id, dict(read.json())

    async def search(self, headers: dict[str, str] | None = None, **params: Any) -> httpx.Response:
        query = {key: value for key, value in params.items() if value is not None}
        return await self.http.get(
            URL, params=query, headers=self.agent if headers is None else headers
        )

    async def found(self, **params: Any) -> list[str]:
        answer = await self.search(**params)
        assert answer.status_code == 200, answer.text
        assert answer.json()["next_cursor"] is None  # everything on one page here
        return [item["request_no"] for item in answer.json()["items"]]

    async def walk(
        self,
        limit: int,
        between_pages: Callable[[], Awaitable[object]] | None = None,
        **params: Any,
    ) -> list[list[str]]:
        """Every page's request numbers, following next_cursor to the end."""
        pages: list[list[str]] = []
        cursor = None
        while True:
            answer = await self.search(limit=limit, cursor=cursor, **params)
            assert answer.status_code == 200, answer.text
            pages.append([item["request_no"] for item in answer.json()["items"]])
            cursor = answer.json()["next_cursor"]
            if cursor is None:
                return pages
            assert len(pages) < 20, "the walk does not end"
            if between_pages is not None and len(pages) == 1:
                await between_pages()


def numbers(*requests: dict[str, Any]) -> list[str]:
    return [r["request_no"] for r in requests]


def chunks(items: list[str], size: int) -> list[list[str]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def in_beijing(stamp: str) -> str:
    return datetime.fromisoformat(stamp).astimezone(BEIJING).isoformat()


def assert_invalid(answer: httpx.Response, field: str) -> None:
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == PROBLEM_JSON
    problem = answer.json()
    assert problem["type"] == "urn:aftersales:problem:validation"
    assert field in [error["field"] for error in problem["errors"]], problem["errors"]


async def test_every_filter_alone_and_combined(
    intake: RunningService, staff_headers: Headers
) -> None:
    desk = Desk(intake, staff_headers)
    r1 = await desk.register("王芳", channel="phone", region="北京")
    r2 = await desk.register("李娜", channel="web", region="上海")
    r3 = await desk.register("张伟", channel="email", region="上海", severity="ordinary")
    r4 = await desk.register("陈静", channel="walk_in", region="广州")
    r5 = await desk.register("刘洋", channel="phone", region="广州", severity="ordinary")
    dealer_id, r6 = await desk.dealer_report()  # 上海, urgent, received
    await desk.act(r1["request_no"], "acknowledge")
    triaged = await desk.act(
        r2["request_no"], "triage", {"kind": "consultation", "severity": "consultation"}
    )
    assert triaged["status"] == "triaged"
    handed = await desk.act(r3["request_no"], "triage", {"kind": "repair", "severity": "urgent"})
    assert handed["status"] == "handed_to_dispatch"
    await desk.act(r4["request_no"], "cancel", {"reason": "客户撤销"})

    # No filter: everything, newest first, each item as the single read gives it, sans timeline.
    assert await desk.found() == numbers(r6, r5, r4, r3, r2, r1)
    page = (await desk.search()).json()
    single = (await desk.http.get(f"{URL}/{r3['request_no']}", headers=desk.agent)).json()
    assert single["timeline"] != []
    # Lists leave out what costs a query per item: the timeline and the SLA clocks.
    assert single["sla"] != []
    assert page["items"][3] == {**single, "timeline": [], "sla": []}
    assert page["items"][0]["dealer_id"] == dealer_id

    assert await desk.found(status="received") == numbers(r6, r5)
    assert await desk.found(status=["received", "cancelled"]) == numbers(r6, r5, r4)
    assert await desk.found(status=["acknowledged", "triaged"]) == numbers(r2, r1)
    assert await desk.found(status="closed") == []
    assert await desk.found(kind="repair") == numbers(r3)
    assert await desk.found(kind="consultation") == numbers(r2)
    assert await desk.found(severity="urgent") == numbers(r6, r3)
    assert await desk.found(severity="ordinary") == numbers(r5)
    assert await desk.found(channel="phone") == numbers(r5, r1)
    assert await desk.found(channel="dealer") == numbers(r6)
    assert await desk.found(region="上海") == numbers(r6, r3, r2)
    assert await desk.found(region="上") == []  # exact, not a prefix
    assert await desk.found(dealer_id=dealer_id) == numbers(r6)
    assert await desk.found(dealer_id="D999999") == []

    # received_from is inclusive, received_to exclusive, in any time zone.
    assert await desk.found(received_from=r3["received_at"]) == numbers(r6, r5, r4, r3)
    assert await desk.found(received_to=r3["received_at"]) == numbers(r2, r1)
    window = {"received_from": in_beijing(r2["received_at"]), "received_to": r5["received_at"]}
    assert await desk.found(**window) == numbers(r4, r3, r2)

    # Combined, the filters are ANDed.
    assert await desk.found(region="上海", severity="urgent") == numbers(r6, r3)
    assert await desk.found(region="上海", severity="urgent", channel="dealer") == numbers(r6)
    assert await desk.found(status="received", region="广州") == numbers(r5)
    assert await desk.found(status=["received", "cancelled"], channel="phone") == numbers(r5)
    assert await desk.found(channel="walk_in", kind="repair") == []
    assert await desk.found(q="张伟", region="上海") == numbers(r6, r3)
    assert await desk.found(q="张伟", region="上海", status="received") == numbers(r6)
    assert await desk.found(**window, region="上海", sort="received_at") == numbers(r2, r3)

    # A filter holds across pages too.
    pages = await desk.walk(1, status=["received", "cancelled"])
    assert pages == [[r6["request_no"]], [r5["request_no"]], [r4["request_no"]]]


async def test_breached_or_due_within_minutes(
    intake: RunningService, staff_headers: Headers
) -> None:
    desk = Desk(intake, staff_headers)
    made = [await desk.register(f"时钟{i}", region="北京" if i == 2 else "上海") for i in range(7)]
    now = datetime.now(UTC)
    minutes = lambda n: now + timedelta(minutes=n)  # noqa: E731
    # (due_at, met_at, breached_at) of every clock of each request; made[0] keeps its own.
    clocks = {
        1: (minutes(-5), None, minutes(-5)),  # past due, breached
        2: (minutes(10), None, None),
        3: (minutes(40), None, None),
        4: (None, None, None),  # paused: the customer is awaited
        5: (minutes(5), now, None),  # met in time
        6: (minutes(-60), now, minutes(-60)),  # met late
    }
    async with intake.runtime.sessions() as session:
        for index, (due_at, met_at, breached_at) in clocks.items():
            changed = await session.execute(
                update(SlaClockRow)
                .where(SlaClockRow.request_no == made[index]["request_no"])
                .values(due_at=due_at, met_at=met_at, breached_at=breached_at)
            )
            assert changed.rowcount >= 1  # type: ignore[attr-defined]
        await session.commit()
    r = {i: made[i] for i in range(7)}
    first_due = datetime.fromisoformat(
        (await desk.http.get(f"{URL}/{r[0]['request_no']}", headers=desk.agent)).json()["sla"][0][
            "due_at"
        ]
    )
    assert first_due > minutes(100)  # an ordinary response clock: 2 h, or more in working time

    assert await desk.found(due_within_minutes=0) == numbers(r[1])
    assert await desk.found(due_within_minutes=15) == numbers(r[2], r[1])
    assert await desk.found(due_within_minutes=60) == numbers(r[3], r[2], r[1])
    assert await desk.found(breached="true") == numbers(r[6], r[1])
    assert await desk.found(breached="false") == numbers(r[5], r[4], r[3], r[2], r[0])
    assert await desk.found(due_within_minutes=60, breached="false") == numbers(r[3], r[2])
    assert await desk.found(due_within_minutes=60, region="北京") == numbers(r[2])
    assert await desk.found(due_within_minutes=60, sort="received_at") == numbers(r[1], r[2], r[3])
    for params, field in (
        ({"due_within_minutes": -1}, "query.due_within_minutes"),
        ({"due_within_minutes": 7 * 24 * 60 + 1}, "query.due_within_minutes"),
        ({"due_within_minutes": "soon"}, "query.due_within_minutes"),
        ({"breached": "maybe"}, "query.breached"),
    ):
        assert_invalid(await desk.search(**params), field)


async def test_free_text_is_literal_case_insensitive_and_finds_chinese(
    intake_on_each_backend: RunningService, staff_headers: Headers
) -> None:
    desk = Desk(intake_on_each_backend, staff_headers)
    _dealer, d = await desk.dealer_report()  # 张伟, 13800138000, 上海市浦东新区…, 开机无反应
    a = await desk.register("李娜", phone="021-6666-7777", fault="漏水")
    b = await desk.register(
        "王芳", channel="web", phone="13912345678", model="AB/12", serial="SN_A1",
        fault="显示屏亮度只有 50% 左右",
    )  # fmt: skip
    c = await desk.register(
        "王小明", channel="email", phone="13700000000", model="ABX12", serial="SNXA1",
        fault="显示屏亮度 50 度左右偏暗", address="北京市朝阳区",
    )  # fmt: skip
    everything = numbers(c, b, a, d)
    assert await desk.found() == everything

    assert await desk.found(q="开机") == numbers(d)  # fault description
    assert await desk.found(q="王") == numbers(c, b)  # customer name
    assert await desk.found(q="浦东新区") == numbers(d)  # address
    assert await desk.found(q="朝阳") == numbers(c)
    assert await desk.found(q="12345") == numbers(b)  # phone digits
    assert await desk.found(q="6666-77") == numbers(a)
    assert await desk.found(q=a["request_no"]) == numbers(a)
    assert await desk.found(q="dlr-2026") == numbers(d)  # dealer report number, any case
    assert await desk.found(q="wx200-2025") == numbers(d)  # serial number, any case
    assert await desk.found(q="ab/1") == numbers(b)  # product model; / is no escape either
    # % and _ are characters, not wildcards: "50%" would also match "50 度左右…", "SN_A"
    # would also match "SNXA1".
    assert await desk.found(q="50%") == numbers(b)
    assert await desk.found(q="%") == numbers(b)
    assert await desk.found(q="sn_a") == numbers(b)
    assert await desk.found(q="_") == numbers(b)
    assert await desk.found(q="开机", channel="phone") == []
    assert await desk.found(q="王", channel="web") == numbers(b)
    assert await desk.found(q="不存在的故障") == []

    # SQL in the text is text: it finds nothing and harms nothing.
    assert await desk.found(q="'; DROP TABLE service_requests; --") == []
    assert await desk.found(q="' OR '1'='1") == []
    assert await desk.found(q='" OR 1=1 --') == []
    assert await desk.found() == everything


@pytest.mark.parametrize("sort", SORTS)
async def test_pages_walk_without_duplicates_or_gaps_while_requests_arrive(
    intake: RunningService, staff_headers: Headers, sort: str
) -> None:
    desk = Desk(intake, staff_headers)
    made = [await desk.register(f"客户{i}", region="深圳") for i in range(7)]
    # Updating two makes the updated_at order differ from the received_at order.
    for request in (made[1], made[4]):
        await desk.act(request["request_no"], "acknowledge")
    by_received = numbers(*made)
    by_updated = [n for n in by_received if n not in numbers(made[1], made[4])] + numbers(
        made[1], made[4]
    )
    oldest_first = by_received if sort.endswith("received_at") else by_updated
    arrived: list[str] = []

    async def a_request_arrives() -> None:
        arrived.append((await desk.register("新客户", region="深圳"))["request_no"])

    pages = await desk.walk(3, a_request_arrives, sort=sort)

    assert len(arrived) == 1
    assert len(pages) == 3
    if sort.startswith("-"):
        # Newer than where the walk stands: it is not met, and shifts nothing.
        assert pages == chunks(oldest_first[::-1], 3)
    else:
        # Later than where the walk stands: met once, at the end.
        assert pages == chunks([*oldest_first, *arrived], 3)
    # And the arrival is there for the next walk, in its place.
    assert (await desk.walk(10, sort=sort))[0] == (
        [*arrived, *oldest_first[::-1]] if sort.startswith("-") else [*oldest_first, *arrived]
    )


async def test_requests_with_the_same_time_are_paged_by_id(
    intake: RunningService, staff_headers: Headers
) -> None:
    desk = Desk(intake, staff_headers)
    made = numbers(*[await desk.register(f"同时{i}") for i in range(5)])
    same = datetime(2026, 5, 1, 9, 30, tzinfo=UTC)
    async with intake.runtime.sessions() as session:
        await session.execute(update(ServiceRequestRow).values(received_at=same, updated_at=same))
        await session.commit()

    for sort in SORTS:
        pages = await desk.walk(2, sort=sort)
        assert pages == chunks(made[::-1] if sort.startswith("-") else made, 2), sort


async def test_bad_parameters_are_422_problems(
    intake: RunningService, staff_headers: Headers
) -> None:
    desk = Desk(intake, staff_headers)
    first = await desk.register("赵磊")
    second = await desk.register("孙丽")
    cursor = (await desk.search(limit=1)).json()["next_cursor"]
    assert isinstance(cursor, str)
    # The limits themselves are allowed, and a cursor continues its own sort.
    assert [i["request_no"] for i in (await desk.search(limit=1)).json()["items"]] == numbers(
        second
    )
    assert [
        i["request_no"] for i in (await desk.search(limit=1, cursor=cursor)).json()["items"]
    ] == numbers(first)
    assert (await desk.search(limit=200)).status_code == 200
    assert (await desk.search(q="维" * 200)).status_code == 200
    assert (await desk.search(received_from="2026-01-01T00:00:00+08:00")).status_code == 200

    def forged(**payload: Any) -> str:
        return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode()

    cases: list[tuple[dict[str, Any], str]] = [
        ({"limit": 0}, "query.limit"),
        ({"limit": 201}, "query.limit"),
        ({"limit": "many"}, "query.limit"),
        ({"status": "lost"}, "query.status.0"),
        ({"status": ["received", "lost"]}, "query.status.1"),
        ({"kind": "miracle"}, "query.kind"),
        ({"severity": "catastrophic"}, "query.severity"),
        ({"channel": "pigeon"}, "query.channel"),
        ({"sort": "-request_no"}, "query.sort"),
        ({"sort": "+received_at"}, "query.sort"),
        ({"received_from": "2026-01-01T00:00:00"}, "query.received_from"),
        ({"received_to": "2026-01-01 08:00"}, "query.received_to"),
        ({"received_to": "yesterday"}, "query.received_to"),
        (
            {"received_from": "2026-02-01T00:00:00Z", "received_to": "2026-01-01T00:00:00Z"},
            "query.received_to",
        ),
        ({"q": ""}, "query.q"),
        ({"q": "维" * 201}, "query.q"),
        ({"region": ""}, "query.region"),
        ({"cursor": "not-a-cursor"}, "query.cursor"),
        ({"cursor": ""}, "query.cursor"),
        ({"cursor": cursor, "sort": "received_at"}, "query.cursor"),  # another sort's
        ({"cursor": cursor[:-6]}, "query.cursor"),
        ({"cursor": forged(sort="-received_at", at="2026-01-01T00:00:00", id=1)}, "query.cursor"),
        (
            {"cursor": forged(sort="-received_at", at="2026-01-01T00:00:00Z", id="1")},
            "query.cursor",
        ),
        (
            {"cursor": forged(sort="-received_at", at="2026-01-01T00:00:00Z", id=1.5)},
            "query.cursor",
        ),
        ({"cursor": forged(sort="-received_at", at=5, id=1)}, "query.cursor"),
        ({"cursor": forged(at="2026-01-01T00:00:00Z", id=1)}, "query.cursor"),
    ]
    for params, field in cases:
        assert_invalid(await desk.search(**params), field)


async def test_who_may_search(intake: RunningService, staff_headers: Headers) -> None:
    desk = Desk(intake, staff_headers)
    made = await desk.register("周杰")
    for role in ("intake_agent", "manager", "auditor", "admin"):
        answer = await desk.search(staff_headers(role))
        assert answer.status_code == 200, (role, answer.text)
        assert [i["request_no"] for i in answer.json()["items"]] == numbers(made)

    refused = await desk.search(staff_headers("dispatcher"))
    assert refused.status_code == 403
    assert refused.headers["content-type"] == PROBLEM_JSON
    assert refused.json()["type"] == "urn:aftersales:problem:forbidden"

    anonymous = await desk.search({})
    assert anonymous.status_code == 401
    assert anonymous.headers["content-type"] == PROBLEM_JSON
    assert anonymous.headers["www-authenticate"] == "Bearer"
