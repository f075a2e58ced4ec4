"""How dispatch reacts to other services' events. Each runs inside the consumer's unit of work
(inbox row included); it must not commit. Events may arrive out of order: a cancellation
that overtakes its triage leaves a cancelled job the late triage does not revive."""

from __future__ import annotations

from datetime import UTC, datetime

from services.dispatch.db.jobs import JobRepository
from services.dispatch.db.repository import IncomingRequestRepository
from services.dispatch.domain.incoming_request import IncomingRequest
from services.dispatch.domain.job import Job, JobStatus
from shared.db.unit_of_work import UnitOfWork
from shared.events.envelope import Envelope
from shared.events.schemas.intake import (
    RequestCancelledV1,
    RequestRegisteredV1,
    RequestTriagedV1,
)


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


async def on_request_triaged(uow: UnitOfWork, event: RequestTriagedV1, _env: Envelope) -> None:
    jobs = JobRepository(uow.session)
    now = datetime.now(UTC)
    job = await jobs.get(event.request_no, lock=True)
    if job is not None and job.status is JobStatus.CANCELLED:
        return
    if not event.visit_needed:
        # Re-triaged to no visit: the job it had is no longer wanted.
        if job is not None and job.cancel("re-triaged: no visit needed", now):
            await jobs.save(job)
        return
    await jobs.save(
        Job(
            request_no=event.request_no,
            kind=event.kind,
            severity=event.severity,
            required_skill=event.product_line,
            product_model=event.product_model,
            serial_no=event.serial_no,
            customer_name=event.customer_name,
            customer_phone=event.customer_phone,
            address=event.address,
            region=event.region,
            response_due_at=event.response_due_at,
            status=JobStatus.UNASSIGNED,
            created_at=job.created_at if job else now,
            updated_at=now,
        )
    )


async def on_request_cancelled(uow: UnitOfWork, event: RequestCancelledV1, _env: Envelope) -> None:
    jobs = JobRepository(uow.session)
    job = await jobs.get(event.request_no, lock=True)
    if job is None:
        # The cancellation overtook the triage: keep a cancelled placeholder so the triage,
        # when it comes, finds the request already cancelled.
        job = Job(
            request_no=event.request_no, kind="", severity="", required_skill=None,
            product_model="", serial_no="", customer_name="", customer_phone="",
            address=None, region=None, response_due_at=None, status=JobStatus.UNASSIGNED,
            created_at=event.cancelled_at, updated_at=event.cancelled_at,
        )  # fmt: skip
    if job.cancel(event.reason, event.cancelled_at):
        await jobs.save(job)
