"""Assembling one service: its routes, and in the lifespan its engine, broker connection,
outbox relay and event consumer. Nothing here runs at import time."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from shared.auth.tokens import TokenVerifier
from shared.db.engine import create_engine, create_session_factory
from shared.db.unit_of_work import UnitOfWork
from shared.heap import startup_objects_frozen
from shared.http import operations
from shared.http.application import ServiceApplication
from shared.http.middleware import RequestContextMiddleware
from shared.http.problems import install_problem_handlers
from shared.http.routing import skip_routers_by_prefix
from shared.messaging.broker import BrokerConnection
from shared.messaging.consumer import EventConsumer, Subscription
from shared.messaging.relay import OutboxRelay
from shared.messaging.retention import purge_handled_inbox
from shared.messaging.topology import ServiceQueues
from shared.observability.logs import configure_logging
from shared.settings import ServiceSettings, SuiteSettings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServiceDefinition:
    name: str
    title: str
    description: str
    routers: Sequence[APIRouter]
    subscriptions: Sequence[Subscription[Any]]
    migrations_dir: Path
    settings_class: type[ServiceSettings]
    # Loads the service's part of the demo data, idempotently; says what it did.
    seed_demo: Callable[[UnitOfWork], Awaitable[str]] | None = None
    # Loops the service runs beside the relay and consumer (e.g. intake's SLA monitor).
    background: Sequence[Callable[[ServiceRuntime], Awaitable[None]]] = ()
    openapi_tags: Sequence[dict[str, str]] = field(default_factory=tuple)

    def settings_from_env(self) -> SuiteSettings:
        return SuiteSettings(self.settings_class())


class ServiceRuntime:
    """What one running service process holds, reachable from routes via ``app.state``."""

    def __init__(self, definition: ServiceDefinition, settings: SuiteSettings) -> None:
        self.service = definition.name
        self.settings = settings
        self.engine: AsyncEngine = create_engine(
            settings.service.database_url,
            pool_size=settings.service.database_pool_size,
            max_overflow=settings.service.database_max_overflow,
        )
        self.sessions: async_sessionmaker[AsyncSession] = create_session_factory(self.engine)
        self.broker = BrokerConnection(
            settings.broker.amqp_url, definition.name, settings.broker.reconnect_max_seconds
        )
        self.queues = ServiceQueues.for_service(definition.name, settings.broker)
        self.relay: OutboxRelay | None = None
        if settings.service.run_relay:
            self.relay = OutboxRelay(definition.name, self.sessions, self.broker, settings.broker)
        self.consumer: EventConsumer | None = None
        if settings.service.run_consumer:
            self.consumer = EventConsumer(
                definition.name,
                self.queues,
                settings.broker,
                definition.subscriptions,
                self.unit_of_work,
                self.broker,
            )
        self._tasks: list[asyncio.Task[None]] = []
        self._relay_task: asyncio.Task[None] | None = None
        self._background = definition.background

    def unit_of_work(self) -> UnitOfWork:
        return UnitOfWork(self.sessions, self.relay.wake if self.relay else None)

    async def start(self) -> None:
        self._tasks.append(asyncio.create_task(self.broker.run(), name="broker"))
        if self.relay is not None:
            self._relay_task = asyncio.create_task(self.relay.run(), name="outbox-relay")
            self._tasks.append(self._relay_task)
        self._tasks.append(asyncio.create_task(self._housekeeping(), name="housekeeping"))
        for work in self._background:
            self._tasks.append(asyncio.create_task(work(self), name=getattr(work, "__name__", "")))

    async def stop(self) -> None:
        if self.consumer is not None:
            with contextlib.suppress(Exception):
                await self.consumer.stop()
        if self.relay is not None:
            self.relay.stop()
            if self._relay_task is not None:
                # Its pass ends by itself (bounded): cancelled inside a database call, the
                # driver's clean-up of the connection can outlive the engine (seen with
                # aiosqlite) and then hangs the event loop's close for ever.
                await asyncio.wait({self._relay_task}, timeout=5)
        await self.broker.close()
        for task in self._tasks:
            task.cancel()
        # Bounded: a stop must never hang on a task that missed its cancellation.
        _done, stuck = await asyncio.wait(self._tasks, timeout=5)
        for task in stuck:
            log.warning("task did not stop in time", extra={"task": task.get_name()})
        await self.engine.dispose()

    async def _housekeeping(self) -> None:
        """Keep the consumer consuming, refresh the dead-letter gauge, purge old inbox ids."""
        loop = asyncio.get_running_loop()
        last_purge = 0.0
        while True:
            await asyncio.sleep(5.0)
            try:
                if self.consumer is not None:
                    await self.consumer.ensure_consuming()
                    await self.consumer.refresh_dead_letter_gauge()
                if loop.time() - last_purge >= 600.0:
                    await purge_handled_inbox(
                        self.sessions, timedelta(days=self.settings.broker.inbox_retention_days)
                    )
                    last_purge = loop.time()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("housekeeping pass failed", extra={"error": repr(exc)[:300]})


def build_app(definition: ServiceDefinition, settings: SuiteSettings | None = None) -> FastAPI:
    settings = settings or definition.settings_from_env()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(definition.name, settings.service.log_level)
        app.state.token_verifier = TokenVerifier(settings.auth)
        runtime = ServiceRuntime(definition, settings)
        app.state.runtime = runtime
        await runtime.start()
        log.info("service started", extra={"port": settings.service.port})
        try:
            with startup_objects_frozen():
                yield
        finally:
            await runtime.stop()
            log.info("service stopped")

    app = ServiceApplication(
        title=definition.title,
        description=definition.description,
        version="0.1.0",
        lifespan=lifespan,
        openapi_tags=list(definition.openapi_tags) or None,
        # The suite observes itself with Prometheus metrics and JSON logs, not OpenTelemetry:
        # FastAPI's own OpenTelemetry bridge, on by default, asks on every request whether a
        # tracer, meter or logger provider has been configured since.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    install_problem_handlers(app)
    app.add_middleware(
        RequestContextMiddleware,
        service=definition.name,
        max_body_bytes=settings.http.max_body_bytes,
    )
    app.include_router(operations.router)
    for router in definition.routers:
        app.include_router(router)
    skip_routers_by_prefix(app)
    return app
