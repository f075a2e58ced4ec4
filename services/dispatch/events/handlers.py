"""How dispatch reacts to other services' events. Each runs inside the consumer's unit of work
(inbox row included); it must not commit. Events may arrive out of order, twice, or for jobs
never heard of: a cancellation that overtakes its triage leaves a cancelled placeholder the
late triage does not revive; billing's or parts' news of an unknown job is kept on a
placeholder until the triage comes."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from services.dispatch.commands.assignment import SYSTEM
from services.dispatch.commands.intake_jobs import Triaged, cancel, placeholder, take_triaged
from services.dispatch.commands.triaged_together import take_all_triaged
from services.dispatch.db.jobs import JobRepository
from services.dispatch.db.models import JobRow
from services.dispatch.db.repository import IncomingRequestRepository
from services.dispatch.domain.incoming_request import IncomingRequest
from services.dispatch.settings import handler_settings
from shared.db.unit_of_work import UnitOfWork
from shared.events.envelope import Envelope
from shared.events.schemas.billing import QuoteAcceptedV1, QuoteDeclinedV1, QuoteIssuedV1
from shared.events.schemas.intake import (
    IntakeSlaBreachedV1,
    RequestCancelledV1,
    RequestClosedV1,
    RequestRegisteredV1,
    RequestTriagedV1,
    RequestTriagedV2,
    SurveyRecordedV1,
)
from shared.events.schemas.parts import (
    PartsIssuedV1,
    ReservationBackorderedV1,
    ReservationConfirmedV1,
    ReservationReleasedV1,
)


async def on_request_registered(
    uow: UnitOfWork, event: RequestRegisteredV1, envelope: Envelope
) -> None:
    await IncomingRequestRepository(uow.session).record(_incoming(event, envelope))


async def on_requests_registered(
    uow: UnitOfWork, events: Sequence[tuple[RequestRegisteredV1, Envelope]]
) -> None:
    """``on_request_registered`` for each, in one round trip."""
    await IncomingRequestRepository(uow.session).record_all(
        [_incoming(event, envelope) for event, envelope in events]
    )


def _incoming(event: RequestRegisteredV1, envelope: Envelope) -> IncomingRequest:
    return IncomingRequest(
        request_no=event.request_no,
        customer_name=event.customer_name,
        product_model=event.product_model,
        fault_description=event.fault_description,
        received_at=event.received_at,
        recorded_at=datetime.now(UTC),
        correlation_id=envelope.correlation_id,
    )


async def on_request_triaged(uow: UnitOfWork, event: RequestTriagedV1, _env: Envelope) -> None:
    triaged = Triaged(
        request_no=event.request_no,
        kind=event.kind,
        severity=event.severity,
        visit_needed=event.visit_needed,
        product_line=event.product_line,
        product_model=event.product_model,
        serial_no=event.serial_no,
        customer_name=event.customer_name,
        customer_phone=event.customer_phone,
        address=event.address,
        region=event.region,
        response_due_at=event.response_due_at,
        triaged_at=event.triaged_at,
        in_warranty=event.in_warranty,
    )
    await take_triaged(uow, handler_settings(), triaged, datetime.now(UTC))


async def on_request_triaged_v2(uow: UnitOfWork, event: RequestTriagedV2, _env: Envelope) -> None:
    await take_triaged(uow, handler_settings(), triaged_v2(event), datetime.now(UTC))


async def on_requests_triaged_v2(
    uow: UnitOfWork, events: Sequence[tuple[RequestTriagedV2, Envelope]]
) -> None:
    """``on_request_triaged_v2`` for each in turn, in a few statements for them all."""
    items = [(triaged_v2(event), envelope) for event, envelope in events]
    await take_all_triaged(uow, handler_settings(), items, datetime.now(UTC))


def triaged_v2(event: RequestTriagedV2) -> Triaged:
    return Triaged(
        request_no=event.request_no,
        kind=event.kind,
        severity=event.severity,
        visit_needed=event.visit_needed,
        product_line=event.product_line,
        product_model=event.product_model,
        serial_no=event.serial_no,
        customer_name=event.customer_name,
        customer_phone=event.customer_phone,
        address=event.address,
        region=event.region,
        response_due_at=event.response_due_at,
        triaged_at=event.triaged_at,
        fault_description=event.fault_description,
        purchase_date=event.purchase_date,
        in_warranty=event.in_warranty,
        dealer_id=event.dealer_id,
        customer_id=event.customer_id,
        latitude=None if event.latitude is None else float(event.latitude),
        longitude=None if event.longitude is None else float(event.longitude),
    )


async def _job(uow: UnitOfWork, request_no: str, at: datetime) -> JobRow:
    jobs = JobRepository(uow.session)
    job = await jobs.get(request_no, lock=True)
    if job is None:
        job = placeholder(request_no, at)
        jobs.add(job)
        await uow.session.flush()
    return job


async def on_request_cancelled(uow: UnitOfWork, event: RequestCancelledV1, _env: Envelope) -> None:
    job = await _job(uow, event.request_no, event.cancelled_at)
    await cancel(uow, job, event.reason, event.cancelled_at)


async def on_request_closed(uow: UnitOfWork, event: RequestClosedV1, _env: Envelope) -> None:
    """Intake closed the request: a job still open is no longer wanted."""
    job = await _job(uow, event.request_no, event.closed_at)
    if job.intake_closed_at is None:
        job.intake_closed_at = event.closed_at
    if job.arrived_at is None:
        await cancel(uow, job, "request closed at intake", event.closed_at)


async def on_intake_sla_breached(
    uow: UnitOfWork, event: IntakeSlaBreachedV1, _env: Envelope
) -> None:
    """Counted on the job: the board shows requests intake already answered late."""
    job = await _job(uow, event.request_no, event.breached_at)
    job.intake_sla_breaches = (job.intake_sla_breaches or 0) + 1
    await JobRepository(uow.session).note(
        job, "intake_sla_breached", SYSTEM, event.breached_at, note=event.target
    )


async def on_survey_recorded(uow: UnitOfWork, event: SurveyRecordedV1, _env: Envelope) -> None:
    """The customer's score, kept on the job for the technician's satisfaction."""
    job = await _job(uow, event.request_no, event.recorded_at)
    job.satisfaction_score = event.score


async def on_quote_issued(uow: UnitOfWork, event: QuoteIssuedV1, _env: Envelope) -> None:
    job = await _job(uow, event.request_no, event.issued_at)
    if job.quote_state in (None, "issued"):
        job.quote_state, job.quote_no = "issued", event.quote_no
        await JobRepository(uow.session).note(
            job, "quote_issued", SYSTEM, event.issued_at, note=event.quote_no
        )


async def on_quote_accepted(uow: UnitOfWork, event: QuoteAcceptedV1, _env: Envelope) -> None:
    job = await _job(uow, event.request_no, event.accepted_at)
    if job.quote_state != "declined":
        job.quote_state, job.quote_no = "accepted", event.quote_no
        await JobRepository(uow.session).note(
            job, "quote_accepted", SYSTEM, event.accepted_at, note=event.quote_no
        )


async def on_quote_declined(uow: UnitOfWork, event: QuoteDeclinedV1, _env: Envelope) -> None:
    """The customer declined the paid work: the job closes."""
    job = await _job(uow, event.request_no, event.declined_at)
    job.quote_state, job.quote_no = "declined", event.quote_no
    await cancel(
        uow, job, f"quote declined: {event.reason or 'no reason given'}", event.declined_at
    )


async def _parts(uow: UnitOfWork, request_no: str, state: str, at: datetime) -> None:
    job = await _job(uow, request_no, at)
    job.parts_state = state
    await JobRepository(uow.session).note(job, f"parts_{state}", SYSTEM, at)


async def on_reservation_confirmed(
    uow: UnitOfWork, event: ReservationConfirmedV1, _env: Envelope
) -> None:
    await _parts(uow, event.request_no, "reserved", event.confirmed_at)


async def on_reservation_backordered(
    uow: UnitOfWork, event: ReservationBackorderedV1, _env: Envelope
) -> None:
    await _parts(uow, event.request_no, "backordered", event.backordered_at)


async def on_reservation_released(
    uow: UnitOfWork, event: ReservationReleasedV1, _env: Envelope
) -> None:
    await _parts(uow, event.request_no, "released", event.released_at)


async def on_parts_issued(uow: UnitOfWork, event: PartsIssuedV1, _env: Envelope) -> None:
    await _parts(uow, event.request_no, "issued", event.issued_at)
