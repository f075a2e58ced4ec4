"""Where the tests find RabbitMQ and PostgreSQL.

The environment names them (``AMQP_URL``, ``TEST_DATABASE_URL``); otherwise testcontainers
starts them when a Docker engine is present; otherwise the machine's own servers at their
usual local addresses. A server that cannot be reached fails the run: nothing is skipped.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass

import yarl

LOCAL_AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/"
LOCAL_DATABASE_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"


@dataclass(frozen=True)
class Servers:
    amqp_url: str
    # A maintenance database on the server; each test creates and drops its own databases.
    admin_database_url: str


def _docker_engine_present() -> bool:
    try:
        import docker

        docker.from_env(timeout=2).ping()
        return True
    except Exception:
        return False


@contextmanager
def real_servers() -> Iterator[Servers]:
    amqp_url = os.environ.get("AMQP_URL")
    database_url = os.environ.get("TEST_DATABASE_URL")
    with ExitStack() as stack:
        if (amqp_url is None or database_url is None) and _docker_engine_present():
            from testcontainers.postgres import PostgresContainer
            from testcontainers.rabbitmq import RabbitMqContainer

            if amqp_url is None:
                rabbit = stack.enter_context(RabbitMqContainer("rabbitmq:3.13"))
                amqp_url = (
                    f"amqp://guest:guest@{rabbit.get_container_host_ip()}:"
                    f"{rabbit.get_exposed_port(5672)}/"
                )
            if database_url is None:
                postgres = stack.enter_context(PostgresContainer("postgres:16", driver="asyncpg"))
                database_url = postgres.get_connection_url()
        servers = Servers(
            amqp_url=amqp_url or LOCAL_AMQP_URL,
            admin_database_url=database_url or LOCAL_DATABASE_URL,
        )
        assert_reachable(servers)
        yield servers


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=3):
            return True
    except OSError:
        return False


def assert_reachable(servers: Servers) -> None:
    amqp = yarl.URL(servers.amqp_url)
    if not _port_open(amqp.host or "127.0.0.1", amqp.port or 5672):
        raise RuntimeError(
            f"RabbitMQ is not reachable at {amqp.host}:{amqp.port}; start it with "
            "`rabbitmq-server -detached` or set AMQP_URL"
        )
    pg = yarl.URL(servers.admin_database_url.replace("+asyncpg", ""))
    if not _port_open(pg.host or "127.0.0.1", pg.port or 5432):
        raise RuntimeError(
            f"PostgreSQL is not reachable at {pg.host}:{pg.port}; start it with "
            "`pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start` "
            "or set TEST_DATABASE_URL"
        )
