"""The HTTP contract every service keeps, checked on the real intake app: problem+json errors
naming every bad field, the body limit (declared and streamed), Chinese text, correlation
ids, a bare 500 for an unexpected error, and the operations endpoints."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest
from fastapi import APIRouter

from services.intake.app import DEFINITION as INTAKE
from services.intake.settings import IntakeSettings
from shared.observability.context import correlation_id_var
from shared.service import ServiceDefinition, build_app
from shared.settings import AuthSettings, BrokerSettings
from tests.support.databases import DatabaseFactory, migrated_sqlite
from tests.support.metrics import sample
from tests.support.services import RunningService, running_service, suite_settings
from tests.support.waiting import eventually

URL = "/api/v1/service-requests"
PROBLEM_JSON = "application/problem+json"
LIMIT = 1024 * 1024  # HttpSettings' default max_body_bytes
REQUEST = {
    "channel": "phone",
    "customer": {"name": "张伟", "phone": "13800138000"},
    "product": {"model": "WX-200", "serial_no": "WX200-2025-000123"},
    "fault_description": "开机无反应",
}
Headers = Callable[..., dict[str, str]]


@pytest.fixture
async def intake(
    tmp_path: Path, broker: BrokerSettings, auth: AuthSettings
) -> AsyncIterator[RunningService]:
    url = await migrated_sqlite(INTAKE, tmp_path)
    async with running_service(INTAKE, url, broker, auth) as service:
        yield service


def assert_problem(response: httpx.Response, status: int) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    problem = response.json()
    assert isinstance(problem, dict)
    assert problem["status"] == status
    assert isinstance(problem["type"], str) and problem["type"]
    assert isinstance(problem["title"], str) and problem["title"]
    return problem


def validation_errors(response: httpx.Response) -> dict[str, str]:
    problem = assert_problem(response, 422)
    assert problem["type"] == "urn:aftersales:problem:validation"
    assert problem["title"] == "Invalid request"
    errors = problem["errors"]
    assert isinstance(errors, list) and errors
    for error in errors:
        assert set(error) == {"field", "message"}
        assert isinstance(error["message"], str) and error["message"]
    by_field = {error["field"]: error["message"] for error in errors}
    assert len(by_field) == len(errors), f"a field is named twice: {errors}"
    return by_field


def assert_uuid(value: str) -> None:
    assert str(uuid.UUID(value)) == value


# -- validation ------------------------------------------------------------------------------


async def test_validation_names_every_bad_field(
    intake: RunningService, staff_headers: Headers
) -> None:
    body = {
        "channel": "fax",
        "customer": {"phone": "12"},
        "fault_description": "开机无反应",
    }
    response = await intake.client.post(URL, json=body, headers=staff_headers("intake_agent"))
    errors = validation_errors(response)
    assert set(errors) == {"channel", "customer.name", "customer.phone", "product"}
    assert "'phone'" in errors["channel"]  # names the values the enum accepts
    assert "3 characters" in errors["customer.phone"]
    assert errors["customer.name"] == "Field required"
    assert errors["product"] == "Field required"


async def test_malformed_json_is_a_validation_problem(
    intake: RunningService, staff_headers: Headers
) -> None:
    response = await intake.client.post(
        URL,
        content=b'{"channel": "phone", "customer": ',
        headers={**staff_headers("intake_agent"), "Content-Type": "application/json"},
    )
    errors = validation_errors(response)
    assert list(errors) == ["body"]  # not the character position as if it were a field
    assert errors["body"].startswith("JSON decode error")
    assert "at character 33" in errors["body"]


async def test_wrong_json_types_are_named(intake: RunningService, staff_headers: Headers) -> None:
    body = {
        **REQUEST,
        "customer": {"name": 123, "phone": "13800138000"},
        "product": ["WX-200", "WX200-2025-000123"],
        "fault_description": 42,
    }
    response = await intake.client.post(URL, json=body, headers=staff_headers("intake_agent"))
    errors = validation_errors(response)
    assert set(errors) == {"customer.name", "product", "fault_description"}
    assert "string" in errors["customer.name"]
    assert "dictionary" in errors["product"] or "object" in errors["product"]

    # A list where the whole object was expected is named as the body itself.
    response = await intake.client.post(URL, json=[REQUEST], headers=staff_headers("intake_agent"))
    assert set(validation_errors(response)) == {"body"}


async def test_unknown_fields_are_refused(intake: RunningService, staff_headers: Headers) -> None:
    body = {
        **REQUEST,
        "priority": "high",
        "customer": {**REQUEST["customer"], "email": "zhang@example.cn"},
    }
    response = await intake.client.post(URL, json=body, headers=staff_headers("intake_agent"))
    errors = validation_errors(response)
    assert set(errors) == {"priority", "customer.email"}
    assert errors["priority"] == "Extra inputs are not permitted"


# -- body limit ------------------------------------------------------------------------------


async def test_body_over_declared_limit_is_413_and_nothing_is_saved(
    intake: RunningService, staff_headers: Headers
) -> None:
    too_big = b"x" * (LIMIT + 1)
    response = await intake.client.post(
        URL,
        content=too_big,
        headers={
            **staff_headers("intake_agent"),
            "Content-Type": "application/json",
            "X-Correlation-ID": "big-1",
        },
    )
    assert response.request.headers["content-length"] == str(LIMIT + 1)
    problem = assert_problem(response, 413)
    assert str(LIMIT) in str(problem["detail"])
    assert problem["title"] == "Content Too Large"
    assert response.headers["x-correlation-id"] == "big-1"

    # Exactly at the limit is allowed, and it is the first request saved.
    exact = json.dumps(REQUEST, ensure_ascii=False).encode()
    exact += b" " * (LIMIT - len(exact))
    assert len(exact) == LIMIT
    response = await intake.client.post(
        URL,
        content=exact,
        headers={**staff_headers("intake_agent"), "Content-Type": "application/json"},
    )
    assert response.status_code == 201, response.text
    assert response.json()["request_no"].endswith("-000001")


async def _chunks(total: int, prefix: bytes = b"") -> AsyncIterator[bytes]:
    yield prefix
    remaining = total - len(prefix)
    while remaining > 0:
        size = min(64 * 1024, remaining)
        remaining -= size
        yield b" " * size


async def test_streamed_body_over_limit_is_413(
    intake: RunningService, staff_headers: Headers
) -> None:
    headers = {**staff_headers("intake_agent"), "Content-Type": "application/json"}
    prefix = json.dumps(REQUEST).encode()
    response = await intake.client.post(URL, content=_chunks(LIMIT + 1, prefix), headers=headers)
    assert "content-length" not in response.request.headers
    assert response.request.headers["transfer-encoding"] == "chunked"
    problem = assert_problem(response, 413)
    assert str(LIMIT) in str(problem["detail"])
    # The same answer whether the size was declared or found out while reading.
    assert problem["title"] == "Content Too Large"
    assert "x-correlation-id" in response.headers

    # The same stream within the limit is read whole and accepted.
    response = await intake.client.post(URL, content=_chunks(LIMIT, prefix), headers=headers)
    assert "content-length" not in response.request.headers
    assert response.status_code == 201, response.text
    assert response.json()["request_no"].endswith("-000001")


# -- text, correlation -----------------------------------------------------------------------


async def test_chinese_text_round_trips(intake: RunningService, staff_headers: Headers) -> None:
    created = await intake.client.post(URL, json=REQUEST, headers=staff_headers("intake_agent"))
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["customer"]["name"] == "张伟"
    assert body["fault_description"] == "开机无反应"
    assert created.headers["location"] == f"{URL}/{body['request_no']}"

    fetched = await intake.client.get(
        created.headers["location"], headers=staff_headers("intake_agent")
    )
    assert fetched.status_code == 200, fetched.text
    assert fetched.json()["customer"]["name"] == "张伟"
    assert fetched.json()["fault_description"] == "开机无反应"
    assert fetched.json()["request_no"] == body["request_no"]


async def test_correlation_id_is_echoed_or_replaced(
    intake: RunningService, staff_headers: Headers
) -> None:
    for offered in ("call-42", "a.b_c:d-E9", "x" * 128):
        response = await intake.client.get("/health", headers={"X-Correlation-ID": offered})
        assert response.headers.get_list("x-correlation-id") == [offered]

    created = await intake.client.post(
        URL, json=REQUEST, headers={**staff_headers("intake_agent"), "X-Correlation-ID": "c-7"}
    )
    assert created.status_code == 201, created.text
    assert created.headers.get_list("x-correlation-id") == ["c-7"]

    generated = set()
    refused: list[str | bytes] = [
        "x" * 129,
        "y" * 200,
        "has spaces",
        "semi;colon",
        "",
        "汉字".encode(),
    ]
    for offered in refused:
        response = await intake.client.get("/health", headers={"X-Correlation-ID": offered})
        [value] = response.headers.get_list("x-correlation-id")
        assert_uuid(value)
        generated.add(value)
    response = await intake.client.get("/health")
    assert_uuid(response.headers["x-correlation-id"])
    generated.add(response.headers["x-correlation-id"])
    assert len(generated) == 7, "each request gets its own generated id"


# -- unexpected error ------------------------------------------------------------------------


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.seen: list[tuple[logging.LogRecord, str | None]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.seen.append((record, correlation_id_var.get()))


async def test_unexpected_error_is_a_bare_logged_500(
    tmp_path: Path, broker: BrokerSettings, auth: AuthSettings
) -> None:
    failing = APIRouter()

    @failing.get("/boom")
    async def boom() -> None:
        raise RuntimeError("secret detail")

    definition = ServiceDefinition(
        name="intake",
        title="failing intake",
        description="intake with a route that fails",
        routers=[failing],
        subscriptions=[],
        migrations_dir=INTAKE.migrations_dir,
        settings_class=IntakeSettings,
    )
    settings = suite_settings(definition, await migrated_sqlite(INTAKE, tmp_path), broker, auth)
    app = build_app(definition, settings)
    records = _Records()
    http_log = logging.getLogger("aftersales.http")
    before = sample(
        "aftersales_http_requests_total",
        service="intake",
        method="GET",
        route="/boom",
        status="5xx",
    )
    http_log.addHandler(records)
    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
                response = await client.get("/boom", headers={"X-Correlation-ID": "boom-1"})
                anonymous = await client.get("/boom")
                health = await client.get("/health")
    finally:
        http_log.removeHandler(records)

    problem = assert_problem(response, 500)
    assert problem == {"type": "about:blank", "title": "Internal Server Error", "status": 500}
    assert "secret detail" not in response.text
    assert "RuntimeError" not in response.text
    assert response.headers["x-correlation-id"] == "boom-1"
    assert assert_problem(anonymous, 500) == problem
    assert_uuid(anonymous.headers["x-correlation-id"])
    # The app keeps serving after the failure.
    assert health.status_code == 200

    # Logged in full, under the request's correlation id.
    logged = [
        (record, correlation)
        for record, correlation in records.seen
        if record.exc_info and isinstance(record.exc_info[1], RuntimeError)
    ]
    assert len(logged) == 2
    record, correlation = logged[0]
    assert str(record.exc_info[1]) == "secret detail"
    assert correlation == "boom-1"
    assert (
        sample(
            "aftersales_http_requests_total",
            service="intake",
            method="GET",
            route="/boom",
            status="5xx",
        )
        == before + 2
    )


# -- operations ------------------------------------------------------------------------------


async def test_health_ready_and_docs(intake: RunningService) -> None:
    health = await intake.client.get("/health")
    assert health.status_code == 200
    assert health.json() == {"status": "ok", "service": "intake"}

    async def ready() -> httpx.Response:
        return await intake.client.get("/ready")

    answer = await eventually(ready, lambda r: r.status_code == 200, within=10, what="/ready 200")
    assert answer.json()["status"] == "ready"
    assert answer.json()["checks"] == {"database": True, "broker": True, "consumer": True}

    openapi = await intake.client.get("/openapi.json")
    assert openapi.status_code == 200
    paths = openapi.json()["paths"]
    assert {URL, f"{URL}/{{request_no}}", "/health", "/ready", "/metrics"} <= set(paths)
    docs = await intake.client.get("/docs")
    assert docs.status_code == 200
    assert docs.headers["content-type"].startswith("text/html")
    assert "swagger-ui" in docs.text


def _lines(text: str, name: str, **labels: str) -> list[str]:
    wanted = [f'{key}="{value}"' for key, value in labels.items()]
    return [
        line
        for line in text.splitlines()
        if line.startswith(name + "{") and all(label in line for label in wanted)
    ]


async def test_metrics_use_route_templates(intake: RunningService, staff_headers: Headers) -> None:
    post_labels = {"service": "intake", "method": "POST", "route": URL, "status": "2xx"}
    get_labels = {
        "service": "intake",
        "method": "GET",
        "route": f"{URL}/{{request_no}}",
        "status": "2xx",
    }
    posts_before = sample("aftersales_http_requests_total", **post_labels)
    gets_before = sample("aftersales_http_requests_total", **get_labels)

    created = await intake.client.post(URL, json=REQUEST, headers=staff_headers("intake_agent"))
    assert created.status_code == 201, created.text
    request_no = created.json()["request_no"]
    fetched = await intake.client.get(f"{URL}/{request_no}", headers=staff_headers("auditor"))
    assert fetched.status_code == 200, fetched.text
    unmatched = await intake.client.get("/no-such-path-7f3a")
    assert_problem(unmatched, 404)

    assert sample("aftersales_http_requests_total", **post_labels) == posts_before + 1
    assert sample("aftersales_http_requests_total", **get_labels) == gets_before + 1

    response = await intake.client.get("/metrics")
    assert response.status_code == 200
    text = response.text
    assert _lines(text, "aftersales_http_requests_total", **post_labels)
    assert _lines(text, "aftersales_http_requests_total", **get_labels)
    assert _lines(text, "aftersales_http_requests_total", route="unmatched", status="4xx")
    # Raw paths never become labels.
    assert request_no not in text
    assert "no-such-path-7f3a" not in text

    buckets = _lines(
        text,
        "aftersales_http_request_duration_seconds_bucket",
        service="intake",
        method="POST",
        route=URL,
    )
    for le in ("0.05", "0.1", "0.25", "0.5", "1.0"):
        assert [line for line in buckets if f'le="{le}"' in line], f"no bucket le={le}"


async def test_unknown_and_malformed_request_numbers(
    intake: RunningService, staff_headers: Headers
) -> None:
    missing = await intake.client.get(
        f"{URL}/SR-2026-999999", headers=staff_headers("intake_agent")
    )
    problem = assert_problem(missing, 404)
    assert problem["title"] == "Not Found"
    assert "SR-2026-999999" in str(problem["detail"])

    malformed = await intake.client.get(f"{URL}/not-a-number", headers=staff_headers("admin"))
    assert set(validation_errors(malformed)) == {"path.request_no"}

    wrong_method = await intake.client.delete(URL, headers=staff_headers("admin"))
    assert_problem(wrong_method, 405)
    # Every method the path answers, though two routes share it.
    assert wrong_method.headers["allow"] == "GET, POST"


async def test_a_value_the_database_cannot_hold_is_a_422_not_an_outage(
    databases: DatabaseFactory, broker: BrokerSettings, auth: AuthSettings, staff_headers: Headers
) -> None:
    """PostgreSQL text cannot hold NUL: the client is told its value was refused (not that
    the database is down, which would invite it to retry for ever), and nothing is saved."""
    url = await databases.migrated(INTAKE.migrations_dir, "intake")
    async with running_service(INTAKE, url, broker, auth) as service:
        agent = staff_headers("intake_agent")
        bad = {**REQUEST, "customer": {"name": "张\u0000伟", "phone": "13800138000"}}
        refused = await service.client.post(URL, json=bad, headers=agent)
        problem = assert_problem(refused, 422)
        assert problem["type"] == "urn:aftersales:problem:unstorable-value"
        assert "retry-after" not in refused.headers
        created = await service.client.post(URL, json=REQUEST, headers=agent)
        assert created.status_code == 201, created.text
        assert created.json()["request_no"].endswith("000001")  # the refused one took nothing
