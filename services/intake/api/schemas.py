"""What intake's staff API accepts and returns."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from services.intake.domain.service_request import (
    Channel,
    Customer,
    CustomerAsks,
    Department,
    Kind,
    Severity,
)
from services.intake.domain.sla import SlaStatus
from services.intake.domain.workflow import RequestStatus

PHONE_PATTERN = r"^[0-9+\-() ]+$"


Latitude = Annotated[Decimal, Field(ge=-90, le=90, max_digits=10, decimal_places=7)]
Longitude = Annotated[Decimal, Field(ge=-180, le=180, max_digits=10, decimal_places=7)]


class Position(BaseModel):
    """Optional WGS-84 coordinates; dispatch uses them to find the nearest service point."""

    latitude: Latitude | None = None
    longitude: Longitude | None = None

    @model_validator(mode="after")
    def _both_or_neither(self) -> Position:
        if (self.latitude is None) != (self.longitude is None):
            raise ValueError("give latitude and longitude together, or neither")
        return self


class CustomerIn(Position):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=200)
    phone: str = Field(min_length=3, max_length=50, pattern=PHONE_PATTERN)
    address: str | None = Field(None, max_length=500)
    region: str | None = Field(None, max_length=100)

    def customer(self) -> Customer:
        return Customer(
            name=self.name, phone=self.phone, address=self.address, region=self.region,
            latitude=self.latitude, longitude=self.longitude,
        )  # fmt: skip


class CustomerCreate(CustomerIn):
    other_phones: list[
        Annotated[str, Field(min_length=3, max_length=50, pattern=PHONE_PATTERN)]
    ] = Field(default_factory=list, max_length=10)


class CustomerUpdate(Position):
    """Only the fields given change."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str | None = Field(None, min_length=1, max_length=200)
    phone: str | None = Field(None, min_length=3, max_length=50, pattern=PHONE_PATTERN)
    other_phones: (
        list[Annotated[str, Field(min_length=3, max_length=50, pattern=PHONE_PATTERN)]] | None
    ) = Field(None, max_length=10)
    address: str | None = Field(None, max_length=500)
    region: str | None = Field(None, max_length=100)


class CustomerRecord(BaseModel):
    customer_id: int
    name: str
    phone: str
    other_phones: list[str]
    address: str | None
    region: str | None
    latitude: Decimal | None
    longitude: Decimal | None
    created_at: AwareDatetime


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
    customer_id: int | None = None
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


class TechnicianRead(BaseModel):
    technician_id: str
    name: str
    assigned_at: AwareDatetime


class QualityAlertRead(BaseModel):
    product_model: str
    fault_code: str
    quarter: str
    count: int
    threshold: int
    raised_at: AwareDatetime


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
    technician: TechnicianRead | None = Field(None, description="As dispatch last assigned")
    quality_alerts: list[QualityAlertRead] = Field(
        default_factory=list,
        description="Claims' quality alerts on the request's model (not filled in lists)",
    )
