"""Starting services: one (``serve``), all five (``run``), or a relay alone (``relay``)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import aio_pika
import uvicorn
import yarl

from shared.cli.suite import SERVICE_NAMES, app_factory_path, load_definition
from shared.db.migrations import upgrade_to_head
from shared.messaging.relay import relay_running
from shared.observability.logs import configure_logging
from shared.service import ServiceDefinition
from shared.settings import BrokerSettings, SuiteSettings

LOG_DIR = Path("data/logs")


def migrate_when_reachable(
    definition: ServiceDefinition, settings: SuiteSettings, timeout: float = 60.0
) -> None:
    """The pre-start step: wait for the database, then migrate it."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            upgrade_to_head(definition.migrations_dir, settings.service.database_url)
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(1.0)


def serve(service: str, migrate: bool = True) -> int:
    definition = load_definition(service)
    settings = definition.settings_from_env()
    configure_logging(service, settings.service.log_level)
    if migrate:
        migrate_when_reachable(definition, settings)
    if settings.service.workers > 1:
        # Each worker process writes its metrics to files that /metrics adds up; files of an
        # earlier run would count twice, so the directory starts empty.
        directory = Path(
            os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", f"data/prometheus/{service}")
        )
        shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir(parents=True)
    uvicorn.run(
        app_factory_path(service),
        **server_options(settings.service.host, settings.service.port, settings.service.workers),
    )
    return 0


def server_options(host: str, port: int, workers: int) -> dict[str, object]:
    """How every service is served; the benchmark serves its bare endpoint the same way."""
    return {
        "factory": True,
        "host": host,
        "port": port,
        "workers": workers,
        # Named rather than "auto": without uvloop or httptools (both come with
        # ``uvicorn[standard]``) uvicorn would quietly fall back to asyncio's loop and h11,
        # which cost more CPU per request; a missing one should stop the start.
        "loop": "uvloop",
        "http": "httptools",
        "log_config": None,
        # The request-context middleware writes one line per request, with its correlation id.
        "access_log": False,
        "timeout_graceful_shutdown": 10,
    }


def _safe_url(url: str) -> str:
    parsed = yarl.URL(url)
    return str(parsed.with_password("***")) if parsed.password else url


async def _broker_reachable(url: str) -> bool:
    # The launcher says what is wrong in its own words; the client library would add its own.
    for name in ("aiormq", "aio_pika"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    try:
        connection = await aio_pika.connect(url, timeout=3)
    except Exception:
        return False
    await connection.close()
    return True


def _healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1) as answer:
            return bool(answer.status == 200)
    except OSError:
        return False


def _stop(processes: dict[str, subprocess.Popen[bytes]]) -> None:
    for process in processes.values():
        if process.poll() is None:
            process.terminate()
    deadline = time.monotonic() + 15
    for process in processes.values():
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        if process.poll() is None:
            process.kill()


def run_suite() -> int:
    broker = BrokerSettings()
    if not asyncio.run(_broker_reachable(broker.amqp_url)):
        print(
            f"RabbitMQ is not reachable at {_safe_url(broker.amqp_url)}: start one with "
            "`rabbitmq-server -detached` (or `docker compose up -d rabbitmq`), or set AMQP_URL.",
            file=sys.stderr,
        )
        return 2

    definitions = {name: load_definition(name) for name in SERVICE_NAMES}
    ports = {}
    for name, definition in definitions.items():
        settings = definition.settings_from_env()
        migrate_when_reachable(definition, settings)
        ports[name] = settings.service.port

    LOG_DIR.mkdir(parents=True, exist_ok=True)
    processes: dict[str, subprocess.Popen[bytes]] = {}
    stop_requested = False

    def request_stop(*_: object) -> None:
        nonlocal stop_requested
        stop_requested = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    try:
        for name in SERVICE_NAMES:
            log_file = (LOG_DIR / f"{name}.log").open("ab")
            processes[name] = subprocess.Popen(
                [sys.executable, "-m", "shared.cli.main", "serve", name, "--no-migrate"],
                stdout=log_file,
                stderr=subprocess.STDOUT,
                # Ctrl-C reaches this launcher only; it stops the services in order.
                start_new_session=True,
            )
        deadline = time.monotonic() + 60
        waiting = set(SERVICE_NAMES)
        while waiting and not stop_requested:
            for name in list(waiting):
                if processes[name].poll() is not None:
                    print(
                        f"{name} stopped while starting; see {LOG_DIR / name}.log", file=sys.stderr
                    )
                    return 1
                if _healthy(ports[name]):
                    waiting.discard(name)
            if time.monotonic() > deadline:
                print(f"not up after 60 s: {', '.join(sorted(waiting))}", file=sys.stderr)
                return 1
            time.sleep(0.2)
        if stop_requested:
            return 0

        print("aftersales is running:")
        for name in SERVICE_NAMES:
            url = f"http://127.0.0.1:{ports[name]}"
            print(f"  {name:<9} {url}   docs {url}/docs")
        print(f"Logs: {LOG_DIR}/<service>.log   Token: aftersales token --role admin")
        print("Ctrl-C stops everything.", flush=True)
        while not stop_requested:
            for name, process in processes.items():
                if process.poll() is not None:
                    print(
                        f"{name} exited ({process.returncode}); stopping the suite; see "
                        f"{LOG_DIR / name}.log",
                        file=sys.stderr,
                    )
                    return 1
            time.sleep(0.5)
        print("stopping…", flush=True)
        return 0
    finally:
        _stop(processes)


def run_relay(service: str) -> int:
    """The relay as its own process, for deployments that scale it apart from the API."""
    definition = load_definition(service)
    settings = definition.settings_from_env()
    configure_logging(f"{service}-relay", settings.service.log_level)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        async with relay_running(service, settings.service.database_url, settings.broker):
            await stop.wait()

    asyncio.run(main())
    return 0
