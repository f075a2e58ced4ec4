"""How parts reacts to events. Each runs inside the consumer's unit of work and must not
commit; each tolerates duplicates, any order, and jobs it has never heard of."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import cache

from services.parts.commands import cores, replenishment
from services.parts.commands.reservations import (
    JobParts,
    cancel_job,
    consume,
    job_on_site,
    reserve,
)
from services.parts.db import jobs
from services.parts.db.stockroom import Stockroom
from services.parts.domain.allocation import Priority
from services.parts.settings import PartsSettings
from shared.db.unit_of_work import UnitOfWork
from shared.events.envelope import Envelope
from shared.events.schemas.claims import SupplierRecoveryIssuedV1, SupplierRecoveryWithdrawnV1
from shared.events.schemas.dispatch import JobCompletedV1, JobOnSiteV1, PartsRequestedV1
from shared.events.schemas.intake import (
    DealerWorkReportedV1,
    RequestCancelledV1,
    ReturnRepairedV1,
)
from shared.events.schemas.parts import StockLowV1


@cache
def settings() -> PartsSettings:
    # Read once, on the first event, not at import.
    return PartsSettings()


def _now() -> datetime:
    return datetime.now(UTC)


async def on_parts_requested(uow: UnitOfWork, event: PartsRequestedV1, _e: Envelope) -> None:
    await reserve(
        Stockroom(uow, _now(), actor="dispatch"),
        JobParts(
            request_no=event.request_no,
            service_point_id=event.service_point_id,
            technician_id=event.technician_id,
            priority=Priority.of(event.priority),
            lines=[(line.part_no, line.quantity) for line in event.lines],
            requested_at=event.requested_at,
        ),
        settings().reservation_hold,
    )


async def on_job_on_site(uow: UnitOfWork, event: JobOnSiteV1, _e: Envelope) -> None:
    await job_on_site(
        Stockroom(uow, _now(), actor="dispatch"), event.request_no, event.technician_id
    )


async def on_request_cancelled(uow: UnitOfWork, event: RequestCancelledV1, _e: Envelope) -> None:
    await cancel_job(Stockroom(uow, _now(), actor="intake"), event.request_no)


async def on_job_completed(uow: UnitOfWork, event: JobCompletedV1, _e: Envelope) -> None:
    """Parts used are consumed; old parts replaced under warranty are expected back."""
    stockroom = Stockroom(uow, _now(), actor="dispatch")
    job = await jobs.job(uow.session, event.request_no)
    if job.completed_at is not None:
        return  # a second completion of the same job changes nothing
    await consume(
        stockroom,
        event.request_no,
        event.service_point_id,
        event.technician_id,
        [(line.part_no, line.quantity) for line in event.parts_used],
    )
    await cores.expect_returns(
        stockroom,
        event.request_no,
        event.service_point_id,
        event.in_warranty,
        [(line.part_no, line.quantity, list(line.serials)) for line in event.old_parts_removed],
        timedelta(days=settings().core_return_days),
    )


async def on_dealer_work_reported(
    uow: UnitOfWork, event: DealerWorkReportedV1, _e: Envelope
) -> None:
    """A dealer replaced parts and claims under warranty: their old parts must come back to
    the old-parts store like a technician's."""
    await _expect_replaced_parts(uow, event.request_no, event.in_warranty, event.cause, [
        (line.part_no, line.quantity, line.old_part_serial) for line in event.parts_replaced
    ])  # fmt: skip


async def _expect_replaced_parts(
    uow: UnitOfWork,
    request_no: str,
    in_warranty: bool | None,
    cause: str,
    replaced: list[tuple[str, int, str | None]],
) -> None:
    """Old parts replaced outside our own jobs (a dealer's, the workshop's), one serial per
    line if any; none after misuse, which no warranty covers."""
    if cause == "misuse":
        return
    await cores.expect_returns(
        Stockroom(uow, _now(), actor="intake"),
        request_no,
        None,
        in_warranty,
        [(part_no, quantity, [serial] if serial else []) for part_no, quantity, serial in replaced],
        timedelta(days=settings().core_return_days),
    )


async def on_supplier_recovery_issued(
    uow: UnitOfWork, event: SupplierRecoveryIssuedV1, _e: Envelope
) -> None:
    await cores.notify_supplier(
        Stockroom(uow, _now(), actor="claims"),
        event.recovery_no,
        event.supplier_id,
        event.request_no,
        list(event.part_nos),
        timedelta(days=settings().supplier_collection_days),
    )


async def on_supplier_recovery_withdrawn(
    uow: UnitOfWork, event: SupplierRecoveryWithdrawnV1, _e: Envelope
) -> None:
    await cores.withdraw_collection(
        Stockroom(uow, _now(), actor="claims"),
        event.recovery_no,
        event.supplier_id,
        event.request_no,
        list(event.part_nos),
    )


async def on_return_repaired(uow: UnitOfWork, event: ReturnRepairedV1, _e: Envelope) -> None:
    """The workshop replaced parts in a unit sent in: their old parts go to the old-parts
    store like a technician's."""
    await _expect_replaced_parts(uow, event.request_no, event.in_warranty, event.cause, [
        (line.part_no, line.quantity, line.old_part_serial) for line in event.parts_replaced
    ])  # fmt: skip


async def on_stock_low(uow: UnitOfWork, event: StockLowV1, _e: Envelope) -> None:
    """Parts's own event: the suggestion is filed into the warehouse's draft replenishment
    plan, where the service centre reviews and submits it."""
    quantity = event.reorder_quantity or max(event.reorder_point - event.available, 1)
    await replenishment.suggest(uow.session, event.warehouse_id, event.part_no, quantity, _now())
