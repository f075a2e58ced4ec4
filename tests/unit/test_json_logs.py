"""The JSON log line: its timestamp exactly as ``datetime.isoformat`` writes it (the text of
the second is made once a second), and what the HTTP middleware's line carries."""

from __future__ import annotations

import json
import logging
import random
from datetime import UTC, datetime

import httpx
from fastapi import FastAPI

from shared.http.middleware import RequestContextMiddleware
from shared.observability.logs import JsonFormatter


def _isoformat(created: float) -> str:
    return datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds")


def test_timestamp_is_datetimes_isoformat_including_rounding_at_the_second() -> None:
    formatter = JsonFormatter("intake")
    edges = [
        1764000000.0,
        1764000000.0005,
        1764000000.9994999,
        1764000000.9999994,
        1764000000.9999995,  # rounds up to the next second
        1764000001.0000004,
        1764000000.9999996,  # back to a second already seen: not the cached one
        0.0,
    ]
    rng = random.Random(10)
    stamps = edges + [rng.uniform(1.7e9, 1.8e9) for _ in range(2000)]
    stamps += [1764000000 + rng.randint(0, 3_000_000) / 1e6 for _ in range(2000)]
    for created in stamps:
        assert formatter.timestamp(created) == _isoformat(created), created


class _Lines(logging.Handler):
    def __init__(self, formatter: logging.Formatter) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(formatter)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


async def test_one_json_line_per_request_with_its_correlation_id() -> None:
    app = FastAPI()

    @app.get("/things/{thing_id}")
    async def thing(thing_id: str) -> dict[str, str]:
        return {"thing": thing_id}

    app.add_middleware(RequestContextMiddleware, service="intake", max_body_bytes=1024)
    lines = _Lines(JsonFormatter("intake"))
    http_log = logging.getLogger("aftersales.http")
    level = http_log.level
    http_log.addHandler(lines)
    http_log.setLevel(logging.INFO)
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            answer = await client.get("/things/7?x=1", headers={"X-Correlation-ID": "c-42"})
            missing = await client.get("/nowhere")
    finally:
        http_log.removeHandler(lines)
        http_log.setLevel(level)

    assert answer.status_code == 200
    assert missing.status_code == 404
    first, second = (json.loads(line) for line in lines.lines)
    assert set(first) == {
        "ts", "level", "service", "logger", "message", "correlation_id", "route", "status",
        "duration_ms",
    }  # fmt: skip
    assert first["level"] == "info"
    assert first["service"] == "intake"
    assert first["logger"] == "aftersales.http"
    assert first["message"] == "GET /things/7 200"
    assert first["correlation_id"] == "c-42"
    assert first["route"] == "/things/{thing_id}"
    assert first["status"] == 200
    assert isinstance(first["duration_ms"], float) and first["duration_ms"] >= 0
    assert second["correlation_id"] == missing.headers["x-correlation-id"]
    assert (second["route"], second["status"]) == ("unmatched", 404)
