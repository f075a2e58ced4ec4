"""Dispatch's own tables."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Date, Float, Index, Integer, MetaData, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.db.types import UtcDateTime


class Base(DeclarativeBase):
    metadata = MetaData()


class IncomingRequestRow(Base):
    __tablename__ = "incoming_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    request_no: Mapped[str] = mapped_column(String(20), unique=True)
    customer_name: Mapped[str] = mapped_column(String(200))
    product_model: Mapped[str] = mapped_column(String(100))
    fault_description: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime())
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime())
    correlation_id: Mapped[str] = mapped_column(String(100))


class JobRow(Base):
    __tablename__ = "jobs"
    __table_args__ = (
        Index("ix_jobs_status_due", "status", "response_due_at"),
        Index("ix_jobs_technician_status", "technician_id", "status"),
        Index("ix_jobs_serial_fault", "serial_no", "fault_code"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    request_no: Mapped[str] = mapped_column(String(20), unique=True)
    kind: Mapped[str] = mapped_column(String(30))
    severity: Mapped[str] = mapped_column(String(20))
    required_skill: Mapped[str | None] = mapped_column(String(100))
    product_model: Mapped[str] = mapped_column(String(100))
    serial_no: Mapped[str] = mapped_column(String(100))
    customer_name: Mapped[str] = mapped_column(String(200))
    customer_phone: Mapped[str] = mapped_column(String(50))
    address: Mapped[str | None] = mapped_column(String(500))
    region: Mapped[str | None] = mapped_column(String(100))
    response_due_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    status: Mapped[str] = mapped_column(String(20))
    cancel_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
    # From triage v2 (absent from v1).
    fault_description: Mapped[str | None] = mapped_column(Text)
    purchase_date: Mapped[date | None] = mapped_column(Date)
    in_warranty: Mapped[bool | None] = mapped_column(Boolean)
    dealer_id: Mapped[str | None] = mapped_column(String(20))
    customer_id: Mapped[str | None] = mapped_column(String(40))
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    triaged_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    # Assignment.
    technician_id: Mapped[str | None] = mapped_column(String(40))
    technician_name: Mapped[str | None] = mapped_column(String(200))
    service_point_id: Mapped[str | None] = mapped_column(String(40))
    assigned_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    planned_day: Mapped[date | None] = mapped_column(Date)
    planned_arrival_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    unassignable_since: Mapped[datetime | None] = mapped_column(UtcDateTime())
    # Arrival SLA, loaner, same-day promise.
    arrival_target: Mapped[str | None] = mapped_column(String(20))
    arrival_due_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    arrival_breached_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    arrived_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    loaner_required_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    loaner_due_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    loaner_breached_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    loaner_delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    promised_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    # Same-day rule: when the monitor found the job unfinished, unpromised, after its day.
    same_day_missed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    promise_note: Mapped[str | None] = mapped_column(Text)
    # Appointment window: proposed or agreed.
    appointment_state: Mapped[str | None] = mapped_column(String(20))
    appointment_start: Mapped[datetime | None] = mapped_column(UtcDateTime())
    appointment_end: Mapped[datetime | None] = mapped_column(UtcDateTime())
    # What other services said: billing's quote, parts' reservation, intake's close/survey.
    quote_state: Mapped[str | None] = mapped_column(String(20))
    quote_no: Mapped[str | None] = mapped_column(String(40))
    parts_state: Mapped[str | None] = mapped_column(String(20))
    intake_closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    intake_sla_breaches: Mapped[int] = mapped_column(Integer, default=0)
    satisfaction_score: Mapped[int | None] = mapped_column(Integer)
    # Field work.
    field_report: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    sign_off: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    fault_code: Mapped[str | None] = mapped_column(String(50))
    completed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    repeat_of: Mapped[str | None] = mapped_column(String(20))
    escalation: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    diagnosis: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    first_visit_fixed: Mapped[bool | None] = mapped_column(Boolean)


class JobHistoryRow(Base):
    """Every status change and decision on a job: who, when, why."""

    __tablename__ = "job_history"
    __table_args__ = (Index("ix_job_history_request", "request_no", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    request_no: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20))
    what: Mapped[str] = mapped_column(String(40))
    technician_id: Mapped[str | None] = mapped_column(String(40))
    actor: Mapped[str] = mapped_column(String(100))
    note: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UtcDateTime())


class AssignmentRow(Base):
    """One assignment decision and its explanation (candidates, exclusions, winner's score)."""

    __tablename__ = "assignments"
    __table_args__ = (Index("ix_assignments_request", "request_no", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    request_no: Mapped[str] = mapped_column(String(20))
    how: Mapped[str] = mapped_column(String(20))
    technician_id: Mapped[str | None] = mapped_column(String(40))
    actor: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str | None] = mapped_column(Text)
    explanation: Mapped[dict[str, Any]] = mapped_column(JSON)
    decided_at: Mapped[datetime] = mapped_column(UtcDateTime())


class ServicePointRow(Base):
    __tablename__ = "service_points"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    region: Mapped[str] = mapped_column(String(100))
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    zone: Mapped[str] = mapped_column(String(10))
    covers_regions: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class TechnicianRow(Base):
    __tablename__ = "technicians"
    __table_args__ = (Index("ix_technicians_point", "service_point_id"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    login: Mapped[str | None] = mapped_column(String(100), unique=True)
    # ",pumps,compressors," so one LIKE finds a skill.
    skills: Mapped[str] = mapped_column(Text)
    certification_level: Mapped[str] = mapped_column(String(30))
    certified_until: Mapped[date] = mapped_column(Date)
    service_point_id: Mapped[str] = mapped_column(String(40))
    max_jobs_per_day: Mapped[int] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean)
    shifts: Mapped[str] = mapped_column(String(500))
    leave: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class TechnicianDayLoadRow(Base):
    """Jobs planned for a technician on one local day. Assignment locks this row, so two
    dispatch instances never put more on the day than the technician's limit."""

    __tablename__ = "technician_day_loads"

    technician_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    jobs: Mapped[int] = mapped_column(Integer)
