"""Handling complaints: open the register entry with its cause, pass quality complaints on to
claims at once, record handling steps (a verification meets the first-verification target),
and record the result. Every step also goes on the request's timeline."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from services.intake.commands.errors import Conflict, NotFound
from services.intake.commands.sla import meet_clock
from services.intake.db.complaints import ComplaintRegister
from services.intake.db.repository import ServiceRequestRepository
from services.intake.domain.complaint import (
    Complaint,
    ComplaintAnalysis,
    ComplaintCause,
    ComplaintStatus,
    HandlingStep,
    StepKind,
)
from services.intake.domain.service_request import CustomerAsks, Kind, ServiceRequest
from services.intake.domain.sla import SlaTargetName
from shared.db.unit_of_work import UnitOfWork
from shared.events.schemas.intake import ComplaintQualityReportedV1

_CAUSE_NAMES = {
    ComplaintCause.PRODUCT_QUALITY: "产品质量",
    ComplaintCause.REPAIR_QUALITY: "维修质量",
    ComplaintCause.SERVICE_ATTITUDE: "服务态度",
    ComplaintCause.RESPONSE_TIME: "响应时间",
    ComplaintCause.CHARGES: "收费",
    ComplaintCause.DELIVERY: "交付",
    ComplaintCause.OTHER: "其他",
}


def _is_complaint(request: ServiceRequest) -> bool:
    return request.kind is Kind.COMPLAINT or (
        request.kind is None and request.customer_asks is CustomerAsks.COMPLAINT
    )


async def _pass_on_if_quality(
    uow: UnitOfWork, request: ServiceRequest, complaint: Complaint, at: datetime
) -> Complaint:
    """A quality complaint goes to claims in this transaction, once."""
    if not complaint.due_for_quality_report:
        return complaint
    await uow.publish(
        ComplaintQualityReportedV1(
            request_no=request.request_no, complaint_no=complaint.complaint_no,
            product_model=request.product_model, product_line=request.product_line,
            serial_no=request.serial_no or None, dealer_id=request.dealer_id,
            description=complaint.description, cause=complaint.cause.value,
            received_at=request.received_at, reported_at=at,
        )
    )  # fmt: skip
    request.move(request.status, at, "质量投诉已转质量部门（索赔）",
                 details={"complaint_no": complaint.complaint_no})  # fmt: skip
    return complaint.reported(at)


async def open_complaint(
    uow: UnitOfWork, request_no: str, cause: ComplaintCause, description: str | None, actor: str
) -> Complaint:
    async with uow:
        requests = ServiceRequestRepository(uow.session)
        request = await requests.get(request_no, with_timeline=True, lock=True)
        if request is None:
            raise NotFound(request_no)
        if not _is_complaint(request):
            raise Conflict(f"{request_no} is not a complaint; triage it as one first.")
        register = ComplaintRegister(uow.session)
        if await register.of_request(request_no) is not None:
            raise Conflict(f"{request_no} already has a complaint in the register.")
        now = datetime.now(UTC)
        before = len(request.timeline)
        complaint = Complaint(
            complaint_no=await register.next_number(now.year), request_no=request_no,
            product_model=request.product_model,
            description=description or request.fault_description, cause=cause,
            received_at=request.received_at, opened_at=now,
        )  # fmt: skip
        request.move(
            request.status,
            now,
            f"登记投诉 {complaint.complaint_no}：{_CAUSE_NAMES[cause]}",
            actor=actor,
            details={"complaint_no": complaint.complaint_no, "cause": cause.value},
        )
        complaint = await _pass_on_if_quality(uow, request, complaint, now)
        # Whether it is a quality complaint is now decided, either way.
        await meet_clock(uow.session, request_no, SlaTargetName.COMPLAINT_QUALITY_REPORT, now)
        await register.add(complaint, actor)
        await requests.save(request, request.timeline[before:])
        await uow.commit()
    return complaint


Change = Callable[[UnitOfWork, ServiceRequest, Complaint, datetime], Awaitable[Complaint]]


async def _change(uow: UnitOfWork, request_no: str, change: Change) -> Complaint:
    async with uow:
        requests = ServiceRequestRepository(uow.session)
        request = await requests.get(request_no, with_timeline=True, lock=True)
        register = ComplaintRegister(uow.session)
        complaint = await register.of_request(request_no, lock=True)
        if request is None or complaint is None:
            raise NotFound(request_no)
        before = len(request.timeline)
        complaint = await change(uow, request, complaint, datetime.now(UTC))
        await register.save(complaint)
        await requests.save(request, request.timeline[before:])
        await uow.commit()
    return complaint


async def classify_complaint(
    uow: UnitOfWork, request_no: str, cause: ComplaintCause, actor: str
) -> Complaint:
    async def change(
        uow: UnitOfWork, request: ServiceRequest, complaint: Complaint, at: datetime
    ) -> Complaint:
        complaint = complaint.classify(cause)
        request.move(request.status, at, f"投诉原因改为：{_CAUSE_NAMES[cause]}", actor=actor,
                     details={"cause": cause.value})  # fmt: skip
        return await _pass_on_if_quality(uow, request, complaint, at)

    return await _change(uow, request_no, change)


async def add_handling_step(
    uow: UnitOfWork, request_no: str, kind: StepKind, note: str, actor: str
) -> Complaint:
    async def change(
        uow: UnitOfWork, request: ServiceRequest, complaint: Complaint, at: datetime
    ) -> Complaint:
        complaint = complaint.add_step(HandlingStep(at, kind, note, actor))
        if kind is StepKind.VERIFICATION:
            await meet_clock(
                uow.session, request_no, SlaTargetName.COMPLAINT_FIRST_VERIFICATION, at
            )
        request.move(request.status, at, f"投诉处理（{kind.value}）：{note}", actor=actor)
        return complaint

    return await _change(uow, request_no, change)


async def resolve_complaint(uow: UnitOfWork, request_no: str, result: str, actor: str) -> Complaint:
    async def change(
        _uow: UnitOfWork, request: ServiceRequest, complaint: Complaint, at: datetime
    ) -> Complaint:
        complaint = complaint.resolve(result, at)
        request.move(request.status, at, f"投诉处理结果：{result}", actor=actor)
        return complaint

    return await _change(uow, request_no, change)


async def find_complaint(uow: UnitOfWork, request_no: str) -> Complaint | None:
    async with uow:
        return await ComplaintRegister(uow.session).of_request(request_no)


async def list_complaints(
    uow: UnitOfWork,
    status: ComplaintStatus | None,
    cause: ComplaintCause | None,
    product_model: str | None,
    limit: int,
) -> list[Complaint]:
    async with uow:
        return await ComplaintRegister(uow.session).listed(
            status, cause, product_model, limit=limit
        )


async def analyse_complaints(
    uow: UnitOfWork, received_from: datetime | None, received_to: datetime | None
) -> ComplaintAnalysis:
    async with uow:
        rows = await ComplaintRegister(uow.session).analysed(received_from, received_to)
    return ComplaintAnalysis.of(rows)
