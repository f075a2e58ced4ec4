"""Stopping a real server for a fault test and always bringing it back.

RabbitMQ is stopped with ``rabbitmqctl stop_app`` (the node stays, its listeners and every
connection go), PostgreSQL with ``pg_ctlcluster``. Each is started again in ``finally`` and
the test waits until it answers, so a failing test never leaves the machine without them.
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path


def _run(*command: str) -> None:
    subprocess.run(command, check=True, capture_output=True, timeout=120)


def _wait_for_port(host: str, port: int, within: float = 60.0) -> None:
    deadline = time.monotonic() + within
    while True:
        try:
            with socket.create_connection((host, port), timeout=1):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def _start_rabbitmq() -> None:
    _run("rabbitmqctl", "start_app")
    _run("rabbitmqctl", "await_startup")
    _wait_for_port("127.0.0.1", 5672)


@asynccontextmanager
async def rabbitmq_stopped() -> AsyncIterator[None]:
    await asyncio.to_thread(_run, "rabbitmqctl", "stop_app")
    try:
        yield
    finally:
        await asyncio.to_thread(_start_rabbitmq)


def _postgres_cluster() -> str:
    versions = sorted(p.name for p in Path("/etc/postgresql").iterdir())
    return versions[-1]


def _start_postgres() -> None:
    _run("pg_ctlcluster", "--skip-systemctl-redirect", _postgres_cluster(), "main", "start")
    _wait_for_port("127.0.0.1", 5432)


@asynccontextmanager
async def postgres_stopped() -> AsyncIterator[None]:
    await asyncio.to_thread(
        _run,
        "pg_ctlcluster",
        "--skip-systemctl-redirect",
        _postgres_cluster(),
        "main",
        "stop",
        "--",
        "-m",
        "fast",
    )
    try:
        yield
    finally:
        await asyncio.to_thread(_start_postgres)
