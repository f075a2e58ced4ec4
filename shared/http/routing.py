"""Route matching that skips, in one string comparison, every included router whose routes
cannot match the request's path.

FastAPI (0.165) keeps each ``include_router`` as one entry of the app's routes and, for each
request, asks every entry in turn; an entry tries each of its routes' patterns, setting and
restoring scope keys around each try. With intake's eleven routers that walk cost more CPU
than the rest of the framework's work on a request (``bench/http_overhead.py``). A route's
pattern is anchored and begins with the literal text of its path up to the first parameter,
so a path that does not start with the literal text all of a router's routes share cannot
match any of them, fully or partly (another method): skipping that router answers exactly
what trying it would.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute, _IncludedRouter, iter_route_contexts
from starlette._utils import get_route_path
from starlette.routing import Match
from starlette.types import Scope


@dataclass
class _LiteralPrefixedRouter(_IncludedRouter):
    """An included router that answers ``Match.NONE`` at once for a path outside its
    literal prefix, and otherwise matches as FastAPI's own does."""

    literal_prefix: str = ""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if not get_route_path(scope).startswith(self.literal_prefix):
            return Match.NONE, {}
        return super().matches(scope)


def _literal_prefix(paths: list[str]) -> str:
    """The longest text every path starts with, none of it inside a ``{parameter}``."""
    # Character by character, not by path segment: "/api/v1/s" is a valid answer for
    # "/api/v1/service-requests/..." and "/api/v1/surveys/...".
    literals = [path.split("{", 1)[0] for path in paths]
    prefix = min(literals, key=len)
    for literal in literals:
        while not literal.startswith(prefix):
            prefix = prefix[:-1]
    return prefix


def skip_routers_by_prefix(app: FastAPI) -> None:
    """Replace each of the app's included routers by one that skips foreign paths. Called
    once all routers are included; a router whose routes are not all plain paths (a mount,
    a websocket, a nested router) is left as it is."""
    routes: list[Any] = app.router.routes
    for index, route in enumerate(routes):
        if type(route) is not _IncludedRouter:
            continue
        contexts = list(iter_route_contexts([route]))
        if not contexts or not all(isinstance(c.original_route, APIRoute) for c in contexts):
            continue
        paths = [str(context.path) for context in contexts]
        routes[index] = _LiteralPrefixedRouter(
            original_router=route.original_router,
            include_context=route.include_context,
            literal_prefix=_literal_prefix(paths),
        )
    app.router._mark_routes_changed()
