"""How intake reacts to events. Each runs inside the consumer's unit of work and must not
commit."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache

from services.intake.commands.workflow import triage_in
from services.intake.db.repository import ServiceRequestRepository
from services.intake.domain.triage import TriageRules, parse_channels
from services.intake.domain.workflow import RequestStatus
from services.intake.settings import IntakeSettings
from shared.db.unit_of_work import UnitOfWork
from shared.events.envelope import Envelope
from shared.events.schemas.intake import RequestRegisteredV1


@cache
def triage_rules() -> TriageRules:
    # Read once, on the first event, not at import.
    return TriageRules(channels=parse_channels(IntakeSettings().auto_triage_channels))


async def on_request_registered(
    uow: UnitOfWork, event: RequestRegisteredV1, _envelope: Envelope
) -> None:
    """Triage automatically what carries enough to decide; the rest waits for an agent.

    Runs after registration rather than inside it, so that the dealer's 201 says
    ``received`` as the contract shows, and a failing rule never loses a registration.
    """
    requests = ServiceRequestRepository(uow.session)
    request = await requests.get(event.request_no, with_timeline=True, lock=True)
    if request is None or request.status is not RequestStatus.RECEIVED:
        return  # an agent got there first
    decision = triage_rules().decide(request)
    if decision is None:
        return
    entries = await triage_in(uow, request, decision, datetime.now(UTC), actor=None)
    await requests.save(request, entries)
