"""Moving a request through intake's own steps: acknowledge, triage, resolve remotely,
cancel, close, reopen. Each refuses an illegal move with the moves that are allowed."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from services.intake.commands.errors import NotFound
from services.intake.commands.sla import (
    meet_clocks,
    pause_clocks,
    resume_clocks,
    retarget_clocks,
    sla_policy,
    unanswered_target,
)
from services.intake.db.catalogue import Customers
from services.intake.db.repository import ServiceRequestRepository
from services.intake.domain.calendar import WorkingCalendar
from services.intake.domain.service_request import ServiceRequest, TimelineEntry
from services.intake.domain.sla import SlaClock, SlaTargets, response_target_for
from services.intake.domain.triage import Route, TriageDecision
from services.intake.domain.workflow import (
    FINAL,
    REOPEN_WINDOW,
    IllegalTransition,
    RequestStatus,
    check_reopen,
    check_staff_move,
)
from services.intake.metrics import RESPONSE_SECONDS
from shared.db.unit_of_work import UnitOfWork
from shared.events.schemas.intake import (
    RequestCancelledV1,
    RequestClosedV1,
    RequestResolvedRemotelyV1,
    RequestTriagedV2,
)

S = RequestStatus
Step = Callable[[UnitOfWork, ServiceRequest, datetime], Awaitable[list[TimelineEntry]]]


async def _apply(uow: UnitOfWork, request_no: str, step: Step) -> ServiceRequest:
    async with uow:
        requests = ServiceRequestRepository(uow.session)
        request = await requests.get(request_no, with_timeline=True, lock=True)
        if request is None:
            raise NotFound(request_no)
        waiting = await unanswered_target(uow.session, request_no)
        at = datetime.now(UTC)
        entries = await step(uow, request, at)
        answered = waiting is not None and await unanswered_target(uow.session, request_no) is None
        await requests.save(request, entries)
        await uow.commit()
    if answered:
        # Counted after the commit: a refused or rolled-back step answered nobody.
        RESPONSE_SECONDS.labels(waiting).observe((at - request.received_at).total_seconds())
    return request


def response_due_at(
    request: ServiceRequest, calendar: WorkingCalendar, targets: SlaTargets
) -> datetime | None:
    if request.kind is None:
        return None
    severity = request.severity.value if request.severity else None
    try:
        target = targets[response_target_for(request.kind.value, severity)]
    except ValueError:
        return None
    clock = SlaClock(target=target, started_at=request.received_at)
    return clock.due_at(calendar, request.received_at)


async def triage_in(
    uow: UnitOfWork,
    request: ServiceRequest,
    decision: TriageDecision,
    at: datetime,
    actor: str | None,
) -> list[TimelineEntry]:
    """Triage inside an open unit of work (the automatic rules run in an event handler)."""
    entries = apply_triage(request, decision, at, actor)
    await retarget_clocks(uow.session, request, at)
    if actor is not None:
        await meet_clocks(uow.session, request.request_no, at)
    # Only v2 goes out: dispatch still reads v1 for events published before the switch.
    latitude, longitude = await Customers(uow.session).position(request.customer_id)
    await uow.publish(triaged_event(request, decision, at, latitude, longitude))
    return entries


def apply_triage(
    request: ServiceRequest, decision: TriageDecision, at: datetime, actor: str | None
) -> list[TimelineEntry]:
    """The request's side of a triage (kind, severity, the steps on its timeline); its clocks
    and the event are the caller's."""
    check_staff_move("triage", request.status)
    request.kind = decision.kind
    request.severity = decision.severity
    request.visit_needed = decision.visit_needed
    how = "人工分诊" if actor else "自动分诊"
    entries = [
        request.move(
            S.TRIAGED,
            at,
            f"{how}：{decision.kind.value}，{decision.severity.value}",
            actor=actor,
            details={
                "kind": decision.kind.value,
                "severity": decision.severity.value,
                "visit_needed": decision.visit_needed,
                "route": decision.route.value,
            },
        )
    ]
    if decision.route is Route.DISPATCH:
        entries.append(request.move(S.HANDED_TO_DISPATCH, at, "已转派工", actor=actor))
    return entries


def triaged_event(
    request: ServiceRequest,
    decision: TriageDecision,
    at: datetime,
    latitude: Decimal | None,
    longitude: Decimal | None,
) -> RequestTriagedV2:
    return RequestTriagedV2(
        request_no=request.request_no,
        kind=decision.kind.value,
        severity=decision.severity.value,
        visit_needed=decision.visit_needed,
        route=decision.route.value,
        channel=request.channel.value,
        product_line=request.product_line,
        product_model=request.product_model,
        serial_no=request.serial_no,
        quantity=request.quantity,
        purchase_date=request.purchase_date,
        in_warranty=request.in_warranty,
        warranty_expires_on=request.warranty_expires_on,
        dealer_id=request.dealer_id,
        customer_id=str(request.customer_id) if request.customer_id is not None else None,
        customer_name=request.customer.name,
        customer_phone=request.customer.phone,
        address=request.customer.address,
        region=request.customer.region,
        latitude=latitude,
        longitude=longitude,
        fault_description=request.fault_description,
        response_due_at=response_due_at(request, *sla_policy()),
        triaged_at=at,
    )


