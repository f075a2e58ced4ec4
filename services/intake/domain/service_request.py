"""A customer's service request, as intake registers it.

The walking skeleton of the platform: registration only. The intake issue adds triage,
the status workflow and SLA clocks here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class Channel(StrEnum):
    PHONE = "phone"
    WEB = "web"
    EMAIL = "email"
    WALK_IN = "walk_in"
    DEALER = "dealer"


class RequestStatus(StrEnum):
    RECEIVED = "received"


@dataclass(frozen=True)
class RequestNumber:
    """``SR-<year>-<6 digits>``: readable on the phone, sortable, one sequence per year."""

    year: int
    sequence: int

    def __str__(self) -> str:
        return f"SR-{self.year}-{self.sequence:06d}"


@dataclass
class ServiceRequest:
    request_no: str
    channel: Channel
    customer_name: str
    customer_phone: str
    product_model: str
    serial_no: str
    fault_description: str
    received_at: datetime
    status: RequestStatus = RequestStatus.RECEIVED
