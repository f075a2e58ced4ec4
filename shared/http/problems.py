"""Errors as ``application/problem+json`` (RFC 9457), for every kind of failure."""

from __future__ import annotations

import re
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, ProgrammingError
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM_JSON = "application/problem+json"
# RFC 9110's names where Python's HTTPStatus still has the older ones.
_TITLES = {413: "Content Too Large", 422: "Unprocessable Content"}


class Problem(Exception):
    """A refusal the domain or API means to give, with a stable machine-readable type."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str | None = None,
        type_: str = "about:blank",
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail or title)
        self.status = status
        self.title = title
        self.detail = detail
        self.type = type_
        self.headers = headers
        self.extra = extra


def problem_response(
    status: int,
    title: str | None = None,
    detail: str | None = None,
    type_: str = "about:blank",
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": type_,
        "title": title or _TITLES.get(status) or HTTPStatus(status).phrase,
        "status": status,
    }
    if detail:
        body["detail"] = detail
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def field_errors(exc: RequestValidationError) -> list[dict[str, str]]:
    """Every bad field, named the way a client wrote it: ``customer.phone``, ``query.limit``."""
    errors = []
    for error in exc.errors():
        location = [str(part) for part in error.get("loc", ())]
        message = str(error.get("msg", "invalid"))
        if error.get("type") == "json_invalid":
            # FastAPI puts the character position where a field name would be.
            position = location[1] if len(location) > 1 else None
            detail = (error.get("ctx") or {}).get("error")
            message = f"{message}: {detail}" if detail else message
            if position is not None:
                message = f"{message} (at character {position})"
            location = ["body"]
        if location and location[0] == "body" and len(location) > 1:
            location = location[1:]
        errors.append({"field": ".".join(location) or "body", "message": message})
    return errors


async def _on_validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return problem_response(
        422,
        "Invalid request",
        "One or more fields are invalid.",
        type_="urn:aftersales:problem:validation",
        errors=field_errors(exc),
    )


async def _on_http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else None
    headers = exc.headers
    if exc.status_code == 405:
        # Starlette names only the first route on the path; several routes may share it.
        headers = {**(headers or {}), "Allow": ", ".join(_allowed_methods(request))}
    return problem_response(exc.status_code, detail=detail, headers=headers)


def _allowed_methods(request: Request) -> list[str]:
    """Every method the path answers, from the app's (cached) OpenAPI description."""
    methods: set[str] = set()
    for template, operations in request.app.openapi().get("paths", {}).items():
        pattern = "[^/]+".join(re.escape(part) for part in re.split(r"\{[^}]+\}", template))
        if re.fullmatch(pattern, request.url.path):
            methods |= {method.upper() for method in operations}
    return sorted(methods)


async def _on_problem(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Problem)
    return problem_response(
        exc.status, exc.title, exc.detail, exc.type, headers=exc.headers, **exc.extra
    )


def _sqlstate(exc: BaseException) -> str:
    # asyncpg's errors reach us wrapped in SQLAlchemy's generic DBAPIError; the SQLSTATE
    # they carry says what kind of refusal it was.
    orig = getattr(exc, "orig", None)
    return str(getattr(orig, "pgcode", None) or getattr(orig, "sqlstate", None) or "")


def value_refused(exc: BaseException) -> bool:
    """The database refused a value the client sent (SQLSTATE class 22: a NUL character in
    text, a number too large for its column, ...): the client's mistake, not an outage."""
    return isinstance(exc, DataError) or _sqlstate(exc).startswith("22")


def database_unavailable(exc: BaseException) -> bool:
    """The database could not be reached or was busy, as opposed to refusing what we sent
    (a constraint, bad data) or our own bug (bad SQL)."""
    if isinstance(exc, DBAPIError):
        if _sqlstate(exc)[:2] in ("22", "23", "42"):
            return False
        return not isinstance(exc, (IntegrityError, DataError, ProgrammingError))
    # The pool re-raises the driver's own error when it cannot connect at all.
    return isinstance(exc, (ConnectionError, TimeoutError))


async def _on_database_error(request: Request, exc: Exception) -> JSONResponse:
    if value_refused(exc):
        # Validation let it through, the column could not hold it; the transaction was
        # rolled back whole, so nothing was saved.
        return problem_response(
            422,
            "Unprocessable Content",
            "A value cannot be stored: too large for its field, or containing a character "
            "that is not accepted (such as NUL). Nothing was saved.",
            type_="urn:aftersales:problem:unstorable-value",
        )
    if not database_unavailable(exc):
        raise exc
    # The transaction was rolled back whole, so the client can safely send it again.
    return problem_response(
        503,
        "Service Unavailable",
        "The service's database is not reachable at the moment; nothing was saved. "
        "Try again shortly.",
        type_="urn:aftersales:problem:database-unavailable",
        headers={"Retry-After": "5"},
    )


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    app.add_exception_handler(Problem, _on_problem)
    app.add_exception_handler(DBAPIError, _on_database_error)
    app.add_exception_handler(ConnectionError, _on_database_error)
