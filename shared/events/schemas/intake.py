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


@event_schema("intake.request.triaged", 2)
class RequestTriagedV2(EventSchema):
    """A request was triaged (again, whenever an agent changes the triage before a technician
    is assigned). v2 adds what dispatch needs for the nearest-station rule and what billing
    and claims need to know who pays: coordinates, the customer, the warranty facts."""

    request_no: str
    kind: str = Field(description="repair, installation, maintenance, consultation, complaint, ...")
    severity: str = Field(description="urgent, ordinary or consultation")
    visit_needed: bool
    route: str = Field(description="dispatch (someone goes), claims (dealer work), remote")
    channel: str
    product_line: str | None = Field(description="The skill a technician must have")
    product_model: str
    serial_no: str
    quantity: int
    purchase_date: date | None
    in_warranty: bool | None = Field(description="On the day of the report, as intake knows it")
    warranty_expires_on: date | None
    dealer_id: str | None = Field(description="The reporting or selling dealer, if any")
    customer_id: str | None
    customer_name: str
    customer_phone: str
    address: str | None
    region: str | None
    latitude: Decimal | None
    longitude: Decimal | None
    fault_description: str
    response_due_at: AwareDatetime | None = Field(description="When the response SLA ends")
    triaged_at: AwareDatetime


@event_schema("intake.request.resolved_remotely", 1)
class RequestResolvedRemotelyV1(EventSchema):
    """An agent solved the request by phone guidance; nobody goes, nothing is billed."""

    request_no: str
    product_model: str
    kind: str
    resolution: str
    resolved_at: AwareDatetime


@event_schema("intake.request.closed", 1)
class RequestClosedV1(EventSchema):
    """The request is closed; a survey may follow."""

    request_no: str
    closed_at: AwareDatetime


@event_schema("intake.sla.breached", 1)
class IntakeSlaBreachedV1(EventSchema):
    """An intake clock (response, complaint acknowledgement or first verification) passed
    its due time without being met. Emitted once per clock."""

    request_no: str
    target: str = Field(description="response, complaint_acknowledgement, first_verification")
    severity: str
    due_at: AwareDatetime
    breached_at: AwareDatetime


@event_schema("intake.complaint.quality_reported", 1)
class ComplaintQualityReportedV1(EventSchema):
    """A complaint about product quality, passed on to quality (claims) within 2 h."""

    request_no: str
    complaint_no: str
    product_model: str
    product_line: str | None
    serial_no: str | None
    dealer_id: str | None
    description: str
    cause: str | None
    received_at: AwareDatetime
    reported_at: AwareDatetime


@event_schema("intake.return.received", 1)
class ReturnReceivedV1(EventSchema):
    """A product shipped in for repair arrived and was registered."""

    request_no: str
    return_no: str
    product_model: str
    serial_no: str
    in_warranty: bool | None
    condition: str
    accessories: list[str]
    received_at: AwareDatetime


@event_schema("intake.return.inspected", 1)
class ReturnInspectedV1(EventSchema):
    """The repaired product was inspected: passed, or failed and sent back to repair."""

    request_no: str
    return_no: str
    passed: bool
    notes: str | None
    inspected_at: AwareDatetime


class ReturnPartV1(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    part_no: str
    quantity: int
    old_part_serial: str | None = None


@event_schema("intake.return.repaired", 1)
class ReturnRepairedV1(EventSchema):
    """The workshop's repair of a returned unit passed inspection: what it found and did.
    Claims decides warranty from it (source ``return``); parts expects the old parts it hands
    in; billing books its cost."""

    request_no: str
    return_no: str
    product_model: str
    serial_no: str
    in_warranty: bool | None
    cause: str = Field(description="quality_defect, misuse, wear or unknown")
    fault_code: str | None
    labour_hours: Decimal
    parts_replaced: list[ReturnPartV1]
    repaired_by: str
    repaired_at: AwareDatetime


@event_schema("intake.return.shipped", 1)
class ReturnShippedV1(EventSchema):
    """The repaired product was shipped back to the customer."""

    request_no: str
    return_no: str
    carrier: str
    tracking_no: str
    shipping_cost: Decimal | None = Field(description="CNY, if known at shipping")
    shipped_at: AwareDatetime


@event_schema("intake.survey.recorded", 1)
class SurveyRecordedV1(EventSchema):
    """A customer's satisfaction score for a closed request."""

    request_no: str
    score: int = Field(ge=1, le=5)
    comment: str | None
    dealer_id: str | None
    recorded_at: AwareDatetime
