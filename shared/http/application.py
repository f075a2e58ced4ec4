"""The FastAPI application every service is: FastAPI's own, with an ASGI stack three layers
shorter when those layers have nothing to do."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.middleware.asyncexitstack import AsyncExitStackMiddleware
from starlette.middleware.exceptions import ExceptionMiddleware
from starlette.types import ASGIApp

from shared.http.middleware import RequestContextMiddleware


class ServiceApplication(FastAPI):
    """FastAPI wraps every request in, outermost first: an error middleware sending a 500
    for an exception that escapes everything else, an OpenTelemetry exception observer and
    an application-wide body limit, then the app's own middleware, the exception handlers
    and an exit stack. In a service the first three have nothing to do: the request-context
    middleware (``shared.http.middleware``) already answers an unexpected error with a bare
    500 and logs it, OpenTelemetry is off (``shared.service.build_app``) and the body limit
    is that middleware's. Each layer is one more coroutine on every request, resumed again
    at every database round trip of the route, so they are left out, and only then:
    without the request-context middleware, with a handler for 500, a debug app, FastAPI's
    own body limit or its telemetry on, the stack is FastAPI's."""

    def build_middleware_stack(self) -> ASGIApp:
        telemetry = self._telemetry
        if (
            not any(m.cls is RequestContextMiddleware for m in self.user_middleware)
            or self.debug
            or self.max_body_size is not None
            or any(key in (500, Exception) for key in self.exception_handlers)
            or telemetry["tracing"]
            or telemetry["metrics"]
            or telemetry["logs"]
        ):
            return super().build_middleware_stack()
        app: ASGIApp = AsyncExitStackMiddleware(self.router)
        app = ExceptionMiddleware(app, handlers=dict(self.exception_handlers), debug=False)
        for cls, args, kwargs in reversed(self.user_middleware):
            app = cls(app, *args, **kwargs)
        return app
