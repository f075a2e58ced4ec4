"""/health, /ready and /metrics, the same on every service."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import text

from shared.observability.metrics import render_metrics

router = APIRouter(tags=["operations"])


@router.get("/health", summary="The process is alive")
async def health(request: Request) -> dict[str, str]:
    return {"status": "ok", "service": request.app.state.runtime.service}


@router.get(
    "/ready",
    summary="The database and the broker are reachable and the consumer is running",
    responses={503: {"description": "Not ready; `checks` says what is missing"}},
)
async def ready(request: Request) -> JSONResponse:
    runtime = request.app.state.runtime
    checks: dict[str, Any] = {"database": await _database_reachable(request)}
    checks["broker"] = runtime.broker.is_connected
    if runtime.consumer is not None:
        # A connection without a consumer (aio-pika #231, #669) must not look healthy.
        checks["consumer"] = runtime.consumer.is_consuming
    ok = all(checks.values())
    return JSONResponse(
        {"status": "ready" if ok else "not_ready", "service": runtime.service, "checks": checks},
        status_code=200 if ok else 503,
    )


async def _database_reachable(request: Request) -> bool:
    runtime = request.app.state.runtime
    try:
        async with asyncio.timeout(runtime.settings.service.ready_timeout_seconds):
            async with runtime.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
        return True
    except Exception:
        return False


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def metrics() -> Response:
    body, content_type = render_metrics()
    return Response(body, media_type=content_type)
