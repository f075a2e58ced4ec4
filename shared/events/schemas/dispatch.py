"""Events dispatch publishes. Every event names the request (``request_no``): dispatch has
one job per request that needs a visit."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from shared.events.registry import EventSchema, event_schema


class _Line(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


@event_schema("dispatch.job.assigned", 1)
class JobAssignedV1(EventSchema):
    """A technician was assigned (automatically, by a dispatcher's override, or after the
    previous technician declined)."""

    request_no: str
    technician_id: str
    technician_name: str
    service_point_id: str
    how: str = Field(description="automatic, override or after_decline")
    reason: str | None = Field(description="The dispatcher's reason for an override")
    arrival_due_at: AwareDatetime | None
    assigned_at: AwareDatetime


@event_schema("dispatch.job.unassignable", 1)
class JobUnassignableV1(EventSchema):
    """Nobody fits the job now; it waits in the unassigned queue and is retried."""

    request_no: str
    required_skill: str | None
    region: str | None
    reasons: dict[str, int] = Field(description="Exclusion reason → how many technicians")
    at: AwareDatetime


@event_schema("dispatch.appointment.agreed", 1)
class AppointmentAgreedV1(EventSchema):
    """The customer agreed an appointment window (first time or rescheduled)."""

    request_no: str
    technician_id: str
    window_start: AwareDatetime
    window_end: AwareDatetime
    rescheduled: bool
    reason: str | None = Field(description="Why it was rescheduled")
    agreed_at: AwareDatetime


class RequestedPartV1(_Line):
    part_no: str
    quantity: int


@event_schema("dispatch.parts.requested", 1)
class PartsRequestedV1(EventSchema):
    """Parts a job needs, requested when the appointment is agreed. The service point's
    warehouse is served first."""

    request_no: str
    service_point_id: str
    technician_id: str | None
    product_model: str
    priority: str = Field(description="urgent or ordinary")
    needed_by: AwareDatetime | None = Field(description="The appointment window's start")
    lines: list[RequestedPartV1]
    requested_at: AwareDatetime


@event_schema("dispatch.job.on_site", 1)
class JobOnSiteV1(EventSchema):
    """The technician arrived (or is back on site after waiting for parts)."""

    request_no: str
    technician_id: str
    arrived_at: AwareDatetime
    arrival_due_at: AwareDatetime | None
    late: bool


@event_schema("dispatch.job.waiting_parts", 1)
class JobWaitingPartsV1(EventSchema):
    """Work stopped until parts arrive."""

    request_no: str
    technician_id: str
    lines: list[RequestedPartV1]
    since: AwareDatetime


class UsedPartV1(_Line):
    part_no: str
    quantity: int
    serials: list[str] = Field(description="Serials of the new parts fitted, if they have one")


class RemovedPartV1(_Line):
    part_no: str
    quantity: int
    serials: list[str] = Field(description="Serials of the old parts taken out")


@event_schema("dispatch.job.completed", 1)
class JobCompletedV1(EventSchema):
    """The technician finished the job and the customer signed it off. Carries everything
    claims, parts and billing need: parts used, old parts, labour, travel, cause, warranty."""

    request_no: str
    technician_id: str
    technician_name: str
    service_point_id: str
    region: str | None
    kind: str
    product_line: str | None
    product_model: str
    serial_no: str
    purchase_date: date | None
    in_warranty: bool | None = Field(description="As intake knew it at triage")
    dealer_id: str | None
    customer_name: str
    findings: str
    work_done: str
    cause: str = Field(description="quality_defect, misuse, wear or unknown")
    fault_code: str | None
    result: str = Field(description="repaired or unresolved")
    labour_minutes: int
    travel_km: Decimal
    parts_used: list[UsedPartV1]
    old_parts_removed: list[RemovedPartV1]
    repeat_repair: bool
    arrived_at: AwareDatetime | None
    completed_at: AwareDatetime
    signed_by: str
    signed_at: AwareDatetime


@event_schema("dispatch.job.diagnosed", 1)
class JobDiagnosedV1(EventSchema):
    """On site, before any repair, the technician recorded what caused the fault. Claims
    decides warranty from it at once (misuse on a unit under warranty is rejected ``CDR``),
    so paid work can be quoted before it is done. The completed job may still report a
    different cause; its report is what a claim for the repair uses."""

    request_no: str
    technician_id: str
    service_point_id: str
    kind: str
    product_line: str | None
    product_model: str
    serial_no: str
    purchase_date: date | None
    in_warranty: bool | None = Field(description="As intake knew it at triage")
    dealer_id: str | None
    customer_name: str
    cause: str = Field(description="quality_defect, misuse, wear or unknown")
    fault_code: str | None
    findings: str
    diagnosed_at: AwareDatetime


@event_schema("dispatch.job.escalated", 1)
class JobEscalatedV1(EventSchema):
    """The fault needs the technical department (joint evaluation for complex faults)."""

    request_no: str
    technician_id: str | None
    reason: str
    owner: str
    escalated_at: AwareDatetime


@event_schema("dispatch.sla.breached", 1)
class DispatchSlaBreachedV1(EventSchema):
    """An arrival (or loaner) due time passed. Emitted once per target and job."""

    request_no: str
    target: str = Field(description="arrival or loaner")
    due_at: AwareDatetime
    breached_at: AwareDatetime


@event_schema("dispatch.loaner.required", 1)
class LoanerRequiredV1(EventSchema):
    """Not repaired 12 h after arrival: the customer gets a loaner unit within 24 h."""

    request_no: str
    product_model: str
    serial_no: str
    customer_name: str
    address: str | None
    due_at: AwareDatetime
    required_at: AwareDatetime


@event_schema("dispatch.repeat_repair.flagged", 1)
class RepeatRepairFlaggedV1(EventSchema):
    """The same unit was repaired again for the same fault within the repeat window."""

    request_no: str
    serial_no: str
    product_model: str
    fault_code: str
    previous_request_no: str
    previous_completed_at: AwareDatetime
    completed_at: AwareDatetime
