"""The partner dealer API (a published contract: ../shared/contracts/dealer-api.md)."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime, ValidationError

from services.intake.api.dealer_auth import DealerDep, authenticated_dealer
from services.intake.api.dealer_schemas import (
    DEALER_STATUSES,
    DealerCustomer,
    DealerFault,
    DealerProduct,
    DealerReplacedPart,
    DealerReportCreated,
    DealerReportIn,
    DealerReportPage,
    DealerReportRead,
    DealerWorkDone,
    TimelineEntry,
    Warranty,
    dealer_status,
    internal_statuses,
)
from services.intake.commands.dealer_report_queue import DealerReportQueue
from services.intake.commands.dealers import DealerReport, IdempotencyKey
from services.intake.commands.errors import Conflict
from services.intake.commands.registration import RegisterRequest, find_request
from services.intake.db.repository import ServiceRequestRepository
from services.intake.domain.service_request import (
    Channel,
    Customer,
    ReplacedPart,
    ServiceRequest,
    WorkDone,
)
from services.intake.domain.triage import TriageRules, parse_channels
from services.intake.domain.workflow import RequestStatus
from services.intake.metrics import DEALER_REPORTS
from shared.http.deps import UnitOfWorkDep, get_unit_of_work
from shared.http.problems import Problem
from shared.observability.context import current_causation_id, current_correlation_id

router = APIRouter(prefix="/api/v1/dealer", tags=["partner dealers"])

DealerStatus = StrEnum("DealerStatus", {s: s for s in DEALER_STATUSES})  # type: ignore[misc]


def _created(request: ServiceRequest) -> dict[str, Any]:
    return DealerReportCreated(
        request_no=request.request_no,
        dealer_report_no=request.dealer_report_no or "",
        # The answer to a submission says it was received, as the contract shows; the
        # automatic triage done in the same transaction shows on the report's timeline.
        status=dealer_status(RequestStatus.RECEIVED),
        warranty=Warranty(in_warranty=request.in_warranty, expires_on=request.warranty_expires_on),
        received_at=request.received_at,
    ).model_dump(mode="json")


def _triage_rules(request: Request) -> TriageRules:
    """The automatic triage rules of this process's settings, built once."""
    state = request.app.state
    if getattr(state, "dealer_triage_rules", None) is None:
        channels = state.runtime.settings.service.auto_triage_channels
        state.dealer_triage_rules = TriageRules(channels=parse_channels(channels))
    rules: TriageRules = state.dealer_triage_rules
    return rules


def _report_queue(request: Request) -> DealerReportQueue:
    """This process's queue of dealer reports to register, made on first use."""
    state = request.app.state
    if getattr(state, "dealer_report_queue", None) is None:
        runtime = state.runtime
        settings = runtime.settings.service
        state.dealer_report_queue = DealerReportQueue(
            runtime.unit_of_work,
            _created,
            settings.default_warranty_months,
            _triage_rules(request),
            settings.dealer_report_group_size,
            settings.dealer_report_groups_at_once,
        )
    queue: DealerReportQueue = state.dealer_report_queue
    return queue


def _read(request: ServiceRequest) -> DealerReportRead:
    work = request.work_done
    return DealerReportRead(
        dealer_report_no=request.dealer_report_no or "",
        customer=DealerCustomer(
            name=request.customer.name,
            phone=request.customer.phone,
            address=request.customer.address,
            region=request.customer.region,
        ),
        product=DealerProduct(model=request.product_model, serial_no=request.serial_no),
        purchase_date=request.purchase_date,
        fault=DealerFault(
            description=request.fault_description,
            code=request.fault_code,
            occurred_at=request.fault_occurred_at,
        ),
        request=request.customer_asks,  # type: ignore[arg-type]
        severity=request.severity,  # type: ignore[arg-type]
        work_done=None
        if work is None
        else DealerWorkDone(
            completed_at=work.completed_at,
            technician_name=work.technician_name,
            labour_hours=work.labour_hours,
            travel_km=work.travel_km,
            cause=work.cause,
            parts_replaced=[
                DealerReplacedPart(
                    part_no=p.part_no, quantity=p.quantity, old_part_serial=p.old_part_serial
                )
                for p in work.parts_replaced
            ],
        ),
        request_no=request.request_no,
        status=dealer_status(request.status),
        warranty=Warranty(in_warranty=request.in_warranty, expires_on=request.warranty_expires_on),
        received_at=request.received_at,
        updated_at=request.updated_at or request.received_at,
        timeline=[
            TimelineEntry(
                at=e.at,
                department=e.department,
                status=dealer_status(e.status),
                summary=e.summary,
                details=e.details,
            )
            for e in request.timeline
        ],
    )


