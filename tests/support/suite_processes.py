"""The whole suite as an operator runs it: each of the five services a real ``aftersales
serve`` process on its own port (optionally two of each, sharing databases and queues), on
fresh PostgreSQL databases and an exchange and queues no one else uses.

The end-to-end scenarios and fault runs drive it only through HTTP; the support here can
SIGKILL and restart any process, and count what is left in outboxes and dead-letter queues.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import aio_pika
import asyncpg
import httpx

from shared.auth.tokens import issue_local_token
from shared.cli.suite import SERVICE_NAMES, load_definition
from shared.db.engine import create_engine, create_session_factory
from shared.db.unit_of_work import UnitOfWork
from shared.messaging.topology import ServiceQueues
from shared.settings import AuthSettings, BrokerSettings
from tests.support.broker import isolated_broker_settings, remove_broker_objects
from tests.support.databases import DatabaseFactory, _asyncpg_dsn
from tests.support.processes import AFTERSALES, free_port, suite_environment
from tests.support.waiting import eventually

# Timings that make the slow parts of the lifecycle (retries of the unassigned queue,
# adjudication, the supplier's dispute window) happen within a test's patience.
FAST_TIMINGS = {
    "DISPATCH_RETRY_UNASSIGNED_SECONDS": "1",
    "DISPATCH_MONITOR_SECONDS": "2",
    "CLAIMS_ADJUDICATE_EVERY_SECONDS": "0.5",
    "CLAIMS_SUPPLIER_DISPUTE_DAYS": "0",
}
# Every staff role but the read-only auditor: the scenarios act as whoever must act.
ALL_STAFF = [
    "admin", "intake_agent", "dispatcher", "warehouse", "claims_adjuster", "billing_clerk",
    "manager", "general_manager",
]  # fmt: skip


@dataclass
class ServiceProcess:
    service: str
    instance: int
    port: int
    env: dict[str, str]
    log: Path
    process: subprocess.Popen[bytes] | None = None
    kills: int = 0
    # Out of the clients' rotation while it is being killed and restarted: the faults are
    # aimed at event handling and relaying, not at a client's half-sent HTTP call (whose
    # retry would be the client's business, not the suite's).
    in_rotation: bool = True
    in_flight: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [*AFTERSALES, "serve", self.service, "--no-migrate"],
                env=self.env,
                cwd=self.log.parent,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def kill(self) -> None:
        """SIGKILL: no shutdown, no goodbye to the broker or the database."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)
            self.kills += 1

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)

    def ready(self) -> bool:
        try:
            return httpx.get(f"{self.url}/ready", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False


@dataclass
class Suite:
    """A running suite; ``client(service)`` speaks to its instances in turn."""

    broker: BrokerSettings
    auth: AuthSettings
    database_urls: dict[str, str]
    processes: dict[str, list[ServiceProcess]]
    _turns: dict[str, itertools.count[int]] = field(default_factory=dict)

    def urls(self, service: str) -> list[str]:
        return [p.url for p in self.processes[service]]

    def next_process(self, service: str) -> ServiceProcess:
        turn = next(self._turns.setdefault(service, itertools.count()))
        live = [p for p in self.processes[service] if p.in_rotation]
        group = live or self.processes[service]
        return group[turn % len(group)]

    def next_url(self, service: str) -> str:
        return self.next_process(service).url

    @contextmanager
    def lease(self, service: str) -> Iterator[str]:
        """A base URL for one call; the process is not killed while the call is on it."""
        process = self.next_process(service)
        process.in_flight += 1
        try:
            yield process.url
        finally:
            process.in_flight -= 1

    def token(self, *roles: str, subject: str = "e2e") -> str:
        return issue_local_token(
            self.auth, subject, list(roles or ALL_STAFF), ttl=timedelta(hours=2)
        )

    def headers(self, *roles: str, subject: str = "e2e") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(*roles, subject=subject)}"}

    def all_processes(self) -> list[ServiceProcess]:
        return [p for group in self.processes.values() for p in group]

    def wait_ready(self, within: float = 90.0) -> None:
        deadline = time.monotonic() + within
        waiting = self.all_processes()
        while waiting:
            waiting = [p for p in waiting if not p.ready()]
            for p in waiting:
                if p.process is not None and p.process.poll() is not None:
                    raise RuntimeError(
                        f"{p.service}#{p.instance} exited: {p.log.read_text()[-3000:]}"
                    )
            if waiting and time.monotonic() > deadline:
                raise RuntimeError(f"not ready: {[(p.service, p.instance) for p in waiting]}")
            time.sleep(0.2)

    async def kill_and_restart(self, process: ServiceProcess, down_for: float = 0.5) -> None:
        """SIGKILL one process (after the clients stopped sending it calls) and start it
        again; back in the rotation once it answers ready."""
        process.in_rotation = False
        try:
            # Calls already sent finish first.
            await eventually(lambda: process.in_flight == 0, within=30, what="calls finished")
            process.kill()
            await asyncio.sleep(down_for)
            process.start()
            deadline = time.monotonic() + 60
            while not await asyncio.to_thread(process.ready):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{process.service}#{process.instance} did not come back")
                await asyncio.sleep(0.2)
        finally:
            process.in_rotation = True

    def stop(self) -> None:
        for p in self.all_processes():
            p.stop()

    async def outbox_backlog(self) -> dict[str, int]:
        """Rows each service's relay has not yet published."""
        counts = {}
        for service, url in self.database_urls.items():
            connection = await asyncpg.connect(_asyncpg_dsn(url))
            try:
                counts[service] = int(
                    await connection.fetchval(
                        "SELECT count(*) FROM outbox WHERE published_at IS NULL"
                    )
                )
            finally:
                await connection.close()
        return counts

    async def outbox_pending(self, service: str) -> list[asyncpg.Record]:
        return await self.sql(
            service,
            "SELECT event_type, attempts, last_error, created_at, next_attempt_at FROM outbox"
            " WHERE published_at IS NULL ORDER BY id LIMIT 20",
        )

    async def dead_letters(self) -> dict[str, int]:
        connection = await aio_pika.connect(self.broker.amqp_url, timeout=10)
        try:
            channel = await connection.channel()
            counts = {}
            for service in SERVICE_NAMES:
                queues = ServiceQueues.for_service(service, self.broker)
                queue = await channel.declare_queue(queues.dead_letter, passive=True)
                counts[service] = queue.declaration_result.message_count or 0
            return counts
        finally:
            await connection.close()

    async def sql(self, service: str, query: str, *args: Any) -> list[asyncpg.Record]:
        """Read a service's own tables, to compare the final state (never to drive it)."""
        connection = await asyncpg.connect(_asyncpg_dsn(self.database_urls[service]))
        try:
            return list(await connection.fetch(query, *args))
        finally:
            await connection.close()


