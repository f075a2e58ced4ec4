"""Staff bearer tokens: issued locally for development, or by an OpenID Connect provider.

The embedded default signs ES256 tokens with a key created on first start under ``data/``;
production sets ``AUTH_JWKS_URL`` and only verifies what the provider issued.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from shared.key_files import read_or_create
from shared.settings import AuthSettings

LOCAL_ALGORITHM = "ES256"
PROVIDER_ALGORITHMS = ["RS256", "ES256", "PS256"]


class InvalidToken(Exception):
    pass


class ProviderUnavailable(Exception):
    """The identity provider's keys could not be fetched: not the caller's fault."""


@dataclass(frozen=True)
class Staff:
    """Who is calling, as the token says."""

    subject: str
    roles: frozenset[str]


def ensure_local_key(path: Path) -> ec.EllipticCurvePrivateKey:
    """Load the local signing key, creating it if this is the first start."""

    def new_key() -> bytes:
        return ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    loaded = serialization.load_pem_private_key(read_or_create(path, new_key), password=None)
    if not isinstance(loaded, ec.EllipticCurvePrivateKey):
        raise InvalidToken(f"{path} does not hold an EC private key")
    return loaded


def issue_local_token(
    settings: AuthSettings, subject: str, roles: list[str], ttl: timedelta = timedelta(hours=12)
) -> str:
    key = ensure_local_key(settings.local_key_file)
    now = datetime.now(UTC)
    claims: dict[str, Any] = {
        "sub": subject,
        settings.roles_claim: sorted(set(roles)),
        "iss": settings.issuer,
        "aud": settings.audience,
        "iat": now,
        "nbf": now,
        "exp": now + ttl,
    }
    return jwt.encode(claims, key, algorithm=LOCAL_ALGORITHM)


class TokenVerifier:
    def __init__(self, settings: AuthSettings) -> None:
        self._settings = settings
        self._jwks: jwt.PyJWKClient | None = None
        self._local_public_key: Any = None
        if settings.jwks_url:
            self._jwks = jwt.PyJWKClient(settings.jwks_url, cache_keys=True, lifespan=300)
        else:
            self._local_public_key = ensure_local_key(settings.local_key_file).public_key()

    async def verify(self, token: str) -> Staff:
        try:
            if self._jwks is not None:
                # PyJWKClient fetches over blocking HTTP; keep it off the event loop.
                try:
                    signing_key = await asyncio.to_thread(
                        self._jwks.get_signing_key_from_jwt, token
                    )
                except jwt.PyJWKClientConnectionError as exc:
                    raise ProviderUnavailable(str(exc)) from exc
                key, algorithms = signing_key.key, PROVIDER_ALGORITHMS
            else:
                key, algorithms = self._local_public_key, [LOCAL_ALGORITHM]
            claims = jwt.decode(
                token,
                key,
                algorithms=algorithms,
                audience=self._settings.audience,
                issuer=self._settings.issuer,
                options={"require": ["exp", "sub"]},
            )
        except (jwt.PyJWTError, ValueError) as exc:
            raise InvalidToken(str(exc)) from exc
        roles = claims.get(self._settings.roles_claim, [])
        if isinstance(roles, str):
            roles = roles.split()
        if not isinstance(roles, list):
            raise InvalidToken("the roles claim is not a list")
        return Staff(subject=str(claims["sub"]), roles=frozenset(str(r) for r in roles))