def _idempotency_key(value: str | None) -> str:
    if value is None or not 1 <= len(value) <= 255 or not all(" " <= c <= "~" for c in value):
        raise Problem(
            400,
            "Bad Request",
            "Idempotency-Key is required: 1 to 255 printable ASCII characters.",
            type_="urn:aftersales:problem:idempotency-key",
        )
    return value


# ``json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)``, whose
# text every stored key's hash was taken of, with its encoder built once.
_CANONICAL_JSON = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _parse_report(raw: bytes) -> tuple[DealerReportIn, str]:
    """The validated report and the hash of its canonical JSON (so that a dealer resending
    the same report with other spacing or key order is recognised)."""
    try:
        payload = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RequestValidationError(
            [{"type": "json_invalid", "loc": ("body",), "msg": f"Invalid JSON: {exc}"}]
        ) from exc
    try:
        report = DealerReportIn.model_validate(payload)
    except ValidationError as exc:
        raise RequestValidationError(exc.errors(include_url=False)) from exc
    canonical = _CANONICAL_JSON.encode(payload)
    return report, hashlib.sha256(canonical.encode()).hexdigest()


def _command(dealer_id: str, report: DealerReportIn) -> RegisterRequest:
    work = report.work_done
    return RegisterRequest(
        channel=Channel.DEALER,
        customer=Customer(
            name=report.customer.name,
            phone=report.customer.phone,
            address=report.customer.address,
            region=report.customer.region,
        ),
        product_model=report.product.model,
        serial_no=report.product.serial_no,
        fault_description=report.fault.description,
        customer_asks=report.request,
        severity=report.severity,
        purchase_date=report.purchase_date,
        fault_code=report.fault.code,
        fault_occurred_at=report.fault.occurred_at,
        dealer_id=dealer_id,
        dealer_report_no=report.dealer_report_no,
        work_done=None
        if work is None
        else WorkDone(
            completed_at=work.completed_at,
            technician_name=work.technician_name,
            labour_hours=work.labour_hours,
            travel_km=work.travel_km,
            cause=work.cause,
            parts_replaced=tuple(
                ReplacedPart(p.part_no, p.quantity, p.old_part_serial) for p in work.parts_replaced
            ),
        ),
        actor=f"dealer:{dealer_id}",
    )


# The Idempotency-Key header as FastAPI describes a ``str | None`` header parameter: the
# route reads the header itself (below).
_IDEMPOTENCY_KEY_PARAMETER = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "schema": {"anyOf": [{"type": "string"}, {"type": "null"}], "title": "Idempotency-Key"},
}


