"""Staff authentication and roles on the real intake app: the embedded local key and an
outside provider's JWKS."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from services.intake.app import DEFINITION as INTAKE
from shared.auth.tokens import issue_local_token
from shared.settings import AuthSettings, BrokerSettings
from tests.support.databases import migrated_sqlite
from tests.support.services import RunningService, running_service

URL = "/api/v1/service-requests"
PROBLEM_JSON = "application/problem+json"
REQUEST = {
    "channel": "web",
    "customer": {"name": "李娜", "phone": "13900139000"},
    "product": {"model": "WX-300", "serial_no": "WX300-2025-000042"},
    "fault_description": "不制冷",
}
Headers = Callable[..., dict[str, str]]


@pytest.fixture
async def database_url(tmp_path: Path) -> str:
    url = await migrated_sqlite(INTAKE, tmp_path)
    return url


@pytest.fixture
async def intake(
    database_url: str, broker: BrokerSettings, auth: AuthSettings
) -> AsyncIterator[RunningService]:
    async with running_service(INTAKE, database_url, broker, auth) as service:
        yield service


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_unauthorized(response: httpx.Response) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.headers["content-type"] == PROBLEM_JSON
    problem = response.json()
    assert problem["status"] == 401
    assert problem["title"] == "Unauthorized"
    assert problem["type"] == "urn:aftersales:problem:unauthorized"


def assert_forbidden(response: httpx.Response) -> None:
    assert response.status_code == 403, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    assert "www-authenticate" not in response.headers
    problem = response.json()
    assert problem["status"] == 403
    assert problem["title"] == "Forbidden"
    assert problem["type"] == "urn:aftersales:problem:forbidden"


async def test_tokens_that_are_missing_or_not_ours_are_401(
    intake: RunningService, auth: AuthSettings, tmp_path: Path
) -> None:
    client = intake.client
    assert_unauthorized(await client.post(URL, json=REQUEST))
    assert_unauthorized(await client.get(f"{URL}/SR-2026-000001"))
    assert_unauthorized(await client.post(URL, json=REQUEST, headers=bearer("not-a-jwt")))
    assert_unauthorized(await client.post(URL, json=REQUEST, headers=bearer("a.b.c")))

    valid = issue_local_token(auth, "agent-1", ["intake_agent"])
    # The right token under another scheme is not a bearer token.
    response = await client.post(URL, json=REQUEST, headers={"Authorization": f"Basic {valid}"})
    assert_unauthorized(response)

    other_key = AuthSettings(local_key_file=tmp_path / "other" / "signing-key.pem")
    forged = issue_local_token(other_key, "agent-1", ["intake_agent"])
    assert_unauthorized(await client.post(URL, json=REQUEST, headers=bearer(forged)))

    expired = issue_local_token(auth, "agent-1", ["intake_agent"], ttl=timedelta(seconds=-10))
    assert_unauthorized(await client.post(URL, json=REQUEST, headers=bearer(expired)))

    elsewhere = auth.model_copy(update={"audience": "another-system"})
    wrong_audience = issue_local_token(elsewhere, "agent-1", ["intake_agent"])
    assert_unauthorized(await client.post(URL, json=REQUEST, headers=bearer(wrong_audience)))

    stranger = auth.model_copy(update={"issuer": "someone-else"})
    wrong_issuer = issue_local_token(stranger, "agent-1", ["intake_agent"])
    assert_unauthorized(await client.post(URL, json=REQUEST, headers=bearer(wrong_issuer)))

    # Nothing was registered by any of them: the first accepted request is number 1.
    response = await client.post(URL, json=REQUEST, headers=bearer(valid))
    assert response.status_code == 201, response.text
    assert response.json()["request_no"].endswith("-000001")


async def test_roles_decide_who_registers_and_who_reads(
    intake: RunningService, staff_headers: Headers
) -> None:
    client = intake.client
    assert_forbidden(await client.post(URL, json=REQUEST, headers=staff_headers("dispatcher")))
    assert_forbidden(await client.post(URL, json=REQUEST, headers=staff_headers("auditor")))
    assert_forbidden(await client.post(URL, json=REQUEST, headers=staff_headers()))

    by_agent = await client.post(URL, json=REQUEST, headers=staff_headers("intake_agent"))
    assert by_agent.status_code == 201, by_agent.text
    # The refused requests saved nothing.
    assert by_agent.json()["request_no"].endswith("-000001")
    by_admin = await client.post(URL, json=REQUEST, headers=staff_headers("admin"))
    assert by_admin.status_code == 201, by_admin.text
    mixed = await client.post(
        URL, json=REQUEST, headers=staff_headers("dispatcher", "intake_agent")
    )
    assert mixed.status_code == 201, mixed.text

    location = by_agent.headers["location"]
    for role in ("auditor", "intake_agent", "admin"):
        read = await client.get(location, headers=staff_headers(role))
        assert read.status_code == 200, f"{role}: {read.text}"
        assert read.json()["customer"]["name"] == "李娜"
    assert_forbidden(await client.get(location, headers=staff_headers("dispatcher")))


# -- an outside provider's JWKS --------------------------------------------------------------

ISSUER = "https://idp.example"
KID = "idp-key-1"


def _rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def provider_key() -> rsa.RSAPrivateKey:
    return _rsa_key()


@pytest.fixture
def jwks_url(provider_key: rsa.RSAPrivateKey) -> Iterator[str]:
    jwk = RSAAlgorithm.to_jwk(provider_key.public_key(), as_dict=True)
    document = json.dumps({"keys": [{**jwk, "kid": KID, "use": "sig", "alg": "RS256"}]}).encode()

    class Jwks(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(document)))
            self.end_headers()
            self.wfile.write(document)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Jwks)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/.well-known/jwks.json"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def provider_token(key: rsa.RSAPrivateKey, kid: str = KID, **overrides: Any) -> str:
    now = datetime.now(UTC)
    claims: dict[str, Any] = {
        "sub": "agent@idp.example",
        "roles": ["intake_agent"],
        "iss": ISSUER,
        "aud": "aftersales",
        "iat": now,
        "exp": now + timedelta(minutes=5),
        **overrides,
    }
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid})


async def test_tokens_from_an_outside_provider(
    database_url: str,
    broker: BrokerSettings,
    jwks_url: str,
    provider_key: rsa.RSAPrivateKey,
    tmp_path: Path,
) -> None:
    settings = AuthSettings(
        jwks_url=jwks_url,
        issuer=ISSUER,
        audience="aftersales",
        local_key_file=tmp_path / "unused" / "signing-key.pem",
    )
    async with running_service(INTAKE, database_url, broker, settings) as intake:
        client = intake.client
        accepted = await client.post(
            URL, json=REQUEST, headers=bearer(provider_token(provider_key))
        )
        assert accepted.status_code == 201, accepted.text

        impostor = provider_token(_rsa_key())  # same kid, another key
        assert_unauthorized(await client.post(URL, json=REQUEST, headers=bearer(impostor)))
        unknown_kid = provider_token(provider_key, kid="not-published")
        assert_unauthorized(await client.post(URL, json=REQUEST, headers=bearer(unknown_kid)))
        wrong_issuer = provider_token(provider_key, iss="https://evil.example")
        assert_unauthorized(await client.post(URL, json=REQUEST, headers=bearer(wrong_issuer)))
        expired = provider_token(provider_key, exp=datetime.now(UTC) - timedelta(minutes=1))
        assert_unauthorized(await client.post(URL, json=REQUEST, headers=bearer(expired)))
        reader = provider_token(provider_key, roles=["auditor"])
        assert_forbidden(await client.post(URL, json=REQUEST, headers=bearer(reader)))
        read = await client.get(accepted.headers["location"], headers=bearer(reader))
        assert read.status_code == 200, read.text

    # The local key plays no part when a provider is configured.
    assert not settings.local_key_file.exists()


async def test_unreachable_provider_is_503_not_the_callers_fault(
    database_url: str, broker: BrokerSettings, provider_key: rsa.RSAPrivateKey, tmp_path: Path
) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    settings = AuthSettings(
        jwks_url=f"http://127.0.0.1:{port}/.well-known/jwks.json",
        issuer=ISSUER,
        audience="aftersales",
        local_key_file=tmp_path / "unused" / "signing-key.pem",
    )
    async with running_service(INTAKE, database_url, broker, settings) as intake:
        answer = await intake.client.post(
            URL, json=REQUEST, headers=bearer(provider_token(provider_key))
        )
    assert answer.status_code == 503, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.headers["retry-after"] == "5"
