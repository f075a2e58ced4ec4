"""Gap-free document numbers: ``INV-2026-000001``, one counter per kind and year."""

from __future__ import annotations

from datetime import datetime

from services.billing.db.models import DocumentCounterRow
from shared.db.sequences import upsert_increment
from shared.db.unit_of_work import UnitOfWork


async def next_number(uow: UnitOfWork, kind: str, at: datetime) -> str:
    """Drawn inside the issuing transaction: concurrent issuers (also in other billing
    instances) queue on the counter row, and a rolled-back document gives its number back."""
    statement = upsert_increment(
        uow.session,
        DocumentCounterRow.__table__,  # type: ignore[arg-type]
        {"kind": kind, "year": at.year},
        "last",
    )
    value = (await uow.session.execute(statement)).scalar_one()
    return f"{kind}-{at.year}-{value:06d}"