@router.post(
    "/repair-reports",
    status_code=201,
    summary="Submit a repair report",
    response_model=DealerReportCreated,
    openapi_extra={
        "parameters": [_IDEMPOTENCY_KEY_PARAMETER],
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": DealerReportIn.model_json_schema()}},
        },
    },
    responses={
        400: {"description": "Idempotency-Key missing or malformed"},
        401: {"description": "Unknown dealer, wrong signature or clock skew"},
        403: {"description": "Dealer suspended"},
        409: {"description": "Idempotency-Key reused with another body, or report number reused"},
        413: {"description": "Body larger than 1 MiB"},
        422: {"description": "Invalid fields, every one listed"},
        429: {"description": "Rate limit exceeded; see Retry-After"},
    },
)
async def submit_repair_report(request: Request) -> JSONResponse:
    # What the other routes take as FastAPI dependencies and a header parameter is taken
    # here by plain calls, in the same order (dealer first, then the key): FastAPI's
    # solving of them cost more CPU per report than the rest of the route's own work
    # (bench/http_overhead.py).
    uow = await get_unit_of_work(request)
    dealer = await authenticated_dealer(request, uow)
    idempotency_key = request.headers.get("idempotency-key")
    try:
        key = _idempotency_key(idempotency_key)
        report, body_hash = _parse_report(await request.body())
        settings = request.app.state.runtime.settings.service
        answer = await _report_queue(request).submit(
            DealerReport(
                IdempotencyKey(dealer.dealer_id, key, body_hash, settings.idempotency_window),
                _command(dealer.dealer_id, report),
                current_correlation_id(),
                current_causation_id(),
            )
        )
    except Conflict as exc:
        DEALER_REPORTS.labels("rejected").inc()
        raise Problem(409, "Conflict", str(exc), type_="urn:aftersales:problem:conflict") from exc
    except (Problem, RequestValidationError):
        DEALER_REPORTS.labels("rejected").inc()
        raise
    DEALER_REPORTS.labels("replayed" if answer.replayed else "created").inc()
    headers = {"Location": f"{router.prefix}/repair-reports/{answer.body['request_no']}"}
    if answer.replayed:
        headers["Idempotent-Replayed"] = "true"
    return JSONResponse(answer.body, status_code=answer.status_code, headers=headers)


@router.get(
    "/repair-reports/{request_no}", summary="One of this dealer's reports, with its timeline"
)
async def get_repair_report(
    request_no: Annotated[str, Path(max_length=20)],
    dealer: DealerDep,
    uow: UnitOfWorkDep,
) -> DealerReportRead:
    found = await find_request(uow, request_no, with_timeline=True)
    if found is None or found.dealer_id != dealer.dealer_id:
        # Another dealer's report is as unknown as one that does not exist.
        raise Problem(404, "Not Found", f"No report {request_no} of dealer {dealer.dealer_id}.")
    return _read(found)


def _encode_cursor(updated_at: datetime, row_id: int) -> str:
    return base64.urlsafe_b64encode(f"{updated_at.isoformat()}|{row_id}".encode()).decode()


def _decode_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        stamp, row_id = base64.urlsafe_b64decode(cursor.encode()).decode().split("|")
        updated_at = datetime.fromisoformat(stamp)
        if updated_at.tzinfo is None:
            raise ValueError("naive")
        return updated_at, int(row_id)
    except (ValueError, UnicodeDecodeError) as exc:
        raise RequestValidationError(
            [{"type": "value_error", "loc": ("query", "cursor"), "msg": "Invalid cursor"}]
        ) from exc


@router.get("/repair-reports", summary="This dealer's reports, newest update first")
async def list_repair_reports(
    dealer: DealerDep,
    uow: UnitOfWorkDep,
    status: Annotated[DealerStatus | None, Query()] = None,  # type: ignore[valid-type]
    updated_since: Annotated[AwareDatetime | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> DealerReportPage:
    after = _decode_cursor(cursor) if cursor else None
    async with uow:
        requests = ServiceRequestRepository(uow.session)
        statuses = internal_statuses(status.value) if status is not None else None
        page = await requests.dealer_page(
            dealer.dealer_id, limit + 1, statuses, updated_since, after
        )
        items = []
        for found, _row_id in page[:limit]:
            found.timeline = await requests.timeline(found.request_no)
            items.append(_read(found))
    next_cursor = None
    if len(page) > limit:
        last, row_id = page[limit - 1]
        next_cursor = _encode_cursor(last.updated_at or last.received_at, row_id)
    return DealerReportPage(items=items, next_cursor=next_cursor)
