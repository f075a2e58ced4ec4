"""Gap-free document numbers: EM-2026-000001 and the like."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from services.parts.db.models import CounterRow
from shared.db.sequences import upsert_increment


async def next_number(session: AsyncSession, kind: str, year: int) -> str:
    statement = upsert_increment(
        session, CounterRow.__table__, {"kind": kind, "year": year}, "value"
    )  # type: ignore[arg-type]
    value = (await session.execute(statement)).scalar_one()
    return f"{kind}-{year}-{value:06d}"
