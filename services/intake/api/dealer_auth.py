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
    box = secret_box(request)
    async with uow:
        dealers = DealerRepository(uow.session)
        dealer = await dealers.get(dealer_id[:20])
        sealed = [s.sealed for s in await dealers.secrets(dealer_id[:20])] if dealer else []
    try:
        secrets = [box.open(s, dealer.dealer_id) for s in sealed] if dealer else []
    except InvalidTag as exc:
        raise RuntimeError("a dealer secret does not open with this key file") from exc
    if dealer is None or not signature_matches(
        secrets, signature, timestamp, request.method, path_with_query(request), body
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


DealerDep = Annotated[AuthenticatedDealer, Depends(authenticated_dealer)]
