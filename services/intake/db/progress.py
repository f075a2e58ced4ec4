"""A request's progress as the other departments report it: read and written without loading
the request or its timeline, for following a department's event (one per assignment, and
more for every request after it). Four statements, each built once: the request's few
columns read with its row locked, what its timeline shows at the report's moment, the
request's update (only when something changed), the timeline entry. On PostgreSQL the same
four for several requests at once (``*_all``): as many round trips for a group of events
as for one."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ARRAY,
    Column,
    DateTime,
    String,
    Text,
    bindparam,
    exists,
    select,
    text,
    update,
)
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

# PostgreSQL only. Rows locked in one order (by number), whatever the events' order, so two
# transactions following the same requests queue instead of deadlocking.
_LOCKED_ALL = HotStatement(
    text(
        "SELECT request_no, status, last_department_update_at, technician_id,"
        " technician_name, technician_assigned_at, updated_at"
        " FROM service_requests WHERE request_no = ANY(:request_nos)"
        " ORDER BY request_no FOR UPDATE"
    ).bindparams(bindparam("request_nos", type_=ARRAY(String)))
)
# ``_TIMELINE_AT`` for each report, in the order given.
_TIMELINE_AT_ALL = HotStatement(
    text(
        "SELECT (SELECT e.status FROM request_timeline AS e"
        "        WHERE e.request_no = r.request_no AND e.at <= r.at"
        "        ORDER BY e.at DESC, e.id DESC LIMIT 1),"
        "       EXISTS (SELECT FROM request_timeline AS e"
        "        WHERE e.request_no = r.request_no AND e.at = r.at"
        "          AND e.department = r.department AND e.summary = r.summary)"
        " FROM unnest(:request_nos, :ats, :departments, :summaries) WITH ORDINALITY"
        "      AS r(request_no, at, department, summary, n)"
        " ORDER BY r.n"
    ).bindparams(
        bindparam("request_nos", type_=ARRAY(String)),
        bindparam("ats", type_=ARRAY(DateTime(timezone=True))),
        bindparam("departments", type_=ARRAY(String)),
        bindparam("summaries", type_=ARRAY(Text)),
    )
)


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
        return _progress(*found[0]) if found else None

    async def locked_all(self, request_nos: Sequence[str]) -> dict[str, RequestProgress]:
        """``locked`` for several requests (PostgreSQL): those intake knows, by number."""
        found = await _LOCKED_ALL.execute(self._session, {"request_nos": list(request_nos)})
        return {row[0]: _progress(*row[1:]) for row in found}

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
        return _timeline_at(*found[0])

    async def timeline_at_all(
        self, reports: Sequence[tuple[str, DepartmentReport]]
    ) -> list[TimelineAt]:
        """``timeline_at`` for each (request, report), in one statement (PostgreSQL)."""
        found = await _TIMELINE_AT_ALL.execute(
            self._session,
            {
                "request_nos": [request_no for request_no, _ in reports],
                "ats": [report.occurred_at for _, report in reports],
                "departments": [report.department.value for _, report in reports],
                "summaries": [report.summary for _, report in reports],
            },
        )
        return [_timeline_at(*row) for row in found]

    async def save(
        self,
        request_no: str,
        read: RequestProgress,
        progress: RequestProgress,
        entry: TimelineEntry | None,
    ) -> None:
        """``progress`` where it differs from what was ``read``, and the new entry."""
        await self.save_all([(request_no, read, progress, entry)])

    async def save_all(
        self,
        saved: Sequence[tuple[str, RequestProgress, RequestProgress, TimelineEntry | None]],
    ) -> None:
        """``save`` for several requests, each once: a statement for each kind of row, with
        one set of values per request (one round trip each on PostgreSQL)."""
        moved: list[dict[str, Any]] = []
        assigned: list[dict[str, Any]] = []
        entries: list[dict[str, Any]] = []
        for request_no, read, progress, entry in saved:
            if progress != read:
                values: dict[str, Any] = {
                    "key_request_no": request_no,
                    "status": progress.status.value,
                    "last_department_update_at": progress.last_department_update_at,
                    "updated_at": progress.updated_at,
                }
                if progress.technician is None:
                    moved.append(values)
                else:
                    values["technician_id"] = progress.technician.technician_id
                    values["technician_name"] = progress.technician.name
                    values["technician_assigned_at"] = progress.technician.assigned_at
                    assigned.append(values)
            if entry is not None:
                entries.append(entry_values(request_no, entry))
        await _UPDATE.many(self._session, moved)
        await _UPDATE_WITH_TECHNICIAN.many(self._session, assigned)
        await INSERT_TIMELINE.many(self._session, entries)


def _progress(
    status: str,
    last_update_at: datetime | None,
    technician_id: str | None,
    name: str | None,
    assigned_at: datetime | None,
    updated_at: datetime | None,
) -> RequestProgress:
    technician = (
        Technician(technician_id, name or "", assigned_at)
        if technician_id is not None and assigned_at is not None
        else None
    )
    return RequestProgress(RequestStatus(status), last_update_at, technician, updated_at)


def _timeline_at(status: str | None, has_report: object) -> TimelineAt:
    return TimelineAt(bool(has_report), RequestStatus(status) if status else None)
