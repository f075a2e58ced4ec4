"""How a partner dealer signs a request (the published dealer contract):

    X-Signature: sha256=<hex HMAC-SHA256(secret, "{timestamp}.{METHOD}.{path?query}.{body}")>

Pure functions, so the rule can be tested and reused (the dealers' own SDK examples use the
same message layout)."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable

SIGNATURE_PREFIX = "sha256="
DEFAULT_CLOCK_SKEW_SECONDS = 300


def signing_message(timestamp: str, method: str, path_with_query: str, body: bytes) -> bytes:
    return b".".join([timestamp.encode(), method.upper().encode(), path_with_query.encode(), body])


def sign(secret: str, timestamp: str, method: str, path_with_query: str, body: bytes) -> str:
    digest = hmac.new(
        secret.encode(), signing_message(timestamp, method, path_with_query, body), hashlib.sha256
    ).hexdigest()
    return f"{SIGNATURE_PREFIX}{digest}"


def timestamp_acceptable(
    timestamp: str, now: float, skew: int = DEFAULT_CLOCK_SKEW_SECONDS
) -> bool:
    if not timestamp.isdigit() or len(timestamp) > 12:
        return False
    return abs(int(timestamp) - now) <= skew


def signature_matches(
    secrets: Iterable[str],
    signature: str,
    timestamp: str,
    method: str,
    path_with_query: str,
    body: bytes,
) -> bool:
    """True when any of the dealer's active secrets (two during a rotation) made it."""
    matched = False
    for secret in secrets:
        expected = sign(secret, timestamp, method, path_with_query, body)
        # Constant time, and every secret is tried, so timing tells nothing about which.
        matched |= hmac.compare_digest(expected.encode(), signature.encode())
    return matched
