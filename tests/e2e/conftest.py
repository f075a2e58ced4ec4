"""The running suite the scenarios share: started once per module and size (starting five,
or ten, service processes takes seconds), on its own databases and broker names."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from shared.cli.demo import Desk, put_dispatch_staff
from tests.support.servers import Servers
from tests.support.suite_processes import Suite, running_suite


def prepare_dispatch(suite: Suite) -> None:
    asyncio.run(put_dispatch_staff(desk_for(suite)))


def desk_for(suite: Suite) -> Desk:
    return Desk(suite.next_url, suite.auth)


@pytest.fixture(scope="module", params=[1, 2], ids=["one of each", "two of each"])
def running(
    request: pytest.FixtureRequest, servers: Servers, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Suite]:
    """The suite with one, then two, processes of each service. Module-scoped and
    parametrized, so pytest runs every test on the first before it starts the second, and
    never keeps both (the shared PostgreSQL has few connections to spare)."""
    instances = int(request.param)
    directory: Path = tmp_path_factory.mktemp(f"suite-{instances}")
    with running_suite(
        servers.amqp_url,
        servers.admin_database_url,
        directory,
        instances=instances,
        prepare=prepare_dispatch,
    ) as started:
        yield started
