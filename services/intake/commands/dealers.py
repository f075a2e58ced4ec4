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
from services.intake.db.models import DealerIdempotencyRow, DealerRow
from services.intake.db.repository import ServiceRequestRepository
from services.intake.db.secret_box import SecretBox, fingerprint
from services.intake.metrics import count_registered
from shared.db.unit_of_work import UnitOfWork

MAX_ACTIVE_SECRETS = 2


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
) -> DealerAnswer:
    """A dealer's report, created once per ``Idempotency-Key``.

    ``answer(request) -> dict`` builds the 201 body, which is stored with the key and given
    again, unchanged, to a repeat of the same request within ``keep_for``.
    """
    for _ in range(3):
        async with uow:
            dealers = DealerRepository(uow.session)
            stored = await dealers.idempotency(key.dealer_id, key.key)
            if stored is not None and stored.created_at < datetime.now(UTC) - key.keep_for:
                await dealers.forget_idempotency(key.dealer_id, key.key)
                stored = None
            if stored is not None:
                if stored.body_sha256 != key.body_sha256:
                    raise Conflict(
                        "This Idempotency-Key was already used with a different request body."
                    )
                return DealerAnswer(stored.status_code, stored.response, replayed=True)
            held = DealerIdempotencyRow(
                dealer_id=key.dealer_id,
                key=key.key,
                body_sha256=key.body_sha256,
                status_code=0,
                response={},
                created_at=datetime.now(UTC),
            )
            try:
                await dealers.hold_idempotency(held)
            except IntegrityError:
                # The same key is being (or was just) used by a concurrent request; read its
                # answer in a fresh transaction.
                continue
            requests = ServiceRequestRepository(uow.session)
            assert command.dealer_id is not None and command.dealer_report_no is not None
            if await requests.get_for_dealer(command.dealer_id, command.dealer_report_no):
                raise Conflict(
                    f"dealer_report_no {command.dealer_report_no} was already reported "
                    "under another Idempotency-Key."
                )
            try:
                request = await register_in(uow, command, default_warranty_months)
            except IntegrityError as exc:
                raise Conflict(
                    f"dealer_report_no {command.dealer_report_no} was already reported."
                ) from exc
            body = answer(request)
            held.status_code, held.response = 201, body
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
