"""Fixtures every tier shares: the real servers, fresh databases, isolated broker names,
and staff tokens."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import timedelta

import pytest

from shared.auth.tokens import issue_local_token
from shared.cli.suite import SERVICE_NAMES
from shared.settings import AuthSettings, BrokerSettings
from tests.support.broker import isolated_broker_settings, remove_broker_objects
from tests.support.databases import DatabaseFactory
from tests.support.servers import Servers, real_servers

RUN_TAG = uuid.uuid4().hex[:8]


@pytest.fixture(scope="session")
def servers() -> Iterator[Servers]:
    with real_servers() as found:
        yield found


@pytest.fixture
async def databases(servers: Servers) -> AsyncIterator[DatabaseFactory]:
    factory = DatabaseFactory(servers.admin_database_url, RUN_TAG)
    yield factory
    await factory.drop_all()


@pytest.fixture
async def broker(servers: Servers) -> AsyncIterator[BrokerSettings]:
    settings = isolated_broker_settings(servers.amqp_url)
    yield settings
    await remove_broker_objects(settings, [*SERVICE_NAMES, "probe"])


@pytest.fixture(scope="session")
def auth(tmp_path_factory: pytest.TempPathFactory) -> AuthSettings:
    return AuthSettings(local_key_file=tmp_path_factory.mktemp("auth") / "signing-key.pem")


@pytest.fixture(scope="session")
def staff_headers(auth: AuthSettings) -> Callable[..., dict[str, str]]:
    def headers(*roles: str, subject: str = "tester") -> dict[str, str]:
        token = issue_local_token(auth, subject, list(roles), ttl=timedelta(hours=1))
        return {"Authorization": f"Bearer {token}"}

    return headers
