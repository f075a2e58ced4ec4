"""Refusals the use cases give; the routes turn them into problem+json."""

from __future__ import annotations

from shared.http.problems import Problem


def not_found(what: str) -> Problem:
    return Problem(404, "Not Found", what)


def conflict(detail: str, **extra: object) -> Problem:
    return Problem(409, "Conflict", detail, type_="urn:aftersales:problem:conflict", **extra)


def invalid(field: str, message: str) -> Problem:
    """A field that is well-formed but wrong, reported like the validation errors."""
    return Problem(
        422,
        "Invalid request",
        "One or more fields are invalid.",
        type_="urn:aftersales:problem:validation",
        errors=[{"field": field, "message": message}],
    )
