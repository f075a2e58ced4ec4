"""How intake reacts to events. Each runs inside the consumer's unit of work and must not
commit."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from functools import cache
from typing import Any, Protocol, TypeVar

from sqlalchemy import select

from services.intake.commands.workflow import triage_in
from services.intake.db.models import QualityAlertRow
from services.intake.db.progress import ProgressRepository
from services.intake.db.repository import ServiceRequestRepository
from services.intake.domain.service_request import DepartmentReport, RequestProgress, Technician
from services.intake.domain.triage import TriageRules, parse_channels
from services.intake.domain.workflow import RequestStatus
from services.intake.settings import IntakeSettings
from shared.db.unit_of_work import UnitOfWork
from shared.events.envelope import Envelope
from shared.events.registry import EventSchema
from shared.events.schemas.claims import QualityAlertRaisedV1
from shared.events.schemas.dispatch import JobAssignedV1
from shared.events.schemas.intake import RequestRegisteredV1, RequestTriagedV2
from shared.messaging.consumer import Subscription
from shared.messaging.transaction_events import transaction_events
from shared.observability.context import correlated

log = logging.getLogger(__name__)


@cache
def triage_rules() -> TriageRules:
    # Read once, on the first event, not at import.
    return TriageRules(channels=parse_channels(IntakeSettings().auto_triage_channels))


async def on_request_registered(
    uow: UnitOfWork, event: RequestRegisteredV1, _envelope: Envelope
) -> None:
    """Triage automatically what carries enough to decide; the rest waits for an agent.

    Dealers' reports are triaged inside their registration (``register_in``), and a
    report that gets here is past ``received``; requests from the other channels are triaged
    here, after registration. Most dealers' reports do not get here at all
    (``triaged_when_registered``).
    """
    requests = ServiceRequestRepository(uow.session)
    # A dealer's report was triaged when it was registered: its status alone, one narrow
    # statement, says so. The row stays locked, so an agent's triage waits for this one.
    if await requests.locked_status(event.request_no) is not RequestStatus.RECEIVED:
        return  # triaged at registration, or an agent got there first (or unknown)
    # Without its timeline: triage only adds entries.
    request = await requests.get(event.request_no, lock=True)
    if request is None:
        return
    decision = triage_rules().decide(request)
    if decision is None:
        return
    entries = await triage_in(uow, request, decision, datetime.now(UTC), actor=None)
    await requests.save(request, entries)


_REGISTERED = RequestRegisteredV1.routing_key()
_TRIAGED = RequestTriagedV2.event_type


def triaged_when_registered(_envelope: Envelope, headers: Mapping[str, Any]) -> bool:
    """Whether the request was triaged in the very transaction that registered it, which is
    what registration does with a dealer's report the rules can decide: the relay names the
    events written together in the ``x-transaction-events`` header.

    Then ``on_request_registered`` has nothing to do, whenever it runs: the request left
    ``received`` when the registration committed and no request ever returns there. Events
    "written together" are one request's: ``register_in`` publishes one registration per
    transaction, and dealer reports registered together in one transaction
    (``submit_dealer_reports``) write each report's events apart (``add_apart_to_outbox``:
    their own ``created_at``, by which the relay tells them apart), so the triage named
    beside a registration is that request's. The count of registrations is checked all the
    same, so that events of several requests named together are never taken for this (the
    relay may also name a piece of work partly, never more than it wrote: see
    ``shared.messaging.transaction_events``).
    """
    keys = transaction_events(headers)
    registrations = keys.count(_REGISTERED)
    return registrations == 1 and any(key.rsplit(".v", 1)[0] == _TRIAGED for key in keys)


class AboutARequest(Protocol):
    @property
    def request_no(self) -> str | None: ...


E = TypeVar("E", bound=EventSchema)


def followed(schema: type[E], report_of: Callable[[E], DepartmentReport]) -> Subscription[E]:
    """Intake follows a department's event: it puts the event on its request's timeline
    and, if it is the newest one that carries a status, moves the request there.

    An event for a request intake does not know (another installation's, or a test's) is
    logged and dropped: retrying would not make the request appear.
    """

    async def follow(uow: UnitOfWork, event: E, envelope: Envelope) -> None:
        if event.request_no is None:
            return  # billing documents not tied to a request
        # Only what following changes, not the request and its whole timeline: this runs
        # for every department's event, one per assignment at least.
        progresses = ProgressRepository(uow.session)
        read = await progresses.locked(event.request_no)
        if read is None:
            _unknown(event, envelope)
            return
        progress = _advanced(read, event)
        report = _with_technician_name(report_of(event), progress.technician)
        shown = await progresses.timeline_at(event.request_no, report)
        entry = progress.follow(report, shown, datetime.now(UTC))
        await progresses.save(event.request_no, read, progress, entry)

    async def follow_all(uow: UnitOfWork, events: Sequence[tuple[E, Envelope]]) -> None:
        """``follow`` for each in turn, with the statements of many requests at once on
        PostgreSQL: a request's events are taken a batch each, so that each sees the one
        before it as ``follow`` would."""
        if uow.session.get_bind().dialect.name != "postgresql":
            for event, envelope in events:
                await follow(uow, event, envelope)
            return
        for batch in _one_per_request([item for item in events if item[0].request_no is not None]):
            await _follow_batch(uow, batch)

    async def _follow_batch(uow: UnitOfWork, batch: list[tuple[E, Envelope]]) -> None:
        progresses = ProgressRepository(uow.session)
        read = await progresses.locked_all([event.request_no for event, _ in batch])
        known: list[tuple[str, RequestProgress, RequestProgress, DepartmentReport]] = []
        for event, envelope in batch:
            request_no = event.request_no
            assert request_no is not None
            if request_no not in read:
                _unknown(event, envelope)
                continue
            progress = _advanced(read[request_no], event)
            report = _with_technician_name(report_of(event), progress.technician)
            known.append((request_no, read[request_no], progress, report))
        shown = await progresses.timeline_at_all([(no, report) for no, _, _, report in known])
        now = datetime.now(UTC)
        await progresses.save_all(
            [
                (no, was, progress, progress.follow(report, at, now))
                for (no, was, progress, report), at in zip(known, shown, strict=True)
            ]
        )

    return Subscription(schema, follow, handle_all=follow_all)


def _advanced(read: RequestProgress, event: AboutARequest) -> RequestProgress:
    """A copy of what was read, with the technician an assignment names."""
    progress = replace(read)
    if isinstance(event, JobAssignedV1):
        progress.assign(Technician(event.technician_id, event.technician_name,
                                   event.assigned_at))  # fmt: skip
    return progress


def _unknown(event: AboutARequest, envelope: Envelope) -> None:
    with correlated(envelope.correlation_id, str(envelope.id)):
        log.info("event for an unknown request", extra={
            "event_type": envelope.type, "request_no": event.request_no})  # fmt: skip


def _one_per_request(events: list[tuple[E, Envelope]]) -> list[list[tuple[E, Envelope]]]:
    """The events in order, cut wherever one is about a request the current batch has."""
    batches: list[list[tuple[E, Envelope]]] = [[]]
    seen: set[str | None] = set()
    for event, envelope in events:
        if event.request_no in seen:
            batches.append([])
            seen = set()
        batches[-1].append((event, envelope))
        seen.add(event.request_no)
    return [batch for batch in batches if batch]


def _with_technician_name(
    report: DepartmentReport, technician: Technician | None
) -> DepartmentReport:
    """Dispatch names the technician only when assigning; the dealer contract shows the name
    with the appointment and the arrival too."""
    details = report.details or {}
    if (
        technician is None
        or "technician_name" in details
        or details.get("technician_id") != technician.technician_id
    ):
        return report
    return replace(report, details={**details, "technician_name": technician.name})


async def on_quality_alert(
    uow: UnitOfWork, event: QualityAlertRaisedV1, _envelope: Envelope
) -> None:
    """Keep the alert for the model's requests; a repeated or older alert for the same cause
    and quarter keeps the highest count."""
    row = (
        await uow.session.execute(
            select(QualityAlertRow)
            .where(
                QualityAlertRow.product_model == event.product_model,
                QualityAlertRow.fault_code == event.fault_code,
                QualityAlertRow.quarter == event.quarter,
            )
            .with_for_update()
        )
    ).scalar_one_or_none()
    if row is None:
        uow.session.add(
            QualityAlertRow(
                product_model=event.product_model, fault_code=event.fault_code,
                quarter=event.quarter, count=event.count, threshold=event.threshold,
                raised_at=event.raised_at,
            )
        )  # fmt: skip
    elif event.count > row.count:
        row.count, row.threshold, row.raised_at = event.count, event.threshold, event.raised_at
    await uow.session.flush()
