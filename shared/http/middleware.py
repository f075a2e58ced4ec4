"""What wraps every HTTP request: correlation id, body limit, metrics, access log, and a
last guard that turns an unexpected error into a bare 500 (logged, never shown)."""

from __future__ import annotations

import json
import logging
import re
import time
from typing import Any

from fastapi import HTTPException
from prometheus_client import Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.observability.context import correlation_id_var, new_correlation_id
from shared.observability.metrics import HTTP_DURATION, HTTP_REQUESTS

log = logging.getLogger("aftersales.http")

CORRELATION_HEADER = "x-correlation-id"
_CORRELATION_HEADER_RAW = CORRELATION_HEADER.encode()
_ACCEPTABLE_CORRELATION = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")
_QUIET_PATHS = {"/health", "/ready", "/metrics"}


class BodyTooLarge(HTTPException):
    title = "Content Too Large"

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"The request body is larger than {limit} bytes.")


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp, service: str, max_body_bytes: int) -> None:
        self.app = app
        self.service = service
        self.max_body_bytes = max_body_bytes
        # The metrics' children by (method, route template, status): ``labels()`` takes a
        # lock and checks its arguments on every call; these are looked up once.
        self._observers: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        # The two headers this needs, found in one pass over the raw pairs (a later one of
        # the same name wins, as in a dict of them).
        offered_raw = b""
        declared_raw: bytes | None = None
        for name, value in scope["headers"]:
            lowered = name.lower()
            if lowered == _CORRELATION_HEADER_RAW:
                offered_raw = value
            elif lowered == b"content-length":
                declared_raw = value
        offered = offered_raw.decode("latin-1")
        correlation_id = offered if _ACCEPTABLE_CORRELATION.match(offered) else new_correlation_id()
        token = correlation_id_var.set(correlation_id)
        started = time.perf_counter()
        status = 500
        response_started = False

        async def send_with_correlation(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [
                    *message["headers"],
                    (b"x-correlation-id", correlation_id.encode()),
                ]
            await send(message)

        try:
            declared = None if declared_raw is None else declared_raw.decode("latin-1")
            if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
                await self._send_problem(
                    send_with_correlation,
                    413,
                    "Content Too Large",
                    f"The request body is larger than {self.max_body_bytes} bytes.",
                )
                return
            await self.app(scope, self._limited(receive), send_with_correlation)
        except Exception:
            log.exception("unhandled error", extra={"path": scope.get("path")})
            if not response_started:
                await self._send_problem(send_with_correlation, 500, "Internal Server Error", None)
        finally:
            self._observe(scope, status, time.perf_counter() - started)
            correlation_id_var.reset(token)

    def _limited(self, receive: Receive) -> Receive:
        received = 0
        limit = self.max_body_bytes

        async def receive_limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        return receive_limited

    async def _send_problem(self, send: Send, status: int, title: str, detail: str | None) -> None:
        body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status}
        if detail:
            body["detail"] = detail
        payload = json.dumps(body).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/problem+json"),
                    (b"content-length", str(len(payload)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})

    def _observe(self, scope: Scope, status: int, seconds: float) -> None:
        route = scope.get("route")
        # The route template keeps the label set small; unmatched paths share one label.
        template = getattr(route, "path", None) or "unmatched"
        method = scope.get("method", "")
        observers = self._observers.get((method, template, status))
        if observers is None:
            observers = self._observers[(method, template, status)] = (
                HTTP_REQUESTS.labels(self.service, method, template, f"{status // 100}xx"),
                HTTP_DURATION.labels(self.service, method, template),
            )
        observers[0].inc()
        observers[1].observe(seconds)
        path = scope.get("path", "")
        level = logging.DEBUG if path in _QUIET_PATHS else logging.INFO
        if log.isEnabledFor(level):
            # The record made directly: ``log.log`` would also walk the stack to find the
            # caller, which is always this line.
            record = log.makeRecord(
                log.name,
                level,
                __file__,
                _OBSERVE_LINE,
                "%s %s %s",
                (method, path, status),
                None,
                "_observe",
                {"route": template, "status": status, "duration_ms": round(seconds * 1000, 2)},
            )
            log.handle(record)


_OBSERVE_LINE = RequestContextMiddleware._observe.__code__.co_firstlineno
