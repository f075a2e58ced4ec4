"""A service's ASGI stack: its own middleware, the exception handlers and FastAPI's exit
stack around the router, nothing else; FastAPI's whole stack as soon as one of the left-out
layers would have something to do."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import Request
from fastapi.responses import PlainTextResponse
from starlette.middleware.errors import ServerErrorMiddleware
from starlette.types import ASGIApp

from shared.http.application import ServiceApplication
from shared.http.middleware import RequestContextMiddleware
from shared.http.problems import install_problem_handlers

TELEMETRY_OFF: dict[str, Any] = {"tracing": False, "metrics": False, "logs": False}


def _layers(app: ServiceApplication) -> list[str]:
    layer: ASGIApp = app.build_middleware_stack()
    names = []
    while hasattr(layer, "app"):
        names.append(type(layer).__name__)
        layer = layer.app
    return names


def _service_app(**options: Any) -> ServiceApplication:
    app = ServiceApplication(**{"telemetry": TELEMETRY_OFF, **options})
    install_problem_handlers(app)
    app.add_middleware(RequestContextMiddleware, service="intake", max_body_bytes=1024)

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("secret detail")

    @app.get("/ok")
    async def ok() -> dict[str, bool]:
        return {"ok": True}

    return app


def test_a_services_stack_is_its_middleware_the_handlers_and_the_exit_stack() -> None:
    assert _layers(_service_app()) == [
        "RequestContextMiddleware",
        "ExceptionMiddleware",
        "AsyncExitStackMiddleware",
        "APIRouter",
    ]


def test_fastapis_stack_when_a_left_out_layer_has_work() -> None:
    async def on_500(_request: Request, _exc: Exception) -> PlainTextResponse:
        return PlainTextResponse("down", status_code=500)

    with_handler = _service_app()
    with_handler.add_exception_handler(500, on_500)
    variants = [
        _service_app(telemetry={}),  # OpenTelemetry left on
        _service_app(debug=True),
        _service_app(max_body_size=10),
        with_handler,
        ServiceApplication(telemetry=TELEMETRY_OFF),  # no request-context middleware
    ]
    for app in variants:
        assert _layers(app)[0] == ServerErrorMiddleware.__name__


async def test_an_unexpected_error_is_still_a_bare_500() -> None:
    transport = httpx.ASGITransport(app=_service_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        failed = await client.get("/boom", headers={"X-Correlation-ID": "boom-1"})
        ok = await client.get("/ok")
    assert failed.status_code == 500
    assert failed.json() == {"type": "about:blank", "title": "Internal Server Error", "status": 500}
    assert failed.headers["x-correlation-id"] == "boom-1"
    assert ok.json() == {"ok": True}
