"""The life of a service request, as intake tracks it.

Staff move a request through intake's own steps (acknowledge, triage, resolve remotely,
cancel, close, reopen); the other departments' events move it through theirs (assigned, on
site, waiting for parts, repaired, claim decided, invoiced, paid). Refused moves name what
would have been allowed. Department events may arrive twice or out of order: an older event
never overwrites what a newer one said.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum


class RequestStatus(StrEnum):
    RECEIVED = "received"
    ACKNOWLEDGED = "acknowledged"
    TRIAGED = "triaged"
    RESOLVED_REMOTELY = "resolved_remotely"
    HANDED_TO_DISPATCH = "handed_to_dispatch"
    ASSIGNED = "assigned"
    ON_SITE = "on_site"
    WAITING_PARTS = "waiting_parts"
    REPAIRED = "repaired"
    CLAIM_SUBMITTED = "claim_submitted"
    CLAIM_APPROVED = "claim_approved"
    CLAIM_PARTIALLY_APPROVED = "claim_partially_approved"
    CLAIM_REJECTED = "claim_rejected"
    INVOICED = "invoiced"
    PAID = "paid"
    CLOSED = "closed"
    CANCELLED = "cancelled"


S = RequestStatus
FINAL = frozenset({S.CLOSED, S.CANCELLED})
# What the other departments report; intake follows, it does not decide these.
DEPARTMENT_STATUSES = frozenset(
    {
        S.ASSIGNED,
        S.ON_SITE,
        S.WAITING_PARTS,
        S.REPAIRED,
        S.CLAIM_SUBMITTED,
        S.CLAIM_APPROVED,
        S.CLAIM_PARTIALLY_APPROVED,
        S.CLAIM_REJECTED,
        S.INVOICED,
        S.PAID,
    }
)
# The work is done (or decided) and the request can be closed.
CLOSABLE = frozenset(
    {
        S.RESOLVED_REMOTELY,
        S.REPAIRED,
        S.CLAIM_APPROVED,
        S.CLAIM_PARTIALLY_APPROVED,
        S.CLAIM_REJECTED,
        S.INVOICED,
        S.PAID,
    }
)

# Staff actions: from which statuses each is allowed.
STAFF_MOVES: dict[str, frozenset[RequestStatus]] = {
    "acknowledge": frozenset({S.RECEIVED}),
    # An agent can always change a triage until a technician has been assigned.
    "triage": frozenset({S.RECEIVED, S.ACKNOWLEDGED, S.TRIAGED, S.HANDED_TO_DISPATCH}),
    "resolve_remotely": frozenset({S.ACKNOWLEDGED, S.TRIAGED}),
    "close": CLOSABLE,
    "cancel": frozenset(set(S) - FINAL),
    "reopen": frozenset({S.CLOSED}),
}
REOPEN_WINDOW = timedelta(days=30)


class IllegalTransition(Exception):
    """The move is not allowed from the current status; ``allowed`` names what is."""

    def __init__(self, action: str, status: RequestStatus, allowed: list[str]) -> None:
        super().__init__(f"cannot {action.replace('_', ' ')} a request that is {status.value}")
        self.action = action
        self.status = status
        self.allowed = allowed


def allowed_actions(status: RequestStatus) -> list[str]:
    return sorted(action for action, sources in STAFF_MOVES.items() if status in sources)


def check_staff_move(action: str, status: RequestStatus) -> None:
    if status not in STAFF_MOVES[action]:
        raise IllegalTransition(action, status, allowed_actions(status))


def check_reopen(closed_at: datetime, now: datetime, window: timedelta = REOPEN_WINDOW) -> None:
    if now - closed_at > window:
        raise IllegalTransition("reopen", S.CLOSED, [])


@dataclass(frozen=True)
class DepartmentUpdate:
    status: RequestStatus
    occurred_at: datetime


def follows(
    current: RequestStatus, last_department_update: datetime | None, update: DepartmentUpdate
) -> bool:
    """Whether a department's report moves the request's status.

    Every report goes on the timeline; only a report newer than the last one moves the
    status, and nothing moves a closed or cancelled request.
    """
    if update.status not in DEPARTMENT_STATUSES:
        raise ValueError(f"{update.status} is not reported by another department")
    if current in FINAL:
        return False
    return last_department_update is None or update.occurred_at >= last_department_update
