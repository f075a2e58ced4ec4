"""What intake's staff API accepts and returns."""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from services.intake.domain.service_request import (
    Channel,
    CustomerAsks,
    Department,
    Kind,
    Severity,
)
from services.intake.domain.sla import SlaStatus
from services.intake.domain.workflow import RequestStatus

PHONE_PATTERN = r"^[0-9+\-() ]+$"


class CustomerIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=200)
    phone: str = Field(min_length=3, max_length=50, pattern=PHONE_PATTERN)
    address: str | None = Field(None, max_length=500)
    region: str | None = Field(None, max_length=100)


class ProductIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    model: str = Field(min_length=1, max_length=100)
    serial_no: str = Field(min_length=1, max_length=100)


class ServiceRequestCreate(BaseModel):
    """A request taken by an agent (phone, walk-in) or sent from the web form or e-mail."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    channel: Channel
    customer: CustomerIn
    product: ProductIn
    fault_description: str = Field(min_length=1, max_length=5000)
    request: CustomerAsks | None = Field(None, description="What the customer asks for")
    severity: Severity | None = None
    purchase_date: date | None = None
    quantity: int = Field(1, ge=1, le=10_000)
    fault_code: str | None = Field(None, max_length=50)
    fault_occurred_at: AwareDatetime | None = None


class CustomerRead(BaseModel):
    name: str
    phone: str
    address: str | None
    region: str | None


class WarrantyRead(BaseModel):
    in_warranty: bool | None
    expires_on: date | None


class TimelineEntryRead(BaseModel):
    at: AwareDatetime
    department: Department
    status: RequestStatus
    summary: str
    details: dict[str, Any] | None = None


class SlaClockRead(BaseModel):
    target: str
    basis: str
    started_at: AwareDatetime
    due_at: AwareDatetime | None = Field(description="Empty while the clock is paused")
    status: SlaStatus
    met_at: AwareDatetime | None
    breached_at: AwareDatetime | None
    paused_total_seconds: float
    paused_since: AwareDatetime | None


class ServiceRequestRead(BaseModel):
    request_no: str
    channel: Channel
    status: RequestStatus
    kind: Kind | None
    severity: Severity | None
    request: CustomerAsks | None
    customer: CustomerRead
    product_model: str
    product_line: str | None
    serial_no: str
    purchase_date: date | None
    quantity: int
    fault_description: str
    fault_code: str | None
    warranty: WarrantyRead
    dealer_id: str | None
    dealer_report_no: str | None
    received_at: AwareDatetime
    updated_at: AwareDatetime | None
    timeline: list[TimelineEntryRead]
    sla: list[SlaClockRead] = Field(
        default_factory=list, description="The request's SLA clocks (not filled in lists)"
    )
