"""The dealer API's bodies, exactly as the published contract shows them
(../shared/contracts/dealer-api.md); fields may only be added, optional."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from services.intake.api.schemas import PHONE_PATTERN
from services.intake.domain.service_request import Cause, CustomerAsks, Department, Severity
from services.intake.domain.workflow import RequestStatus

# Dealers' systems may already send fields a later version of the contract adds: ignore
# them rather than refuse the report.
_Lenient = ConfigDict(extra="ignore", str_strip_whitespace=True)


class DealerCustomer(BaseModel):
    model_config = _Lenient

    name: str = Field(min_length=1, max_length=200)
    phone: str = Field(min_length=3, max_length=50, pattern=PHONE_PATTERN)
    address: str | None = Field(None, max_length=500)
    region: str | None = Field(None, max_length=100)


class DealerProduct(BaseModel):
    model_config = _Lenient

    model: str = Field(min_length=1, max_length=100)
    serial_no: str = Field(min_length=1, max_length=100)


class DealerFault(BaseModel):
    model_config = _Lenient

    description: str = Field(min_length=1, max_length=5000)
    code: str | None = Field(None, max_length=50)
    occurred_at: AwareDatetime | None = None


class DealerReplacedPart(BaseModel):
    model_config = _Lenient

    part_no: str = Field(min_length=1, max_length=100)
    quantity: int = Field(ge=1, le=1000)
    old_part_serial: str | None = Field(None, max_length=100)


class DealerWorkDone(BaseModel):
    model_config = _Lenient

    completed_at: AwareDatetime
    technician_name: str | None = Field(None, max_length=200)
    labour_hours: Decimal = Field(ge=0, le=1000, max_digits=8, decimal_places=2)
    travel_km: Decimal = Field(Decimal(0), ge=0, le=100_000, max_digits=9, decimal_places=1)
    cause: Cause = Cause.UNKNOWN
    parts_replaced: list[DealerReplacedPart] = Field(default_factory=list, max_length=100)


class DealerReportIn(BaseModel):
    model_config = _Lenient

    dealer_report_no: str = Field(min_length=1, max_length=100)
    customer: DealerCustomer
    product: DealerProduct
    purchase_date: date | None = None
    fault: DealerFault
    request: CustomerAsks
    severity: Severity = Severity.ORDINARY
    work_done: DealerWorkDone | None = None


class Warranty(BaseModel):
    in_warranty: bool | None
    expires_on: date | None


class DealerReportCreated(BaseModel):
    request_no: str
    dealer_report_no: str
    status: str
    warranty: Warranty
    received_at: AwareDatetime


class TimelineEntry(BaseModel):
    at: AwareDatetime
    department: Department
    status: str
    summary: str
    details: dict[str, Any] | None = None


class DealerReportRead(DealerReportIn):
    request_no: str
    status: str
    warranty: Warranty
    received_at: AwareDatetime
    updated_at: AwareDatetime
    timeline: list[TimelineEntry]


class DealerReportPage(BaseModel):
    items: list[DealerReportRead]
    next_cursor: str | None


# Intake's own steps a dealer does not see separately.
DEALER_VISIBLE = {
    RequestStatus.ACKNOWLEDGED: "received",
    RequestStatus.HANDED_TO_DISPATCH: "triaged",
}
DEALER_STATUSES = [
    "received", "triaged", "resolved_remotely", "assigned", "on_site", "waiting_parts",
    "repaired", "claim_submitted", "claim_approved", "claim_partially_approved",
    "claim_rejected", "invoiced", "paid", "closed", "cancelled",
]  # fmt: skip


def dealer_status(status: RequestStatus) -> str:
    return DEALER_VISIBLE.get(status, status.value)


def internal_statuses(visible: str) -> list[RequestStatus]:
    return [status for status in RequestStatus if dealer_status(status) == visible]
