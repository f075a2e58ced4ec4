"""Route dependencies that admit staff by role: ``Depends(require_roles(Role.DISPATCHER))``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from shared.auth.roles import Role
from shared.auth.tokens import InvalidToken, ProviderUnavailable, Staff, TokenVerifier
from shared.http.problems import Problem

_bearer = HTTPBearer(auto_error=False, description="Staff JWT with a `roles` claim")


def _unauthorized(detail: str) -> Problem:
    return Problem(
        401,
        "Unauthorized",
        detail,
        type_="urn:aftersales:problem:unauthorized",
        headers={"WWW-Authenticate": "Bearer"},
    )


def require_roles(*roles: Role, read: bool = False) -> Callable[..., Awaitable[Staff]]:
    """Admit staff holding one of ``roles``; admins always; auditors too when ``read``."""
    admitted = {str(role) for role in roles} | {Role.ADMIN.value}
    if read:
        admitted.add(Role.AUDITOR.value)

    async def current_staff(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> Staff:
        if credentials is None or credentials.scheme.lower() != "bearer":
            raise _unauthorized("A bearer token is required.")
        verifier: TokenVerifier = request.app.state.token_verifier
        try:
            staff = await verifier.verify(credentials.credentials)
        except InvalidToken as exc:
            raise _unauthorized(f"The token is not valid: {exc}") from exc
        except ProviderUnavailable as exc:
            raise Problem(
                503,
                "Service Unavailable",
                "The identity provider cannot be reached to check the token; try again.",
                type_="urn:aftersales:problem:identity-provider-unavailable",
                headers={"Retry-After": "5"},
            ) from exc
        if not staff.roles & admitted:
            raise Problem(
                403,
                "Forbidden",
                f"This needs one of the roles: {', '.join(sorted(admitted))}.",
                type_="urn:aftersales:problem:forbidden",
            )
        return staff

    return current_staff
