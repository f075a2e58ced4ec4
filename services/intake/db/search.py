"""Searching service requests for intake's staff: filters, free text and keyset pages.

Pages are cut on (sort column, id) in the sort direction, so a page boundary is a position,
not an offset: requests registered while a client walks the pages never shift the pages it
has not fetched yet (with newest-first they sort before the walk's position and are not
met; with oldest-first they sort after it and are met at the end).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import ColumnElement, Select, String, and_, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake.db.models import ServiceRequestRow, SlaClockRow

# The repository's row → domain mapping, shared within intake's db package on purpose: a
# second copy would drift from it the first time a column is added.
from services.intake.db.repository import request_from_row
from services.intake.domain.service_request import Channel, Kind, ServiceRequest, Severity
from services.intake.domain.workflow import RequestStatus


class SearchSort(StrEnum):
    """The orders a search can be read in; ``-`` means newest first."""

    RECEIVED_DESC = "-received_at"
    RECEIVED_ASC = "received_at"
    UPDATED_DESC = "-updated_at"
    UPDATED_ASC = "updated_at"

    @property
    def descending(self) -> bool:
        return self.value.startswith("-")

    @property
    def column(self) -> ColumnElement[datetime]:
        if self in (SearchSort.RECEIVED_DESC, SearchSort.RECEIVED_ASC):
            return ServiceRequestRow.received_at
        return ServiceRequestRow.updated_at

    def value_of(self, row: ServiceRequestRow) -> datetime:
        if self in (SearchSort.RECEIVED_DESC, SearchSort.RECEIVED_ASC):
            return row.received_at
        return row.updated_at


# What the free text ``q`` is looked for in.
SEARCHED_COLUMNS = (
    ServiceRequestRow.request_no,
    ServiceRequestRow.customer_name,
    ServiceRequestRow.customer_phone,
    ServiceRequestRow.product_model,
    ServiceRequestRow.serial_no,
    ServiceRequestRow.fault_description,
    ServiceRequestRow.dealer_report_no,
    ServiceRequestRow.customer_address,
)


@dataclass(frozen=True)
class RequestSearch:
    """What to look for; every filter left empty admits everything, the rest are ANDed."""

    statuses: tuple[RequestStatus, ...] = ()  # any of these
    kind: Kind | None = None
    severity: Severity | None = None
    channel: Channel | None = None
    region: str | None = None  # exact
    dealer_id: str | None = None
    received_from: datetime | None = None  # inclusive
    received_to: datetime | None = None  # exclusive
    text: str | None = None  # case-insensitive substring of SEARCHED_COLUMNS, taken literally
    # An unmet, running SLA clock due before this moment (so breached ones too).
    clock_due_before: datetime | None = None
    # True: a clock was breached (met late or not yet); False: none was.
    breached: bool | None = None
    sort: SearchSort = SearchSort.RECEIVED_DESC


@dataclass(frozen=True)
class SearchKey:
    """Where a page ended: the last request's sort value and row id."""

    at: datetime
    row_id: int


def _text_matches(text: str) -> ColumnElement[bool]:
    # lower() on both sides rather than ILIKE (PostgreSQL only); autoescape makes % and _ in
    # the text literal. SQLite's lower() folds ASCII only; Chinese has no case to fold.
    needle = text.lower()
    return or_(
        *(
            func.lower(column, type_=String).contains(needle, autoescape=True)
            for column in SEARCHED_COLUMNS
        )
    )


def _after(sort: SearchSort, key: SearchKey) -> ColumnElement[bool]:
    column, row_id = sort.column, ServiceRequestRow.id
    if sort.descending:
        return or_(column < key.at, and_(column == key.at, row_id < key.row_id))
    return or_(column > key.at, and_(column == key.at, row_id > key.row_id))


def search_statement(
    search: RequestSearch, limit: int, after: SearchKey | None = None
) -> Select[tuple[ServiceRequestRow]]:
    row = ServiceRequestRow
    conditions: list[ColumnElement[bool]] = []
    if search.statuses:
        conditions.append(row.status.in_([status.value for status in search.statuses]))
    if search.kind is not None:
        conditions.append(row.kind == search.kind.value)
    if search.severity is not None:
        conditions.append(row.severity == search.severity.value)
    if search.channel is not None:
        conditions.append(row.channel == search.channel.value)
    if search.region is not None:
        conditions.append(row.customer_region == search.region)
    if search.dealer_id is not None:
        conditions.append(row.dealer_id == search.dealer_id)
    if search.received_from is not None:
        conditions.append(row.received_at >= search.received_from)
    if search.received_to is not None:
        conditions.append(row.received_at < search.received_to)
    if search.text:
        conditions.append(_text_matches(search.text))
    if search.clock_due_before is not None:
        conditions.append(
            exists().where(
                SlaClockRow.request_no == row.request_no,
                SlaClockRow.met_at.is_(None),
                SlaClockRow.due_at < search.clock_due_before,
            )
        )
    if search.breached is not None:
        any_breach = exists().where(
            SlaClockRow.request_no == row.request_no, SlaClockRow.breached_at.is_not(None)
        )
        conditions.append(any_breach if search.breached else ~any_breach)
    if after is not None:
        conditions.append(_after(search.sort, after))
    column = search.sort.column
    order = (
        (column.desc(), row.id.desc()) if search.sort.descending else (column.asc(), row.id.asc())
    )
    return select(row).where(*conditions).order_by(*order).limit(limit)


async def search_requests(
    session: AsyncSession, search: RequestSearch, limit: int, after: SearchKey | None = None
) -> tuple[list[ServiceRequest], SearchKey | None]:
    """One page of at most ``limit`` requests (without timelines) after ``after``, and the
    key to continue from, or None when this page is the last."""
    if limit < 1:
        raise ValueError("limit must be at least 1")
    # One row more than asked tells whether another page follows, without a second query.
    rows = (await session.execute(search_statement(search, limit + 1, after))).scalars().all()
    page = rows[:limit]
    next_key = None
    if len(rows) > limit:
        last = page[-1]
        next_key = SearchKey(search.sort.value_of(last), last.id)
    return [request_from_row(found) for found in page], next_key
