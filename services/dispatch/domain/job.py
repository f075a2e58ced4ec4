"""A job: one visit a request needs, waiting for (and later given to) a technician.

The first slice of the dispatch issue: jobs enter the unassigned queue from intake's triage
and leave it when the request is cancelled. Assignment, appointments and SLAs follow.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class JobStatus(StrEnum):
    UNASSIGNED = "unassigned"
    CANCELLED = "cancelled"


@dataclass
class Job:
    request_no: str
    kind: str
    severity: str
    required_skill: str | None
    product_model: str
    serial_no: str
    customer_name: str
    customer_phone: str
    address: str | None
    region: str | None
    response_due_at: datetime | None
    status: JobStatus
    created_at: datetime
    updated_at: datetime
    cancel_reason: str | None = None

    def cancel(self, reason: str, at: datetime) -> bool:
        """False when there was nothing left to cancel (already cancelled)."""
        if self.status is JobStatus.CANCELLED:
            return False
        self.status = JobStatus.CANCELLED
        self.cancel_reason = reason
        self.updated_at = at
        return True
