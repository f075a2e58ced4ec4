"""Following a unit sent in for repair; each step goes on the request's timeline, and
arrival, inspection and shipping back are announced (billing charges the return)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from decimal import Decimal

from services.intake.commands.errors import Conflict, NotFound
from services.intake.db.repository import ServiceRequestRepository
from services.intake.db.returns import Returns
from services.intake.domain.return_for_repair import ReturnForRepair, ReturnStatus, WorkshopRepair
from services.intake.domain.service_request import ServiceRequest
from services.intake.domain.workflow import FINAL, RequestStatus
from shared.db.unit_of_work import UnitOfWork
from shared.events.schemas.intake import (
    ReturnInspectedV1,
    ReturnPartV1,
    ReturnReceivedV1,
    ReturnRepairedV1,
    ReturnShippedV1,
)


async def receive_return(
    uow: UnitOfWork, request_no: str, condition: str, accessories: list[str], actor: str
) -> ReturnForRepair:
    async with uow:
        requests = ServiceRequestRepository(uow.session)
        request = await requests.get(request_no, lock=True)
        if request is None:
            raise NotFound(request_no)
        if request.status in FINAL:
            raise Conflict(f"{request_no} is {request.status.value}; reopen it first.")
        returns = Returns(uow.session)
        if await returns.of_request(request_no) is not None:
            raise Conflict(f"{request_no} already has a unit received for repair.")
        now = datetime.now(UTC)
        received = ReturnForRepair(
            return_no=await returns.next_number(now.year), request_no=request_no,
            product_model=request.product_model, serial_no=request.serial_no,
            in_warranty=request.in_warranty, condition=condition,
            accessories=tuple(accessories), received_at=now,
        )  # fmt: skip
        await returns.add(received)
        entry = request.move(
            request.status, now, f"返修件已收到：{condition}", actor=actor,
            details={"return_no": received.return_no, "accessories": accessories},
        )  # fmt: skip
        await requests.save(request, [entry])
        await uow.publish(
            ReturnReceivedV1(
                request_no=request_no, return_no=received.return_no,
                product_model=request.product_model, serial_no=request.serial_no,
                in_warranty=request.in_warranty, condition=condition, accessories=accessories,
                received_at=now,
            )
        )  # fmt: skip
        await uow.commit()
    return received


Step = Callable[[UnitOfWork, ServiceRequest, ReturnForRepair, datetime], Awaitable[ReturnForRepair]]


async def _step(uow: UnitOfWork, request_no: str, step: Step, actor: str) -> ReturnForRepair:
    async with uow:
        requests = ServiceRequestRepository(uow.session)
        request = await requests.get(request_no, lock=True)
        returns = Returns(uow.session)
        current = await returns.of_request(request_no, lock=True)
        if request is None or current is None:
            raise NotFound(request_no)
        now = datetime.now(UTC)
        moved = await step(uow, request, current, now)
        await returns.save(moved)
        last = moved.history[-1]
        # A unit that passed inspection is repaired, as far as the request is concerned.
        status = (
            RequestStatus.REPAIRED
            if moved.status is ReturnStatus.PASSED_INSPECTION and request.status not in FINAL
            else request.status
        )
        details = {"return_no": moved.return_no, "return_status": moved.status.value}
        entry = request.move(status, now, last.note, actor=actor, details=details)
        await requests.save(request, [entry])
        await uow.commit()
    return moved


async def store_return(
    uow: UnitOfWork, request_no: str, location: str, actor: str
) -> ReturnForRepair:
    async def step(_u: UnitOfWork, _r: ServiceRequest, ret: ReturnForRepair, at: datetime
                   ) -> ReturnForRepair:  # fmt: skip
        return ret.store(location, at, actor)

    return await _step(uow, request_no, step, actor)


async def send_return_to_repair(
    uow: UnitOfWork, request_no: str, note: str | None, actor: str
) -> ReturnForRepair:
    async def step(_u: UnitOfWork, _r: ServiceRequest, ret: ReturnForRepair, at: datetime
                   ) -> ReturnForRepair:  # fmt: skip
        return ret.send_to_repair(at, actor, note)

    return await _step(uow, request_no, step, actor)


async def inspect_return(
    uow: UnitOfWork, request_no: str, passed: bool, notes: str | None, actor: str,
    repair: WorkshopRepair | None = None,
) -> ReturnForRepair:  # fmt: skip
    async def step(u: UnitOfWork, _r: ServiceRequest, ret: ReturnForRepair, at: datetime
                   ) -> ReturnForRepair:  # fmt: skip
        inspected = ret.inspect(passed, notes, at, actor, repair)
        await u.publish(ReturnInspectedV1(request_no=request_no, return_no=ret.return_no,
                                          passed=passed, notes=notes, inspected_at=at))  # fmt: skip
        if inspected.repair is not None and passed:
            await u.publish(_repaired(inspected, inspected.repair, at))
        return inspected

    return await _step(uow, request_no, step, actor)


def _repaired(ret: ReturnForRepair, repair: WorkshopRepair, at: datetime) -> ReturnRepairedV1:
    return ReturnRepairedV1(
        request_no=ret.request_no, return_no=ret.return_no, product_model=ret.product_model,
        serial_no=ret.serial_no, in_warranty=ret.in_warranty, cause=repair.cause.value,
        fault_code=repair.fault_code, labour_hours=repair.labour_hours,
        parts_replaced=[
            ReturnPartV1(part_no=p.part_no, quantity=p.quantity, old_part_serial=p.old_part_serial)
            for p in repair.parts_replaced
        ],
        repaired_by=repair.repaired_by, repaired_at=at,
    )  # fmt: skip


async def ship_return(
    uow: UnitOfWork, request_no: str, carrier: str, tracking_no: str, cost: Decimal | None,
    actor: str,
) -> ReturnForRepair:  # fmt: skip
    async def step(u: UnitOfWork, _r: ServiceRequest, ret: ReturnForRepair, at: datetime
                   ) -> ReturnForRepair:  # fmt: skip
        shipped = ret.ship(carrier, tracking_no, cost, at, actor)
        await u.publish(ReturnShippedV1(request_no=request_no, return_no=ret.return_no,
                                        carrier=carrier, tracking_no=tracking_no,
                                        shipping_cost=cost, shipped_at=at))  # fmt: skip
        return shipped

    return await _step(uow, request_no, step, actor)


async def confirm_return_receipt(uow: UnitOfWork, request_no: str, actor: str) -> ReturnForRepair:
    async def step(_u: UnitOfWork, _r: ServiceRequest, ret: ReturnForRepair, at: datetime
                   ) -> ReturnForRepair:  # fmt: skip
        return ret.confirm_receipt(at, actor)

    return await _step(uow, request_no, step, actor)


async def find_return(uow: UnitOfWork, request_no: str) -> ReturnForRepair | None:
    async with uow:
        return await Returns(uow.session).of_request(request_no)


async def list_returns(
    uow: UnitOfWork, status: ReturnStatus | None, limit: int
) -> list[ReturnForRepair]:
    async with uow:
        return await Returns(uow.session).listed(status, limit)
