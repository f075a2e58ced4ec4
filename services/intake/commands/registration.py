"""Registering a service request, from any channel."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

from services.intake.commands.sla import start_first_clocks
from services.intake.commands.workflow import apply_triage, triaged_event
from services.intake.db.catalogue import (
    Customers,
    ModelTerms,
    PlacedCustomer,
    ProductCatalogue,
    UnitReported,
)
from services.intake.db.repository import ServiceRequestRepository
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
from services.intake.domain.triage import TriageRules
from services.intake.domain.warranty import Warranty
from services.intake.domain.workflow import RequestStatus
from services.intake.metrics import count_registered
from shared.db.unit_of_work import UnitOfWork
from shared.events.registry import EventSchema
from shared.events.schemas.intake import (
    DealerWorkReportedV1,
    ReplacedPartV1,
    RequestRegisteredV1,
)


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


@dataclass(frozen=True)
class Registered:
    """A request registered in the open transaction, and the events it causes (for the
    caller to put in the outbox)."""

    request: ServiceRequest
    events: list[EventSchema]


async def register_in(
    uow: UnitOfWork,
    command: RegisterRequest,
    default_warranty_months: int,
    triage: TriageRules | None = None,
) -> ServiceRequest:
    """Register inside an open unit of work, its events in the outbox; the caller commits.

    With ``triage`` the rules decide at once, in the same transaction, what they can decide
    (as the handler of ``intake.request.registered`` would a moment later, which then finds
    nothing left to do): one transaction and no round trip through the broker before the
    request is on its way to dispatch.
    """
    (registered,) = await register_all_in(uow, [command], default_warranty_months, triage)
    await uow.publish_all(registered.events)
    return registered.request


async def register_all_in(
    uow: UnitOfWork,
    commands: Sequence[RegisterRequest],
    default_warranty_months: int,
    triage: TriageRules | None = None,
) -> list[Registered]:
    """Register requests inside an open unit of work, numbered in the order given; the
    caller puts their events in the outbox and commits.

    Written with Core statements, nothing loaded into the session (nobody reads these rows
    back in this transaction); the requests, timelines and clocks of all the commands in
    one statement each. Rows are locked in one order whatever the commands' order — units
    by serial number, then customers by phone and name, then the year's number counter —
    so two transactions registering at once queue for each other instead of deadlocking.
    """
    if not commands:
        return []  # nothing to number: the counter row is not even locked
    received_at = datetime.now(UTC)
    session = uow.session
    catalogue = ProductCatalogue(session)
    terms_of = {
        model: await catalogue.terms(model)
        for model in sorted({command.product_model for command in commands})
    }
    by_serial = sorted(range(len(commands)), key=lambda i: commands[i].serial_no)
    dates = await catalogue.purchase_dates_of(
        [
            UnitReported(
                commands[i].serial_no,
                commands[i].product_model,
                commands[i].purchase_date,
                commands[i].dealer_id,
            )
            for i in by_serial
        ]
    )
    purchase_dates = dict(zip(by_serial, dates, strict=True))
    # The customers before the numbers: the year's number row stays locked from the number
    # to the commit and every registration queues on it, so nothing that does not need the
    # number is done while holding it.
    placed = await Customers(session).placed_all([command.customer for command in commands])
    requests = ServiceRequestRepository(session)
    numbers = await requests.next_numbers(received_at.year, len(commands))
    registered = [
        _registered(
            command,
            str(numbers[i]),
            received_at,
            terms_of[command.product_model],
            purchase_dates[i],
            placed[i],
            default_warranty_months,
            triage,
        )
        for i, command in enumerate(commands)
    ]
    await requests.insert([r.request for r in registered])
    await start_first_clocks(session, [r.request for r in registered], received_at)
    return registered


def _registered(
    command: RegisterRequest,
    request_no: str,
    received_at: datetime,
    terms: ModelTerms | None,
    purchase_date: date | None,
    customer: PlacedCustomer,
    default_warranty_months: int,
    triage: TriageRules | None,
) -> Registered:
    months = terms.warranty_months if terms is not None else default_warranty_months
    warranty = Warranty.for_unit(purchase_date, months)
    fault_day = (command.fault_occurred_at or received_at).astimezone(UTC).date()
    request = ServiceRequest(
        request_no=request_no,
        channel=command.channel,
        customer=command.customer,
        product_model=command.product_model,
        serial_no=command.serial_no,
        fault_description=command.fault_description,
        received_at=received_at,
        customer_asks=command.customer_asks,
        severity=command.severity,
        product_line=terms.product_line if terms is not None else None,
        purchase_date=purchase_date,
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
    request.customer_id = customer.customer_id
    events: list[EventSchema] = []
    if request.work_done is not None and request.dealer_id and request.dealer_report_no:
        events.append(dealer_work_reported(request, request.work_done))
    events.append(
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
    decision = triage.decide(request) if triage is not None else None
    if decision is not None:
        triaged_at = datetime.now(UTC)
        apply_triage(request, decision, triaged_at, actor=None)
        events.append(
            triaged_event(request, decision, triaged_at, customer.latitude, customer.longitude)
        )
    return Registered(request, events)


async def register_request(
    uow: UnitOfWork, command: RegisterRequest, default_warranty_months: int = 12
) -> ServiceRequest:
    async with uow:
        request = await register_in(uow, command, default_warranty_months)
        await uow.commit()
    count_registered(request.channel, asked_kind(request), request.severity)
    return request


def asked_kind(request: ServiceRequest) -> str | None:
    return request.customer_asks.value if request.customer_asks else None


async def find_request(
    uow: UnitOfWork, request_no: str, with_timeline: bool = False
) -> ServiceRequest | None:
    async with uow:
        if with_timeline and uow.session.get_bind().dialect.name == "postgresql":
            # The request and its timeline from one snapshot: read apart, a department's
            # update committing in between would show on the timeline and not on the request
            # (an assignment without its technician). SQLite's read is one snapshot already.
            await uow.session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        return await ServiceRequestRepository(uow.session).get(request_no, with_timeline)


def dealer_work_reported(request: ServiceRequest, work: WorkDone) -> DealerWorkReportedV1:
    assert request.dealer_id is not None and request.dealer_report_no is not None
    return DealerWorkReportedV1(
        request_no=request.request_no,
        dealer_id=request.dealer_id,
        dealer_report_no=request.dealer_report_no,
        product_model=request.product_model,
        product_line=request.product_line,
        serial_no=request.serial_no,
        purchase_date=request.purchase_date,
        in_warranty=request.in_warranty,
        warranty_expires_on=request.warranty_expires_on,
        fault_description=request.fault_description,
        fault_code=request.fault_code,
        fault_occurred_at=request.fault_occurred_at,
        completed_at=work.completed_at,
        technician_name=work.technician_name,
        labour_hours=work.labour_hours,
        travel_km=work.travel_km,
        cause=work.cause.value,
        parts_replaced=[
            ReplacedPartV1(
                part_no=p.part_no, quantity=p.quantity, old_part_serial=p.old_part_serial
            )
            for p in work.parts_replaced
        ],
    )
