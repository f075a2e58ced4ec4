"""Route matching that skips included routers by their literal prefix answers exactly as
FastAPI's own matching does, and does not try the routes of a router the path is outside."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute
from starlette.routing import Match
from starlette.types import Scope

from shared.http.routing import skip_routers_by_prefix


class _CountedRoute(APIRoute):
    """An APIRoute that counts how often its pattern was tried."""

    tried: list[str]

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        _CountedRoute.tried.append(self.path)
        return super().matches(scope)


def _app(skip: bool) -> FastAPI:
    _CountedRoute.tried = []
    requests = APIRouter(prefix="/api/v1/service-requests", route_class=_CountedRoute)

    @requests.get("/search")
    async def search() -> dict[str, str]:
        return {"found": "search"}

    @requests.get("/{request_no}")
    async def one(request_no: str) -> dict[str, str]:
        return {"found": request_no}

    surveys = APIRouter(prefix="/api/v1", route_class=_CountedRoute)

    @surveys.post("/service-requests/{request_no}/survey")
    async def survey(request_no: str) -> dict[str, str]:
        return {"survey": request_no}

    @surveys.get("/surveys/{token}")
    async def token(token: str) -> dict[str, str]:
        return {"token": token}

    dealers = APIRouter(prefix="/api/v1/dealer", route_class=_CountedRoute)

    @dealers.post("/repair-reports")
    async def report() -> dict[str, str]:
        return {"report": "new"}

    @dealers.get("/repair-reports/{request_no}")
    async def read(request_no: str) -> dict[str, str]:
        return {"report": request_no}

    app = FastAPI()

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    for router in (requests, surveys, dealers):
        app.include_router(router)
    if skip:
        skip_routers_by_prefix(app)
    return app


CALLS: list[tuple[str, str]] = [
    ("GET", "/health"),
    ("GET", "/api/v1/service-requests/search"),
    ("GET", "/api/v1/service-requests/SR-1"),
    ("POST", "/api/v1/service-requests/SR-1/survey"),
    ("GET", "/api/v1/service-requests/SR-1/survey"),  # 405: only POST
    ("GET", "/api/v1/surveys/t0k3n"),
    ("POST", "/api/v1/dealer/repair-reports"),
    ("GET", "/api/v1/dealer/repair-reports"),  # 405
    ("GET", "/api/v1/dealer/repair-reports/SR-9"),
    ("GET", "/api/v1/dealer/repair-reports/SR-9/"),  # redirect to the path without "/"
    ("GET", "/api/v1/nothing-here"),  # 404
    ("GET", "/api/v1/service-requests"),  # 404: no route for the bare prefix
]


async def _answers(app: FastAPI) -> list[tuple[int, str, str | None]]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        answers = []
        for method, path in CALLS:
            response = await client.request(method, path)
            answers.append((response.status_code, response.text, response.headers.get("allow")))
        return answers


async def test_answers_are_those_of_fastapis_own_matching() -> None:
    assert await _answers(_app(skip=True)) == await _answers(_app(skip=False))


async def _tried_for(app: FastAPI, method: str, path: str, **kwargs: Any) -> list[str]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        _CountedRoute.tried = []
        response = await client.request(method, path, **kwargs)
        assert response.status_code == 200, response.text
        return list(_CountedRoute.tried)


async def test_routes_of_a_router_the_path_is_outside_are_not_tried() -> None:
    tried = await _tried_for(_app(skip=True), "POST", "/api/v1/dealer/repair-reports")
    assert set(tried) == {"/api/v1/dealer/repair-reports"}
    # FastAPI's own matching tries the earlier routers' routes first.
    tried = await _tried_for(_app(skip=False), "POST", "/api/v1/dealer/repair-reports")
    assert "/api/v1/service-requests/{request_no}" in tried


async def test_routers_sharing_a_prefix_are_still_tried_in_order() -> None:
    # "/api/v1/s" is all the survey routes share: a service-request path is inside it.
    tried = await _tried_for(_app(skip=True), "POST", "/api/v1/service-requests/SR-1/survey")
    assert tried[:2] == ["/api/v1/service-requests/search", "/api/v1/service-requests/{request_no}"]
