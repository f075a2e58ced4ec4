"""Partner dealers: their reports (once per Idempotency-Key) and their secrets."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError

from services.intake.commands.errors import Conflict, NotFound
from services.intake.commands.registration import RegisterRequest, asked_kind, register_in
from services.intake.db.dealers import DealerRepository
from services.intake.db.models import DealerRow
from services.intake.db.secret_box import SecretBox, fingerprint
from services.intake.domain.triage import TriageRules
from services.intake.metrics import count_registered
from shared.db.unit_of_work import UnitOfWork

MAX_ACTIVE_SECRETS = 2
# How PostgreSQL and SQLite name the unique (dealer, report number) when it is violated.
_REPORT_NUMBER_TAKEN = ("uq_service_requests_dealer_report", "service_requests.dealer_report_no")


@dataclass(frozen=True)
class DealerAnswer:
    status_code: int
    body: dict[str, Any]
    replayed: bool


@dataclass(frozen=True)
class IdempotencyKey:
    dealer_id: str
    key: str
    body_sha256: str
    keep_for: timedelta


async def submit_dealer_report(
    uow: UnitOfWork,
    key: IdempotencyKey,
    command: RegisterRequest,
    answer: Any,
    default_warranty_months: int = 12,
    triage: TriageRules | None = None,
) -> DealerAnswer:
    """A dealer's report, created once per ``Idempotency-Key``, in one transaction.

    ``answer(request) -> dict`` builds the 201 body, which is stored with the key and given
    again, unchanged, to a repeat of the same request within ``keep_for``. With ``triage``
    the rules triage the report in the same transaction (see ``register_in``).
    """
    assert command.dealer_id is not None and command.dealer_report_no is not None
    for _ in range(3):
        async with uow:
            dealers = DealerRepository(uow.session)
            now = datetime.now(UTC)
            if not await dealers.claim_idempotency(key.dealer_id, key.key, key.body_sha256, now):
                stored = await dealers.idempotency(key.dealer_id, key.key)
                if stored is None:
                    continue  # forgotten meanwhile: take it in a fresh transaction
                if stored.created_at >= now - key.keep_for:
                    if stored.body_sha256 != key.body_sha256:
                        raise Conflict(
                            "This Idempotency-Key was already used with a different request body."
                        )
                    return DealerAnswer(stored.status_code, stored.response, replayed=True)
                # Older than the window: forgotten, and taken for this request.
                await dealers.forget_idempotency(key.dealer_id, key.key)
                if not await dealers.claim_idempotency(
                    key.dealer_id, key.key, key.body_sha256, now
                ):
                    continue
            try:
                request = await register_in(uow, command, default_warranty_months, triage)
            except IntegrityError as exc:
                # The report number is unique per dealer (a constraint, so that racing
                # reports cannot both pass a check); nothing else here can clash.
                if not any(name in str(exc.orig) for name in _REPORT_NUMBER_TAKEN):
                    raise
                raise Conflict(
                    f"dealer_report_no {command.dealer_report_no} was already reported "
                    "under another Idempotency-Key."
                ) from exc
            body = answer(request)
            await dealers.answer_idempotency(key.dealer_id, key.key, 201, body)
            await uow.commit()
            count_registered(request.channel, asked_kind(request), request.severity)
            return DealerAnswer(201, body, replayed=False)
    raise Conflict("A request with this Idempotency-Key is still being processed; retry.")


@dataclass(frozen=True)
class IssuedSecret:
    dealer: DealerRow
    secret_id: int
    secret: str


async def create_dealer(
    uow: UnitOfWork, box: SecretBox, name: str, rate_per_second: float, burst: int
) -> IssuedSecret:
    async with uow:
        dealers = DealerRepository(uow.session)
        dealer = DealerRow(
            dealer_id=await dealers.next_dealer_id(),
            name=name,
            status="active",
            rate_per_second=rate_per_second,
            burst=burst,
            created_at=datetime.now(UTC),
        )
        await dealers.add(dealer)
        issued = await _issue_secret(dealers, box, dealer)
        await uow.commit()
    return issued


async def _issue_secret(
    dealers: DealerRepository, box: SecretBox, dealer: DealerRow
) -> IssuedSecret:
    secret = secrets.token_urlsafe(32)
    row = await dealers.add_secret(
        dealer.dealer_id, box.seal(secret, dealer.dealer_id), fingerprint(secret)
    )
    return IssuedSecret(dealer=dealer, secret_id=row.id, secret=secret)


async def issue_dealer_secret(uow: UnitOfWork, box: SecretBox, dealer_id: str) -> IssuedSecret:
    """A second secret for a rotation; at most two are active at once."""
    async with uow:
        dealers = DealerRepository(uow.session)
        dealer = await dealers.get(dealer_id, lock=True)
        if dealer is None:
            raise NotFound(dealer_id)
        if len(await dealers.secrets(dealer_id)) >= MAX_ACTIVE_SECRETS:
            raise Conflict(
                f"{dealer_id} already has {MAX_ACTIVE_SECRETS} active secrets; revoke one first."
            )
        issued = await _issue_secret(dealers, box, dealer)
        await uow.commit()
    return issued


async def revoke_dealer_secret(uow: UnitOfWork, dealer_id: str, secret_id: int) -> None:
    async with uow:
        dealers = DealerRepository(uow.session)
        secret = await dealers.secret(dealer_id, secret_id)
        if secret is None:
            raise NotFound(f"{dealer_id} secret {secret_id}")
        if secret.revoked_at is None:
            secret.revoked_at = datetime.now(UTC)
        await uow.commit()


async def set_dealer_status(uow: UnitOfWork, dealer_id: str, status: str) -> DealerRow:
    async with uow:
        dealers = DealerRepository(uow.session)
        dealer = await dealers.get(dealer_id, lock=True)
        if dealer is None:
            raise NotFound(dealer_id)
        dealer.status = status
        await uow.commit()
    return dealer
