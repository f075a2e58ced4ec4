"""Intake's staff search of service requests: filters, free text, keyset pages."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.exceptions import RequestValidationError
from pydantic import AwareDatetime, BaseModel

from services.intake.api.routes import request_read
from services.intake.api.schemas import ServiceRequestRead
from services.intake.db.search import RequestSearch, SearchKey, SearchSort, search_requests
from services.intake.domain.service_request import Channel, Kind, Severity
from services.intake.domain.workflow import RequestStatus
from shared.auth.dependencies import require_roles
from shared.auth.roles import Role
from shared.auth.tokens import Staff
from shared.http.deps import UnitOfWorkDep

router = APIRouter(prefix="/api/v1/service-requests", tags=["service requests"])

DESCRIPTION = """\
Every filter is optional and they are combined with AND; `status` may be repeated
(`?status=received&status=triaged`) and matches any of the values given.

`q` looks, case-insensitively and literally (`%` and `_` are plain characters), for a
substring of the request number, customer name, phone and address, product model, serial
number, fault description and dealer report number.

`due_within_minutes=N` keeps requests with an SLA clock not yet met that is due within the
next N minutes or already past due (a paused clock is due at no time and never matches);
`breached=true` those with a clock that was breached (met late or not yet), `false` the others.

`received_from` is inclusive and `received_to` exclusive; both need a time zone.

Results come in pages of `limit` (1–200, default 50) in the `sort` order (`-received_at`,
the default, and `-updated_at` are newest first; without `-`, oldest first). Pass
`next_cursor` back as `cursor`, with the same `sort`, for the next page; it is null on the
last page. Pages are cut by position, not offset: requests registered during a walk do not
shift the pages still to come. With an `updated_at` order, a request updated during the walk
moves and may be met twice or not at all.

Items are read without their timeline (`timeline` is always `[]`) to keep the list cheap;
`GET /api/v1/service-requests/{request_no}` gives one request with its timeline.
"""


class ServiceRequestPage(BaseModel):
    items: list[ServiceRequestRead]
    next_cursor: str | None


def _invalid(field: str, message: str) -> RequestValidationError:
    return RequestValidationError(
        [{"type": "value_error", "loc": ("query", field), "msg": message}]
    )


def encode_cursor(sort: SearchSort, key: SearchKey) -> str:
    """An opaque cursor: where the page ended, and in which order."""
    payload = {"sort": sort.value, "at": key.at.isoformat(), "id": key.row_id}
    return base64.urlsafe_b64encode(json.dumps(payload, separators=(",", ":")).encode()).decode()


def decode_cursor(cursor: str, sort: SearchSort) -> SearchKey:
    """The position a cursor names; 422 if it is not one of ours or belongs to another sort."""
    try:
        payload = json.loads(base64.urlsafe_b64decode(cursor.encode("ascii")))
        if not isinstance(payload, dict) or set(payload) != {"sort", "at", "id"}:
            raise ValueError("not a cursor")
        at, row_id = datetime.fromisoformat(payload["at"]), payload["id"]
        if at.tzinfo is None or type(row_id) is not int or row_id < 1:
            raise ValueError("not a cursor")
    except (ValueError, TypeError, UnicodeError, binascii.Error) as exc:
        raise _invalid("cursor", "Invalid cursor") from exc
    if payload["sort"] != sort.value:
        raise _invalid("cursor", f"The cursor continues sort={payload['sort']}, not {sort.value}")
    return SearchKey(at, row_id)


@router.get(
    "",
    summary="Search service requests (items without timeline)",
    description=DESCRIPTION,
)
async def search_service_requests(
    uow: UnitOfWorkDep,
    _staff: Annotated[Staff, Depends(require_roles(Role.INTAKE_AGENT, Role.MANAGER, read=True))],
    status: Annotated[list[RequestStatus] | None, Query(description="Any of these")] = None,
    kind: Annotated[Kind | None, Query()] = None,
    severity: Annotated[Severity | None, Query()] = None,
    channel: Annotated[Channel | None, Query()] = None,
    region: Annotated[
        str | None, Query(min_length=1, max_length=100, description="Exact customer region")
    ] = None,
    dealer_id: Annotated[str | None, Query(min_length=1, max_length=20)] = None,
    received_from: Annotated[AwareDatetime | None, Query(description="Inclusive")] = None,
    received_to: Annotated[AwareDatetime | None, Query(description="Exclusive")] = None,
    q: Annotated[
        str | None, Query(min_length=1, max_length=200, description="Free text, literal")
    ] = None,
    due_within_minutes: Annotated[
        int | None,
        Query(ge=0, le=7 * 24 * 60, description="An unmet clock due this soon, or past due"),
    ] = None,
    breached: Annotated[bool | None, Query(description="A clock was breached")] = None,
    sort: Annotated[SearchSort, Query()] = SearchSort.RECEIVED_DESC,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> ServiceRequestPage:
    if received_from is not None and received_to is not None and received_from > received_to:
        raise _invalid("received_to", "received_to is before received_from")
    after = decode_cursor(cursor, sort) if cursor is not None else None
    search = RequestSearch(
        statuses=tuple(status or ()),
        kind=kind,
        severity=severity,
        channel=channel,
        region=region,
        dealer_id=dealer_id,
        received_from=received_from,
        received_to=received_to,
        text=q,
        clock_due_before=(
            datetime.now(UTC) + timedelta(minutes=due_within_minutes)
            if due_within_minutes is not None
            else None
        ),
        breached=breached,
        sort=sort,
    )
    async with uow:
        found, next_key = await search_requests(uow.session, search, limit, after)
    return ServiceRequestPage(
        items=[request_read(request) for request in found],
        next_cursor=encode_cursor(sort, next_key) if next_key is not None else None,
    )
