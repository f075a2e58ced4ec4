"""Events intake publishes."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from shared.events.registry import EventSchema, event_schema


@event_schema("intake.request.registered", 1)
class RequestRegisteredV1(EventSchema):
    """A service request was registered; it is not yet triaged."""

    request_no: str = Field(description="Human-readable number, e.g. SR-2026-000123")
    channel: str
    customer_name: str
    product_model: str
    serial_no: str
    fault_description: str
    received_at: AwareDatetime


@event_schema("intake.request.triaged", 1)
class RequestTriagedV1(EventSchema):
    """A request was triaged, by the rules or by an agent; published again whenever an
    agent changes the triage before a technician is assigned."""

    request_no: str
    kind: str = Field(description="repair, installation, maintenance, consultation, ...")
    severity: str = Field(description="urgent, ordinary or consultation")
    visit_needed: bool
    route: str = Field(description="dispatch (someone goes), claims (dealer work), remote")
    product_line: str | None = Field(description="The skill a technician must have")
    product_model: str
    serial_no: str
    in_warranty: bool | None
    customer_name: str
    customer_phone: str
    address: str | None
    region: str | None
    response_due_at: AwareDatetime | None = Field(description="When the response SLA ends")
    triaged_at: AwareDatetime


@event_schema("intake.request.cancelled", 1)
class RequestCancelledV1(EventSchema):
    """A request was cancelled; whatever was started for it should be stopped."""

    request_no: str
    reason: str
    cancelled_at: AwareDatetime


class ReplacedPartV1(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    part_no: str
    quantity: int
    old_part_serial: str | None


@event_schema("intake.dealer_work.reported", 1)
class DealerWorkReportedV1(EventSchema):
    """A partner dealer reported work it already did and claims under warranty; claims
    opens a warranty claim for it."""

    request_no: str
    dealer_id: str
    dealer_report_no: str
    product_model: str
    product_line: str | None
    serial_no: str
    purchase_date: date | None
    in_warranty: bool | None = Field(description="On the fault date, as intake knows it")
    warranty_expires_on: date | None
    fault_description: str
    fault_code: str | None
    fault_occurred_at: AwareDatetime | None
    completed_at: AwareDatetime
    technician_name: str | None
    labour_hours: Decimal
    travel_km: Decimal
    cause: str = Field(description="quality_defect, misuse or unknown")
    parts_replaced: list[ReplacedPartV1]
