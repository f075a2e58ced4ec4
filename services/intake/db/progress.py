"""A request's progress as the other departments report it: read and written without loading
the request or its timeline, for following a department's event (one per assignment, and
more for every request after it). Four statements, each built once: the request's few
columns read with its row locked, what its timeline shows at the report's moment, the
request's update (only when something changed), the timeline entry."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Column, bindparam, exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake.db.models import ServiceRequestRow, TimelineEntryRow
from services.intake.db.repository import INSERT_TIMELINE, entry_values
from services.intake.domain.service_request import (
    DepartmentReport,
    RequestProgress,
    Technician,
    TimelineAt,
    TimelineEntry,
)
from services.intake.domain.workflow import RequestStatus
from shared.db.prepared import HotStatement

_requests = ServiceRequestRow.__table__
_timeline = TimelineEntryRow.__table__


def _bound(column: Column[Any]) -> Any:
    return bindparam(column.key, type_=column.type)


_LOCKED = HotStatement(
    select(
        _requests.c.status,
        _requests.c.last_department_update_at,
        _requests.c.technician_id,
        _requests.c.technician_name,
        _requests.c.technician_assigned_at,
        _requests.c.updated_at,
    )
    .where(_requests.c.request_no == bindparam("request_no"))
    .with_for_update()
)
_ENTRIES = _timeline.c.request_no == bindparam("request_no")
_AT = bindparam("at", type_=_timeline.c.at.type)
# One statement, no table: both only read the request's entries by the (request_no, at) index.
_TIMELINE_AT = HotStatement(
    select(
        select(_timeline.c.status)
        .where(_ENTRIES, _timeline.c.at <= _AT)
        .order_by(_timeline.c.at.desc(), _timeline.c.id.desc())
        .limit(1)
        .scalar_subquery()
        .label("status"),
        exists()
        .where(
            _ENTRIES,
            _timeline.c.at == _AT,
            _timeline.c.department == _bound(_timeline.c.department),
            _timeline.c.summary == _bound(_timeline.c.summary),
        )
        .label("has_report"),
    )
)
_MOVED = [
    _requests.c.status,
    _requests.c.last_department_update_at,
    _requests.c.updated_at,
]
_ASSIGNED = [
    _requests.c.technician_id,
    _requests.c.technician_name,
    _requests.c.technician_assigned_at,
]


def _update(columns: list[Column[Any]]) -> HotStatement:
    return HotStatement(
        update(_requests)
        .where(_requests.c.request_no == bindparam("key_request_no"))
        .values({column: _bound(column) for column in columns})
    )


# The technician's columns only once one is assigned, as ``ServiceRequestRepository.save``.
_UPDATE = _update(_MOVED)
_UPDATE_WITH_TECHNICIAN = _update(_MOVED + _ASSIGNED)


class ProgressRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def locked(self, request_no: str) -> RequestProgress | None:
        """The request's progress, its row locked until the transaction ends (as
        ``ServiceRequestRepository.get`` with ``lock``); None for a request intake does not
        know.

        Read before the timeline, in a statement of its own: on PostgreSQL a statement that
        waited for the lock still reads other rows as they were when it began, so the
        timeline read in the same statement could miss entries the lock's holder added."""
        found = await _LOCKED.execute(self._session, {"request_no": request_no})
        if not found:
            return None
        status, last_update_at, technician_id, name, assigned_at, updated_at = found[0]
        technician = (
            Technician(technician_id, name or "", assigned_at)
            if technician_id is not None and assigned_at is not None
            else None
        )
        return RequestProgress(RequestStatus(status), last_update_at, technician, updated_at)

    async def timeline_at(self, request_no: str, report: DepartmentReport) -> TimelineAt:
        found = await _TIMELINE_AT.execute(
            self._session,
            {
                "request_no": request_no,
                "at": report.occurred_at,
                "department": report.department.value,
                "summary": report.summary,
            },
        )
        status, has_report = found[0]
        return TimelineAt(bool(has_report), RequestStatus(status) if status else None)

    async def save(
        self,
        request_no: str,
        read: RequestProgress,
        progress: RequestProgress,
        entry: TimelineEntry | None,
    ) -> None:
        """``progress`` where it differs from what was ``read``, and the new entry."""
        if progress != read:
            values: dict[str, Any] = {
                "key_request_no": request_no,
                "status": progress.status.value,
                "last_department_update_at": progress.last_department_update_at,
                "updated_at": progress.updated_at,
            }
            statement = _UPDATE
            if progress.technician is not None:
                statement = _UPDATE_WITH_TECHNICIAN
                values["technician_id"] = progress.technician.technician_id
                values["technician_name"] = progress.technician.name
                values["technician_assigned_at"] = progress.technician.assigned_at
            await statement.execute(self._session, values)
        if entry is not None:
            await INSERT_TIMELINE.execute(self._session, entry_values(request_no, entry))
