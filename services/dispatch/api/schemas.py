"""What dispatch's staff API returns."""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict


class IncomingRequestRead(BaseModel):
    request_no: str
    customer_name: str
    product_model: str
    fault_description: str
    received_at: AwareDatetime
    recorded_at: AwareDatetime
    correlation_id: str


class JobRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

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
    latitude: float | None
    longitude: float | None
    in_warranty: bool | None
    response_due_at: AwareDatetime | None
    status: str
    cancel_reason: str | None
    technician_id: str | None
    technician_name: str | None
    service_point_id: str | None
    assigned_at: AwareDatetime | None
    planned_day: date | None
    planned_arrival_at: AwareDatetime | None
    arrival_target: str | None
    arrival_due_at: AwareDatetime | None
    arrival_breached_at: AwareDatetime | None
    arrived_at: AwareDatetime | None
    loaner_required_at: AwareDatetime | None
    loaner_due_at: AwareDatetime | None
    loaner_delivered_at: AwareDatetime | None
    promised_at: AwareDatetime | None
    promise_note: str | None
    appointment_state: str | None
    appointment_start: AwareDatetime | None
    appointment_end: AwareDatetime | None
    quote_state: str | None
    parts_state: str | None
    field_report: dict[str, Any] | None
    sign_off: dict[str, Any] | None
    completed_at: AwareDatetime | None
    repeat_of: str | None
    escalation: dict[str, Any] | None
    diagnosis: dict[str, Any] | None
    satisfaction_score: int | None
    intake_sla_breaches: int
    created_at: AwareDatetime
    updated_at: AwareDatetime


class HistoryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    what: str
    status: str
    technician_id: str | None
    actor: str
    note: str | None
    at: AwareDatetime


class AssignmentRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    how: str
    technician_id: str | None
    actor: str
    reason: str | None
    explanation: dict[str, Any]
    decided_at: AwareDatetime


class JobDetail(JobRead):
    allowed_actions: list[str]
    history: list[HistoryRead]
    assignments: list[AssignmentRead]
