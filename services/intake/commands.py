"""What intake does, each a function over one unit of work; routes and event handlers call
these, so the same rule holds whichever way a request comes in."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError

from services.intake.db.catalogue import Customers, ProductCatalogue
from services.intake.db.dealers import DealerRepository
from services.intake.db.models import DealerIdempotencyRow, DealerRow
from services.intake.db.repository import ServiceRequestRepository
from services.intake.db.secret_box import SecretBox, fingerprint
from services.intake.domain.service_request import (
    Channel,
    Customer,
    CustomerAsks,
    Department,
    ServiceRequest,
    Severity,
    TimelineEntry,
    WorkDone,
)
from services.intake.domain.warranty import Warranty
from services.intake.domain.workflow import RequestStatus
from shared.db.unit_of_work import UnitOfWork
from shared.events.schemas.intake import RequestRegisteredV1

MAX_ACTIVE_SECRETS = 2


class Conflict(Exception):
    """The request contradicts what is already recorded (answered 409)."""


class NotFound(LookupError):
    pass


@dataclass(frozen=True)
class RegisterRequest:
    channel: Channel
    customer: Customer
    product_model: str
    serial_no: str
    fault_description: str
    customer_asks: CustomerAsks | None = None
    severity: Severity | None = None
    purchase_date: date | None = None
    quantity: int = 1
    fault_code: str | None = None
    fault_occurred_at: datetime | None = None
    dealer_id: str | None = None
    dealer_report_no: str | None = None
    work_done: WorkDone | None = None
    actor: str | None = None


_CHANNEL_NAMES = {
    Channel.PHONE: "电话",
    Channel.WEB: "网页",
    Channel.EMAIL: "邮件",
    Channel.WALK_IN: "到店",
    Channel.DEALER: "经销商报告",
}


async def _register(
    uow: UnitOfWork, command: RegisterRequest, default_warranty_months: int
) -> ServiceRequest:
    """Register inside an open unit of work; the caller commits."""
    received_at = datetime.now(UTC)
    session = uow.session
    catalogue = ProductCatalogue(session)
    model = await catalogue.model(command.product_model)
    unit = await catalogue.unit(command.serial_no)
    if unit is None:
        # An unknown serial is registered on its first report, with the date given.
        unit = await catalogue.register_unit(
            command.serial_no, command.product_model, command.purchase_date, command.dealer_id
        )
    elif unit.purchase_date is None and command.purchase_date is not None:
        unit.purchase_date = command.purchase_date
    months = model.warranty_months if model is not None else default_warranty_months
    warranty = Warranty.for_unit(unit.purchase_date, months)
    fault_day = (command.fault_occurred_at or received_at).astimezone(UTC).date()

    requests = ServiceRequestRepository(session)
    number = await requests.next_number(received_at.year)
    request = ServiceRequest(
        request_no=str(number),
        channel=command.channel,
        customer=command.customer,
        product_model=command.product_model,
        serial_no=command.serial_no,
        fault_description=command.fault_description,
        received_at=received_at,
        customer_asks=command.customer_asks,
        severity=command.severity,
        product_line=model.product_line if model is not None else None,
        purchase_date=unit.purchase_date,
        quantity=command.quantity,
        fault_code=command.fault_code,
        fault_occurred_at=command.fault_occurred_at,
        in_warranty=warranty.covers(fault_day),
        warranty_expires_on=warranty.expires_on,
        dealer_id=command.dealer_id,
        dealer_report_no=command.dealer_report_no,
        work_done=command.work_done,
        updated_at=received_at,
    )
    request.timeline.append(
        TimelineEntry(
            at=received_at,
            department=Department.INTAKE,
            status=RequestStatus.RECEIVED,
            summary=f"已接收服务请求（{_CHANNEL_NAMES[command.channel]}）",
            actor=command.actor,
        )
    )
    await Customers(session).find_or_add(command.customer)
    await requests.add(request)
    await uow.publish(
        RequestRegisteredV1(
            request_no=request.request_no,
            channel=request.channel.value,
            customer_name=request.customer.name,
            product_model=request.product_model,
            serial_no=request.serial_no,
            fault_description=request.fault_description,
            received_at=request.received_at,
        )
    )
    return request


async def register_request(
    uow: UnitOfWork, command: RegisterRequest, default_warranty_months: int = 12
) -> ServiceRequest:
    async with uow:
        request = await _register(uow, command, default_warranty_months)
        await uow.commit()
    return request


async def find_request(
    uow: UnitOfWork, request_no: str, with_timeline: bool = False
) -> ServiceRequest | None:
    async with uow:
        return await ServiceRequestRepository(uow.session).get(request_no, with_timeline)


# --- partner dealers -------------------------------------------------------------------


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
                request = await _register(uow, command, default_warranty_months)
            except IntegrityError as exc:
                raise Conflict(
                    f"dealer_report_no {command.dealer_report_no} was already reported."
                ) from exc
            body = answer(request)
            held.status_code, held.response = 201, body
            await uow.commit()
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
