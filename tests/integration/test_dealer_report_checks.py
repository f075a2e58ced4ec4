"""The order of the checks on a submitted report, whatever takes them: the dealer (signature
401, suspended 403, rate 429) before the Idempotency-Key (400), the key before the body
(422). The route takes the dealer and the key by plain calls, not FastAPI dependencies."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from services.intake.app import DEFINITION as INTAKE
from shared.settings import AuthSettings, BrokerSettings
from tests.support.databases import DatabaseFactory
from tests.support.dealer_client import DealerClient
from tests.support.services import RunningService, running_service

Headers = Callable[..., dict[str, str]]
NOT_JSON = b"{not json"


@pytest.fixture
async def intake(
    databases: DatabaseFactory, broker: BrokerSettings, auth: AuthSettings, tmp_path: Any
) -> AsyncIterator[RunningService]:
    url = await databases.migrated(INTAKE.migrations_dir, "intake")
    async with running_service(
        INTAKE, url, broker, auth, secrets_key_file=tmp_path / "dealer-secrets.key"
    ) as service:
        yield service


async def _dealer(intake: RunningService, admin: dict[str, str], **settings: Any) -> DealerClient:
    created = await intake.client.post(
        "/api/v1/admin/dealers", json={"name": "顺序检查服务站", **settings}, headers=admin
    )
    assert created.status_code == 201, created.text
    body = created.json()
    return DealerClient(intake.client, body["dealer_id"], body["secret"])


async def test_dealer_before_key_before_body(
    intake: RunningService, staff_headers: Headers
) -> None:
    admin = staff_headers("admin")
    dealer = await _dealer(intake, admin, rate_per_second=0.01, burst=2)
    impostor = DealerClient(intake.client, dealer.dealer_id, "not-the-secret")

    assert (await impostor.post_report(NOT_JSON, key=None)).status_code == 401
    assert (await dealer.post_report(NOT_JSON, key=None)).status_code == 400
    assert (await dealer.post_report(NOT_JSON, key="k-1")).status_code == 422
    # The burst of two is spent: the rate is checked before the missing key.
    limited = await dealer.post_report(NOT_JSON, key=None)
    assert limited.status_code == 429 and limited.headers["retry-after"]

    other = await _dealer(intake, admin)
    suspended = await intake.client.post(
        f"/api/v1/admin/dealers/{other.dealer_id}/suspend", headers=admin
    )
    assert suspended.status_code == 200, suspended.text
    assert (await other.post_report(NOT_JSON, key=None)).status_code == 403
