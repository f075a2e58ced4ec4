"""A customer's service request, as intake registers and follows it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from services.intake.domain.workflow import DepartmentUpdate, RequestStatus, follows


class Channel(StrEnum):
    PHONE = "phone"
    WEB = "web"
    EMAIL = "email"
    WALK_IN = "walk_in"
    DEALER = "dealer"


class CustomerAsks(StrEnum):
    """What the customer asks for."""

    REPAIR = "repair"
    REPLACE = "replace"
    REFUND = "refund"
    INSTALLATION = "installation"
    MAINTENANCE = "maintenance"
    CONSULTATION = "consultation"
    COMPLAINT = "complaint"


class Kind(StrEnum):
    """What intake classifies the request as."""

    REPAIR = "repair"
    INSTALLATION = "installation"
    MAINTENANCE = "maintenance"
    CONSULTATION = "consultation"
    COMPLAINT = "complaint"
    RETURN_FOR_REPAIR = "return_for_repair"


class Severity(StrEnum):
    URGENT = "urgent"
    ORDINARY = "ordinary"
    CONSULTATION = "consultation"


class Department(StrEnum):
    INTAKE = "intake"
    DISPATCH = "dispatch"
    PARTS = "parts"
    CLAIMS = "claims"
    BILLING = "billing"


class Cause(StrEnum):
    QUALITY_DEFECT = "quality_defect"
    MISUSE = "misuse"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class RequestNumber:
    """``SR-<year>-<6 digits>``: readable on the phone, sortable, one sequence per year."""

    year: int
    sequence: int

    def __str__(self) -> str:
        return f"SR-{self.year}-{self.sequence:06d}"


@dataclass(frozen=True)
class Customer:
    name: str
    phone: str
    address: str | None = None
    region: str | None = None
    # WGS-84, for dispatch's nearest-station rule; optional, given through the staff API.
    latitude: Decimal | None = None
    longitude: Decimal | None = None


@dataclass(frozen=True)
class ReplacedPart:
    part_no: str
    quantity: int
    old_part_serial: str | None = None


@dataclass(frozen=True)
class WorkDone:
    """Work a dealer already did and claims under warranty."""

    completed_at: datetime
    technician_name: str | None
    labour_hours: Decimal
    travel_km: Decimal
    cause: Cause
    parts_replaced: tuple[ReplacedPart, ...] = ()

    def as_json(self) -> dict[str, Any]:
        return {
            "completed_at": self.completed_at.isoformat(),
            "technician_name": self.technician_name,
            "labour_hours": str(self.labour_hours),
            "travel_km": str(self.travel_km),
            "cause": self.cause.value,
            "parts_replaced": [
                {"part_no": p.part_no, "quantity": p.quantity, "old_part_serial": p.old_part_serial}
                for p in self.parts_replaced
            ],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> WorkDone:
        return cls(
            completed_at=datetime.fromisoformat(data["completed_at"]),
            technician_name=data.get("technician_name"),
            labour_hours=Decimal(data["labour_hours"]),
            travel_km=Decimal(data["travel_km"]),
            cause=Cause(data["cause"]),
            parts_replaced=tuple(ReplacedPart(**p) for p in data.get("parts_replaced", [])),
        )


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    department: Department
    status: RequestStatus
    summary: str
    details: dict[str, Any] | None = None
    actor: str | None = None


@dataclass(frozen=True)
class Technician:
    """Who dispatch assigned, and when (a later assignment replaces an earlier one)."""

    technician_id: str
    name: str
    assigned_at: datetime

    def replaces(self, assigned: Technician | None) -> bool:
        return assigned is None or self.assigned_at >= assigned.assigned_at


@dataclass(frozen=True)
class DepartmentReport:
    """What another department reported about the request, at the time it happened.

    ``status`` is the status the report stands for (assigned, repaired, invoiced ...), or
    None for a report that only goes on the timeline (an appointment, an escalation).
    """

    department: Department
    occurred_at: datetime
    summary: str
    status: RequestStatus | None = None
    details: dict[str, Any] | None = None


@dataclass(frozen=True)
class TimelineAt:
    """What a request's timeline shows at the moment a department's report happened: whether
    that very report is on it already (the same event again), and the status it shows then
    (the newest entry's at or before that moment; None when nothing was on it yet)."""

    has_report: bool
    status: RequestStatus | None


@dataclass
class RequestProgress:
    """What the other departments' reports change on a request, and all that following one
    needs of it besides ``TimelineAt``: neither the rest of the request nor its timeline."""

    status: RequestStatus
    # When the newest department report that moved the status happened (its own time).
    last_department_update_at: datetime | None
    technician: Technician | None
    updated_at: datetime | None

    def assign(self, technician: Technician) -> None:
        if technician.replaces(self.technician):
            self.technician = technician

    def follow(
        self, report: DepartmentReport, timeline: TimelineAt, now: datetime
    ) -> TimelineEntry | None:
        """The report's entry for the timeline, taking its status if it is the newest report
        that carries one. A report already on the timeline (the same event again) changes
        nothing and gives None."""
        if timeline.has_report:
            return None
        # A report that carries no status is shown under the step it happened in, even when
        # it arrives late.
        status = report.status or timeline.status or self.status
        if report.status is not None and follows(
            self.status,
            self.last_department_update_at,
            DepartmentUpdate(report.status, report.occurred_at),
        ):
            self.status = report.status
            self.last_department_update_at = report.occurred_at
        # When intake learned of it: what a dealer polling with updated_since needs.
        self.updated_at = now
        return TimelineEntry(report.occurred_at, report.department, status, report.summary,
                             report.details)  # fmt: skip


@dataclass
class ServiceRequest:
    request_no: str
    channel: Channel
    customer: Customer
    product_model: str
    serial_no: str
    fault_description: str
    received_at: datetime
    customer_asks: CustomerAsks | None = None
    kind: Kind | None = None
    severity: Severity | None = None
    product_line: str | None = None
    purchase_date: date | None = None
    quantity: int = 1
    fault_code: str | None = None
    fault_occurred_at: datetime | None = None
    in_warranty: bool | None = None
    warranty_expires_on: date | None = None
    visit_needed: bool | None = None
    dealer_id: str | None = None
    dealer_report_no: str | None = None
    work_done: WorkDone | None = None
    customer_id: int | None = None
    status: RequestStatus = RequestStatus.RECEIVED
    updated_at: datetime | None = None
    # When the newest department report that moved the status happened (its own time).
    last_department_update_at: datetime | None = None
    technician: Technician | None = None
    timeline: list[TimelineEntry] = field(default_factory=list)

    def move(
        self,
        status: RequestStatus,
        at: datetime,
        summary: str,
        department: Department = Department.INTAKE,
        actor: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> TimelineEntry:
        """Record a step on the timeline and make it the request's status."""
        entry = TimelineEntry(at, department, status, summary, details, actor)
        self.timeline.append(entry)
        self.status = status
        self.updated_at = at
        return entry

    def follow(self, report: DepartmentReport, now: datetime) -> TimelineEntry | None:
        """Put a department's report on the timeline and, if it is the newest report that
        carries a status, take that status (``RequestProgress.follow``)."""
        progress = self.progress()
        entry = progress.follow(report, self.timeline_at(report), now)
        if entry is not None:
            self.status = progress.status
            self.last_department_update_at = progress.last_department_update_at
            self.updated_at = progress.updated_at
            self.timeline.append(entry)
        return entry

    def progress(self) -> RequestProgress:
        return RequestProgress(
            self.status, self.last_department_update_at, self.technician, self.updated_at
        )

    def timeline_at(self, report: DepartmentReport) -> TimelineAt:
        has_report = any(
            e.at == report.occurred_at
            and e.department is report.department
            and e.summary == report.summary
            for e in self.timeline
        )
        # The newest entry at or before the moment; of entries at the same time, the later.
        before = [(e.at, i, e.status) for i, e in enumerate(self.timeline)
                  if e.at <= report.occurred_at]  # fmt: skip
        return TimelineAt(has_report, max(before)[2] if before else None)

    def assign(self, technician: Technician) -> None:
        if technician.replaces(self.technician):
            self.technician = technician
