"""What intake does, each a function over one unit of work; routes and event handlers call
these, so the same rule holds whichever way a request comes in."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from services.intake.db.repository import ServiceRequestRepository
from services.intake.domain.service_request import Channel, ServiceRequest
from shared.db.unit_of_work import UnitOfWork
from shared.events.schemas.intake import RequestRegisteredV1


@dataclass(frozen=True)
class RegisterRequest:
    channel: Channel
    customer_name: str
    customer_phone: str
    product_model: str
    serial_no: str
    fault_description: str


async def register_request(uow: UnitOfWork, command: RegisterRequest) -> ServiceRequest:
    received_at = datetime.now(UTC)
    async with uow:
        requests = ServiceRequestRepository(uow.session)
        number = await requests.next_number(received_at.year)
        request = ServiceRequest(
            request_no=str(number),
            channel=command.channel,
            customer_name=command.customer_name,
            customer_phone=command.customer_phone,
            product_model=command.product_model,
            serial_no=command.serial_no,
            fault_description=command.fault_description,
            received_at=received_at,
        )
        await requests.add(request)
        await uow.publish(
            RequestRegisteredV1(
                request_no=request.request_no,
                channel=request.channel.value,
                customer_name=request.customer_name,
                product_model=request.product_model,
                serial_no=request.serial_no,
                fault_description=request.fault_description,
                received_at=request.received_at,
            )
        )
        await uow.commit()
    return request


async def find_request(uow: UnitOfWork, request_no: str) -> ServiceRequest | None:
    async with uow:
        return await ServiceRequestRepository(uow.session).get(request_no)