def _kind_or_asked(request: ServiceRequest) -> str:
    # Resolved before any triage: what the customer asked for is the best name for it.
    if request.kind is not None:
        return request.kind.value
    return request.customer_asks.value if request.customer_asks else "consultation"


async def triage(
    uow: UnitOfWork, request_no: str, decision: TriageDecision, actor: str
) -> ServiceRequest:
    async def step(uow: UnitOfWork, request: ServiceRequest, at: datetime) -> list[TimelineEntry]:
        return await triage_in(uow, request, decision, at, actor)

    return await _apply(uow, request_no, step)


async def acknowledge(uow: UnitOfWork, request_no: str, actor: str) -> ServiceRequest:
    async def step(_uow: UnitOfWork, request: ServiceRequest, at: datetime) -> list[TimelineEntry]:
        check_staff_move("acknowledge", request.status)
        await meet_clocks(_uow.session, request.request_no, at)
        return [request.move(S.ACKNOWLEDGED, at, "已确认受理", actor=actor)]

    return await _apply(uow, request_no, step)


async def resolve_remotely(
    uow: UnitOfWork, request_no: str, note: str, actor: str
) -> ServiceRequest:
    async def step(_uow: UnitOfWork, request: ServiceRequest, at: datetime) -> list[TimelineEntry]:
        check_staff_move("resolve_remotely", request.status)
        await meet_clocks(_uow.session, request.request_no, at)
        entry = request.move(S.RESOLVED_REMOTELY, at, f"远程解决：{note}", actor=actor)
        await _uow.publish(
            RequestResolvedRemotelyV1(
                request_no=request.request_no,
                product_model=request.product_model,
                kind=_kind_or_asked(request),
                resolution=note,
                resolved_at=at,
            )
        )
        return [entry]

    return await _apply(uow, request_no, step)


async def cancel(uow: UnitOfWork, request_no: str, reason: str, actor: str) -> ServiceRequest:
    async def step(uow: UnitOfWork, request: ServiceRequest, at: datetime) -> list[TimelineEntry]:
        check_staff_move("cancel", request.status)
        await meet_clocks(uow.session, request.request_no, at, every=True)
        entry = request.move(
            S.CANCELLED, at, f"已取消：{reason}", actor=actor, details={"reason": reason}
        )
        await uow.publish(
            RequestCancelledV1(request_no=request.request_no, reason=reason, cancelled_at=at)
        )
        return [entry]

    return await _apply(uow, request_no, step)


async def close(uow: UnitOfWork, request_no: str, actor: str) -> ServiceRequest:
    async def step(_uow: UnitOfWork, request: ServiceRequest, at: datetime) -> list[TimelineEntry]:
        check_staff_move("close", request.status)
        entry = request.move(S.CLOSED, at, "已结案", actor=actor)
        await _uow.publish(RequestClosedV1(request_no=request.request_no, closed_at=at))
        return [entry]

    return await _apply(uow, request_no, step)


async def reopen(
    uow: UnitOfWork,
    request_no: str,
    reason: str,
    actor: str,
    window: timedelta = REOPEN_WINDOW,
) -> ServiceRequest:
    async def step(_uow: UnitOfWork, request: ServiceRequest, at: datetime) -> list[TimelineEntry]:
        check_staff_move("reopen", request.status)
        closed_at = max(e.at for e in request.timeline if e.status is S.CLOSED)
        check_reopen(closed_at, at, window)
        return [
            request.move(
                S.ACKNOWLEDGED, at, f"重新打开：{reason}", actor=actor, details={"reason": reason}
            )
        ]

    return await _apply(uow, request_no, step)


async def wait_for_customer(
    uow: UnitOfWork, request_no: str, reason: str, actor: str
) -> ServiceRequest:
    """The request waits on the customer (a photo of the nameplate, an access date): its SLA
    clocks stop until the customer answers."""

    async def step(uow: UnitOfWork, request: ServiceRequest, at: datetime) -> list[TimelineEntry]:
        if request.status in FINAL or not await pause_clocks(uow.session, request_no, at):
            raise IllegalTransition("wait_for_customer", request.status, [])
        return [
            request.move(
                request.status,
                at,
                f"等待客户：{reason}",
                actor=actor,
                details={"sla": "paused", "reason": reason},
            )
        ]

    return await _apply(uow, request_no, step)


async def customer_answered(uow: UnitOfWork, request_no: str, actor: str) -> ServiceRequest:
    async def step(uow: UnitOfWork, request: ServiceRequest, at: datetime) -> list[TimelineEntry]:
        if not await resume_clocks(uow.session, request_no, at):
            raise IllegalTransition("customer_answered", request.status, [])
        return [
            request.move(request.status, at, "客户已回复", actor=actor, details={"sla": "resumed"})
        ]

    return await _apply(uow, request_no, step)
