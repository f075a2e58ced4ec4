"""How dispatch reacts to other services' events. Each runs inside the consumer's unit of work
(inbox row included); it must not commit."""

from __future__ import annotations

from datetime import UTC, datetime

from services.dispatch.db.repository import IncomingRequestRepository
from services.dispatch.domain.incoming_request import IncomingRequest
from shared.db.unit_of_work import UnitOfWork
from shared.events.envelope import Envelope
from shared.events.schemas.intake import RequestRegisteredV1


async def on_request_registered(
    uow: UnitOfWork, event: RequestRegisteredV1, envelope: Envelope
) -> None:
    await IncomingRequestRepository(uow.session).add(
        IncomingRequest(
            request_no=event.request_no,
            customer_name=event.customer_name,
            product_model=event.product_model,
            fault_description=event.fault_description,
            received_at=event.received_at,
            recorded_at=datetime.now(UTC),
            correlation_id=envelope.correlation_id,
        )
    )
