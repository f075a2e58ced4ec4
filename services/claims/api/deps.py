"""What claims' routes share: roles, the desk settings, refusals as problems."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

from fastapi import Depends, Request

from services.claims.commands.desk import Desk
from services.claims.commands.errors import Conflict, Invalid, NotFound
from services.claims.domain.claim import IllegalTransition
from services.claims.settings import ClaimsSettings
from shared.auth.dependencies import require_roles
from shared.auth.roles import Role
from shared.auth.tokens import Staff
from shared.http.problems import Problem

# PostgreSQL text cannot hold the NUL character: such input is refused as invalid (422)
# instead of failing in the database.
NO_NUL = r"^[^\x00]*$"

Reader = Annotated[Staff, Depends(require_roles(Role.CLAIMS_ADJUSTER, Role.MANAGER, read=True))]
Adjuster = Annotated[Staff, Depends(require_roles(Role.CLAIMS_ADJUSTER, Role.MANAGER))]
Manager = Annotated[Staff, Depends(require_roles(Role.MANAGER))]


def get_desk(request: Request) -> Desk:
    settings = request.app.state.runtime.settings.service
    assert isinstance(settings, ClaimsSettings)
    return Desk.from_settings(settings)


DeskDep = Annotated[Desk, Depends(get_desk)]


@contextmanager
def refusals(what: str) -> Iterator[None]:
    """The use cases' refusals as problem responses."""
    try:
        yield
    except NotFound as exc:
        raise Problem(404, "Not Found", f"No {what} {exc}.") from exc
    except (IllegalTransition, Conflict) as exc:
        raise Problem(
            409,
            "Conflict",
            str(exc),
            type_="urn:aftersales:problem:illegal-transition",
            allowed=exc.allowed,
        ) from exc
    except Invalid as exc:
        raise Problem(
            422,
            "Invalid request",
            str(exc),
            type_="urn:aftersales:problem:validation",
            errors=[{"field": exc.field, "message": str(exc)}],
        ) from exc
