"""Who is calling the dealer API: a signed request from an active dealer, within its rate.

Order of the checks (the contract's answers): headers and clock window, dealer and signature
(401 for either, without telling which), suspended (403), rate (429 with Retry-After).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Annotated

from cryptography.exceptions import InvalidTag
from fastapi import Depends, Request

from services.intake.api.rate_limit import TokenBuckets
from services.intake.db.dealers import DealerRepository
from services.intake.db.secret_box import SecretBox
from services.intake.domain.dealer_signature import signature_matches, timestamp_acceptable
from services.intake.metrics import DEALER_REPORTS
from shared.http.deps import UnitOfWorkDep
from shared.http.problems import Problem


@dataclass(frozen=True)
class AuthenticatedDealer:
    dealer_id: str
    name: str


@dataclass(frozen=True)
class KnownDealer:
    """What authenticating a dealer needs, with its active secrets already opened."""

    dealer_id: str
    name: str
    status: str
    rate_per_second: float
    burst: int
    secrets: tuple[str, ...]


class DealerDirectory:
    """Dealers as this process last read them, for ``keep_seconds``.

    Every signed request needs the dealer and its secrets; reading them is a transaction of
    its own (two statements) and opening the secrets costs AES-GCM each time. An admin change
    made through this process (suspension, a secret issued or revoked) is forgotten here at
    once; one made through another instance is seen here within ``keep_seconds``. Unknown
    dealers are not remembered, so a dealer created anywhere can sign at once.
    """

    def __init__(self, keep_seconds: float) -> None:
        self._keep = keep_seconds
        self._known: dict[str, tuple[float, KnownDealer]] = {}

    def get(self, dealer_id: str) -> KnownDealer | None:
        found = self._known.get(dealer_id)
        if found is None or found[0] < time.monotonic():
            return None
        return found[1]

    def keep(self, dealer: KnownDealer) -> None:
        if self._keep > 0:
            self._known[dealer.dealer_id] = (time.monotonic() + self._keep, dealer)

    def forget(self, dealer_id: str) -> None:
        self._known.pop(dealer_id, None)


def dealer_directory(request: Request) -> DealerDirectory:
    state = request.app.state
    if getattr(state, "dealer_directory", None) is None:
        state.dealer_directory = DealerDirectory(
            state.runtime.settings.service.dealer_cache_seconds
        )
    directory: DealerDirectory = state.dealer_directory
    return directory


def _unauthorized(detail: str) -> Problem:
    return Problem(401, "Unauthorized", detail, type_="urn:aftersales:problem:dealer-unauthorized")


def secret_box(request: Request) -> SecretBox:
    state = request.app.state
    if getattr(state, "dealer_secret_box", None) is None:
        state.dealer_secret_box = SecretBox.from_key_file(
            state.runtime.settings.service.secrets_key_file
        )
    box: SecretBox = state.dealer_secret_box
    return box


def _buckets(request: Request) -> TokenBuckets:
    state = request.app.state
    if getattr(state, "dealer_rate_buckets", None) is None:
        state.dealer_rate_buckets = TokenBuckets()
    buckets: TokenBuckets = state.dealer_rate_buckets
    return buckets


def path_with_query(request: Request) -> str:
    """The path exactly as the dealer sent and signed it, query included."""
    raw = request.scope.get("raw_path")
    path = raw.decode("latin-1") if raw else request.url.path
    query = request.scope.get("query_string", b"").decode("latin-1")
    return f"{path}?{query}" if query else path


async def authenticated_dealer(request: Request, uow: UnitOfWorkDep) -> AuthenticatedDealer:
    try:
        return await _authenticate(request, uow)
    except Problem:
        if request.method == "POST":
            DEALER_REPORTS.labels("rejected").inc()
        raise


async def _authenticate(request: Request, uow: UnitOfWorkDep) -> AuthenticatedDealer:
    settings = request.app.state.runtime.settings.service
    dealer_id = request.headers.get("x-dealer-id")
    timestamp = request.headers.get("x-timestamp")
    signature = request.headers.get("x-signature")
    if not dealer_id or not timestamp or not signature:
        raise _unauthorized("X-Dealer-Id, X-Timestamp and X-Signature are all required.")
    now = time.time()
    if not timestamp_acceptable(timestamp, now, settings.dealer_clock_skew_seconds):
        raise _unauthorized(
            f"X-Timestamp must be Unix seconds within {settings.dealer_clock_skew_seconds} s "
            f"of the server's clock (now {int(now)})."
        )
    body = await request.body()
    dealer = await _known_dealer(request, uow, dealer_id[:20])
    if dealer is None or not signature_matches(
        dealer.secrets, signature, timestamp, request.method, path_with_query(request), body
    ):
        raise _unauthorized("Unknown dealer or wrong signature.")
    if dealer.status != "active":
        raise Problem(
            403,
            "Forbidden",
            f"Dealer {dealer.dealer_id} is suspended.",
            type_="urn:aftersales:problem:dealer-suspended",
        )
    wait = _buckets(request).take(dealer.dealer_id, dealer.rate_per_second, dealer.burst)
    if wait is not None:
        raise Problem(
            429,
            "Too Many Requests",
            f"More than {dealer.rate_per_second:g} requests/s (burst {dealer.burst}).",
            type_="urn:aftersales:problem:rate-limited",
            headers={"Retry-After": str(wait)},
        )
    return AuthenticatedDealer(dealer_id=dealer.dealer_id, name=dealer.name)


async def _known_dealer(request: Request, uow: UnitOfWorkDep, dealer_id: str) -> KnownDealer | None:
    directory = dealer_directory(request)
    known = directory.get(dealer_id)
    if known is not None:
        return known
    async with uow:
        dealers = DealerRepository(uow.session)
        row = await dealers.get(dealer_id)
        sealed = [s.sealed for s in await dealers.secrets(dealer_id)] if row else []
    if row is None:
        return None
    box = secret_box(request)
    try:
        secrets = tuple(box.open(s, row.dealer_id) for s in sealed)
    except InvalidTag as exc:
        raise RuntimeError("a dealer secret does not open with this key file") from exc
    known = KnownDealer(
        row.dealer_id, row.name, row.status, row.rate_per_second, row.burst, secrets
    )
    directory.keep(known)
    return known


DealerDep = Annotated[AuthenticatedDealer, Depends(authenticated_dealer)]
