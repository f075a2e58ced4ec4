"""Partner dealers: their reports (once per Idempotency-Key) and their secrets."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.exc import DBAPIError, IntegrityError

from services.intake.commands.errors import Conflict, NotFound
from services.intake.commands.registration import (
    RegisterRequest,
    asked_kind,
    register_all_in,
    register_in,
)
from services.intake.db.dealers import DealerRepository
from services.intake.db.models import DealerRow
from services.intake.db.secret_box import SecretBox, fingerprint
from services.intake.domain.triage import TriageRules
from services.intake.metrics import count_registered
from shared.db.unit_of_work import UnitOfWork
from shared.messaging.outbox import envelope_for
from shared.observability.context import correlated

log = logging.getLogger(__name__)

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
class DealerReport:
    """A report waiting to be registered with others that arrived at the same moment,
    with the correlation of the HTTP request that brought it (its events carry that)."""

    key: IdempotencyKey
    command: RegisterRequest
    correlation_id: str
    causation_id: str | None = None


async def submit_dealer_reports(
    unit_of_work: Callable[[], UnitOfWork],
    reports: Sequence[DealerReport],
    answer: Any,
    default_warranty_months: int = 12,
    triage: TriageRules | None = None,
) -> list[DealerAnswer | Conflict]:
    """Reports that arrived together, registered in one transaction (``submit_dealer_report``
    for each, in effect): one commit, and the year's number counter locked once, for all.

    A report that cannot join is answered alone afterwards, by ``submit_dealer_report``: one
    whose ``Idempotency-Key`` is taken already (a repeat: it gets the stored answer), one
    whose report number another report of the group carries. Should the group's transaction
    fail (a report number taken meanwhile by another instance, a deadlock), every report of
    it is answered alone, so one bad report never fails the others.

    A group of one goes the same way: its set statements cost less than the ORM's.
    """
    answers: dict[int, DealerAnswer | Conflict] = {}
    alone: list[int] = []
    joined: list[int] = []
    uow = unit_of_work()
    try:
        async with uow:
            dealers = DealerRepository(uow.session)
            now = datetime.now(UTC)
            # A second report with a key or a report number of the group waits for the
            # group's answer and is answered alone, as a repeat or a clash.
            keys_seen: set[tuple[str, str]] = set()
            numbers_seen: set[tuple[str | None, str | None]] = set()
            candidates: list[int] = []
            # Keys in one order, so two groups claiming the same two keys cannot deadlock.
            for i in sorted(range(len(reports)), key=lambda i: _key_order(reports[i])):
                key, number = _key_order(reports[i]), _report_number(reports[i])
                if key in keys_seen or number in numbers_seen:
                    alone.append(i)
                    continue
                keys_seen.add(key)
                numbers_seen.add(number)
                candidates.append(i)
            claimed = await dealers.claim_all_idempotency(
                [
                    (reports[i].key.dealer_id, reports[i].key.key, reports[i].key.body_sha256)
                    for i in candidates
                ],
                now,
            )
            for i in candidates:
                (joined if _key_order(reports[i]) in claimed else alone).append(i)
            joined.sort()  # numbered in the order they arrived
            registered = await register_all_in(
                uow, [reports[i].command for i in joined], default_warranty_months, triage
            )
            works = []
            for i, done in zip(joined, registered, strict=True):
                with correlated(reports[i].correlation_id, reports[i].causation_id):
                    works.append([envelope_for(event) for event in done.events])
            await uow.publish_for_each(works)
            bodies = [answer(done.request) for done in registered]
            await dealers.answer_all_idempotency(
                [
                    (reports[i].key.dealer_id, reports[i].key.key, 201, body)
                    for i, body in zip(joined, bodies, strict=True)
                ]
            )
            await uow.commit()
    except DBAPIError as failed:
        log.info(
            "a group of %d dealer reports failed (%s); each is registered alone",
            len(reports),
            type(failed.orig).__name__,
        )
        alone, joined = list(range(len(reports))), []
    else:
        for i, done, body in zip(joined, registered, bodies, strict=True):
            request = done.request
            count_registered(request.channel, asked_kind(request), request.severity)
            answers[i] = DealerAnswer(201, body, replayed=False)
    for i in sorted(alone):
        answers[i] = await _alone(
            unit_of_work(), reports[i], answer, default_warranty_months, triage
        )
    return [answers[i] for i in range(len(reports))]


def _key_order(report: DealerReport) -> tuple[str, str]:
    return report.key.dealer_id, report.key.key


def _report_number(report: DealerReport) -> tuple[str | None, str | None]:
    return report.command.dealer_id, report.command.dealer_report_no


async def _alone(
    uow: UnitOfWork,
    report: DealerReport,
    answer: Any,
    default_warranty_months: int,
    triage: TriageRules | None,
) -> DealerAnswer | Conflict:
    try:
        with correlated(report.correlation_id, report.causation_id):
            return await submit_dealer_report(
                uow, report.key, report.command, answer, default_warranty_months, triage
            )
    except Conflict as refused:
        return refused


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
