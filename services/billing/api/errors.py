"""Turning the commands' refusals into problem answers."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TypeVar

from services.billing.commands.errors import Conflict, Invalid, NotFound, NotPermitted
from shared.http.problems import Problem

T = TypeVar("T")


async def answer(work: Awaitable[T]) -> T:
    try:
        return await work
    except NotFound as exc:
        raise Problem(404, "Not Found", f"No {exc}.") from exc
    except NotPermitted as exc:
        raise Problem(403, "Forbidden", str(exc), type_="urn:aftersales:problem:forbidden") from exc
    except Invalid as exc:
        raise Problem(
            422,
            "Unprocessable Content",
            str(exc),
            type_="urn:aftersales:problem:validation",
            errors=[{"field": exc.field, "message": str(exc)}],
        ) from exc
    except Conflict as exc:
        extra = {"allowed": exc.allowed} if exc.allowed is not None else {}
        raise Problem(
            409, "Conflict", str(exc), type_="urn:aftersales:problem:billing-conflict", **extra
        ) from exc
