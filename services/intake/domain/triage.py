"""Triage: what a request is, how urgent, which skill it needs, and whether someone must go.

The rules decide on their own only when the request already carries what they need; an
agent can always triage by hand and change the result.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from services.intake.domain.service_request import (
    Channel,
    CustomerAsks,
    Kind,
    ServiceRequest,
    Severity,
)


class Route(StrEnum):
    DISPATCH = "dispatch"  # a technician goes
    WORKSHOP = "workshop"  # the unit is sent in; intake's return-for-repair follows it
    CLAIMS = "claims"  # a dealer already did the work and claims it
    REMOTE = "remote"  # answered on the phone; no visit


@dataclass(frozen=True)
class TriageDecision:
    kind: Kind
    severity: Severity
    visit_needed: bool
    route: Route


# What the customer asks for, when it says plainly what kind of request it is. Replacement
# and refund need an agent's judgement.
_KIND_OF_ASK = {
    CustomerAsks.REPAIR: Kind.REPAIR,
    CustomerAsks.INSTALLATION: Kind.INSTALLATION,
    CustomerAsks.MAINTENANCE: Kind.MAINTENANCE,
    CustomerAsks.CONSULTATION: Kind.CONSULTATION,
}
VISIT_KINDS = frozenset({Kind.REPAIR, Kind.INSTALLATION, Kind.MAINTENANCE})


@dataclass(frozen=True)
class TriageRules:
    channels: frozenset[Channel] = field(
        default_factory=lambda: frozenset({Channel.DEALER, Channel.WEB})
    )

    def decide(self, request: ServiceRequest) -> TriageDecision | None:
        """The automatic decision, or None when the request waits for an agent."""
        if request.channel not in self.channels:
            return None
        if request.product_line is None or not request.customer.region:
            return None  # unknown model (no skill to match) or nowhere to send anyone
        if request.severity is None or request.customer_asks is None:
            return None
        if request.work_done is not None:
            return TriageDecision(Kind.REPAIR, request.severity, False, Route.CLAIMS)
        kind = _KIND_OF_ASK.get(request.customer_asks)
        if kind is None:
            return None
        return decision_for(kind, request.severity)


def decision_for(
    kind: Kind, severity: Severity, visit_needed: bool | None = None
) -> TriageDecision:
    """An agent's triage: the visit follows from the kind unless the agent says otherwise."""
    visit = kind in VISIT_KINDS if visit_needed is None else visit_needed
    if visit:
        return TriageDecision(kind, severity, True, Route.DISPATCH)
    # A unit sent in is repaired in the workshop, not answered on the phone.
    route = Route.WORKSHOP if kind is Kind.RETURN_FOR_REPAIR else Route.REMOTE
    return TriageDecision(kind, severity, False, route)


def parse_channels(text: str) -> frozenset[Channel]:
    return frozenset(Channel(part.strip()) for part in text.split(",") if part.strip())
