"""A job: one visit a request needs, from the unassigned queue to its end.

unassigned → assigned → accepted → en_route → on_site → (waiting_parts → on_site) →
completed | escalated | unresolved; an escalated job goes back on site or is finished once the
technical department has answered. A decline or a dispatcher's reassignment puts an assigned
job back to assignment; a cancellation ends it anywhere before the work is finished.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum


class JobStatus(StrEnum):
    UNASSIGNED = "unassigned"
    ASSIGNED = "assigned"
    ACCEPTED = "accepted"
    EN_ROUTE = "en_route"
    ON_SITE = "on_site"
    WAITING_PARTS = "waiting_parts"
    COMPLETED = "completed"
    ESCALATED = "escalated"
    UNRESOLVED = "unresolved"
    CANCELLED = "cancelled"


FINISHED = frozenset({JobStatus.COMPLETED, JobStatus.UNRESOLVED, JobStatus.CANCELLED})
# Still needs a technician's time: counted in the day's load, watched by the SLA monitor.
OPEN = frozenset(
    {
        JobStatus.UNASSIGNED,
        JobStatus.ASSIGNED,
        JobStatus.ACCEPTED,
        JobStatus.EN_ROUTE,
        JobStatus.ON_SITE,
        JobStatus.WAITING_PARTS,
    }
)


class Action(StrEnum):
    ACCEPT = "accept"
    DECLINE = "decline"
    DEPART = "depart"
    ARRIVE = "arrive"
    WAIT_FOR_PARTS = "wait-for-parts"
    RESUME = "resume"
    COMPLETE = "complete"
    ESCALATE = "escalate"


MOVES: dict[JobStatus, dict[Action, JobStatus]] = {
    JobStatus.ASSIGNED: {Action.ACCEPT: JobStatus.ACCEPTED, Action.DECLINE: JobStatus.UNASSIGNED},
    JobStatus.ACCEPTED: {Action.DEPART: JobStatus.EN_ROUTE, Action.DECLINE: JobStatus.UNASSIGNED},
    JobStatus.EN_ROUTE: {Action.ARRIVE: JobStatus.ON_SITE},
    JobStatus.ON_SITE: {
        Action.WAIT_FOR_PARTS: JobStatus.WAITING_PARTS,
        Action.COMPLETE: JobStatus.COMPLETED,
        Action.ESCALATE: JobStatus.ESCALATED,
    },
    JobStatus.WAITING_PARTS: {
        Action.RESUME: JobStatus.ON_SITE,
        Action.ESCALATE: JobStatus.ESCALATED,
    },
    # The technical department answered: back to work, or finished (repaired or not).
    JobStatus.ESCALATED: {Action.RESUME: JobStatus.ON_SITE, Action.COMPLETE: JobStatus.COMPLETED},
}


class IllegalMove(Exception):
    def __init__(self, status: JobStatus, action: str) -> None:
        self.status = status
        self.action = action
        self.allowed = sorted(a.value for a in MOVES.get(status, {}))
        super().__init__(f"{action} is not possible while the job is {status.value}")


def next_status(status: JobStatus, action: Action) -> JobStatus:
    try:
        return MOVES[status][action]
    except KeyError:
        raise IllegalMove(status, action.value) from None


def allowed_actions(status: JobStatus) -> list[str]:
    return sorted(a.value for a in MOVES.get(status, {}))


class Cause(StrEnum):
    QUALITY_DEFECT = "quality_defect"
    MISUSE = "misuse"
    WEAR = "wear"
    UNKNOWN = "unknown"


class Result(StrEnum):
    REPAIRED = "repaired"
    UNRESOLVED = "unresolved"


@dataclass(frozen=True)
class SignOff:
    signer: str
    signed_at: datetime
    signature_png_base64: str | None
    typed_confirmation: str | None


def completion_refusal(has_report: bool, sign_off: SignOff | None) -> str | None:
    """Why the job cannot be completed yet, or None."""
    if not has_report:
        return "The field report is missing: record it before completing the job."
    if sign_off is None:
        return "The customer has not signed the job off: record the sign-off first."
    return None


def is_repeat_repair(
    completed_at: datetime, previous_completed_at: datetime, window: timedelta
) -> bool:
    """The same unit with the same fault code repaired again within the window."""
    return timedelta(0) <= completed_at - previous_completed_at <= window


def finished_status(result: Result) -> JobStatus:
    """Completing records the result: repaired, or unresolved (signed off all the same)."""
    return JobStatus.COMPLETED if result is Result.REPAIRED else JobStatus.UNRESOLVED


def needs_promised_time(
    planned_day: date | None, today: date, status: JobStatus, promised: bool
) -> bool:
    """Same-day rule: a job not finished on its planned day needs a recorded promised time."""
    return (
        planned_day is not None
        and planned_day < today
        and status in OPEN
        and status is not JobStatus.UNASSIGNED
        and not promised
    )


def same_day_missed(
    day_ends_at: datetime, now: datetime, status: JobStatus, promised: bool
) -> bool:
    """Same-day rule, at the end of the technician's working day (``day_ends_at``: the end of
    their last shift on the job's planned day): an open job still without a promised time is
    flagged — once, by the monitor — so that a dispatcher records the promise."""
    return (
        now >= day_ends_at
        and status in OPEN
        and status is not JobStatus.UNASSIGNED
        and not promised
    )