async def seed_demo_data(database_urls: dict[str, str], services: tuple[str, ...]) -> None:
    """What ``aftersales seed --demo`` loads, for the services named."""
    for service in services:
        seed = load_definition(service).seed_demo
        if seed is None:
            continue
        engine = create_engine(database_urls[service])
        try:
            await seed(UnitOfWork(create_session_factory(engine)))
        finally:
            await engine.dispose()


@contextmanager
def running_suite(
    amqp_url: str,
    admin_database_url: str,
    directory: Path,
    instances: int = 1,
    run_tag: str = "e2e",
    extra_env: dict[str, str] | None = None,
    prepare: Callable[[Suite], None] | None = None,
    retry_delays: str = "0.5,2,5,10",
    prefetch: int = 4,
) -> Iterator[Suite]:
    """Fresh databases and broker names, the services started, the demo data loaded
    (dispatch's staff is the scenario's own: ``prepare`` puts it in over HTTP)."""
    # Retries long enough to ride out a restarted database or a crowded one; a prefetch and
    # a small pool per process, so that two instances of every service stay well within
    # PostgreSQL's 100 connections.
    broker = isolated_broker_settings(
        amqp_url, EVENTS_RETRY_DELAYS=retry_delays, EVENTS_PREFETCH=prefetch
    )
    auth = AuthSettings(local_key_file=directory / "signing-key.pem")
    issue_local_token(auth, "setup", ["admin"])  # creates the key the services verify with
    factory = DatabaseFactory(admin_database_url, run_tag)
    database_urls = {
        service: asyncio.run(factory.migrated(load_definition(service).migrations_dir, service))
        for service in SERVICE_NAMES
    }
    env = suite_environment(
        broker,
        AUTH_LOCAL_KEY_FILE=str(auth.local_key_file),
        EVENTS_QUEUE_TYPE=os.environ.get("EVENTS_QUEUE_TYPE", "quorum"),
        EVENTS_PREFETCH=str(prefetch),
        **FAST_TIMINGS,
        **{f"{s.upper()}_DATABASE_URL": url for s, url in database_urls.items()},
        **{f"{s.upper()}_DATABASE_POOL_SIZE": "6" for s in database_urls},
        **(extra_env or {}),
    )
    processes: dict[str, list[ServiceProcess]] = {}
    for service in SERVICE_NAMES:
        for instance in range(instances):
            port = free_port()
            log = directory / f"{service}-{instance}.log"
            processes.setdefault(service, []).append(
                ServiceProcess(
                    service, instance, port, {**env, f"{service.upper()}_PORT": str(port)}, log
                )
            )
    suite = Suite(broker, auth, database_urls, processes)
    try:
        for p in suite.all_processes():
            p.start()
        suite.wait_ready()
        asyncio.run(seed_demo_data(database_urls, ("intake", "parts", "claims", "billing")))
        if prepare is not None:
            prepare(suite)
        yield suite
    finally:
        suite.stop()
        asyncio.run(remove_broker_objects(broker, [*SERVICE_NAMES, "probe"]))
        asyncio.run(factory.drop_all())
