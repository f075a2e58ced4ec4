"""The quality register: matters other services pass on to quality (complaints, repeat
repairs, emergency shipment documents), one row per kind and reference."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from services.claims.db.models import QualityReportRow
from services.claims.db.repository import ClaimRepository
from shared.db.unit_of_work import UnitOfWork


async def record_repeat_repair(
    uow: UnitOfWork,
    request_no: str,
    reference: str,
    summary: str,
    details: dict[str, object],
    at: datetime,
    product_model: str | None,
) -> None:
    """Keep a repeat repair for quality and flag the claim of the request (now or when it opens)."""
    await record_quality_report(
        uow, "repeat_repair", reference, request_no, product_model, summary, details, at
    )
    claims = ClaimRepository(uow.session)
    claim = await claims.for_request(request_no)
    if claim is not None and not claim.repeat_repair:
        claim.repeat_repair = True
        await claims.save(claim)


async def record_quality_report(
    uow: UnitOfWork,
    kind: str,
    reference: str,
    request_no: str,
    product_model: str | None,
    summary: str,
    details: dict[str, object],
    at: datetime,
) -> bool:
    known = await uow.session.execute(
        select(QualityReportRow.id).where(
            QualityReportRow.kind == kind, QualityReportRow.reference == reference
        )
    )
    if known.first() is not None:
        return False
    try:
        # A copy handled at the same moment by another consumer wins; this one changes nothing.
        async with uow.session.begin_nested():
            uow.session.add(
                QualityReportRow(
                    kind=kind,
                    reference=reference,
                    request_no=request_no,
                    product_model=product_model,
                    summary=summary,
                    details=details,
                    at=at,
                )
            )
    except IntegrityError:
        return False
    return True
