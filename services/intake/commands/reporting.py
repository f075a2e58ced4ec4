"""Figures intake keeps current for operations (Prometheus)."""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.intake.db.models import ServiceRequestRow
from services.intake.domain.workflow import FINAL, RequestStatus
from services.intake.metrics import OPEN_REQUESTS

log = logging.getLogger(__name__)


async def open_requests_by_status(session: AsyncSession) -> dict[RequestStatus, int]:
    rows = await session.execute(
        select(ServiceRequestRow.status, func.count())
        .where(ServiceRequestRow.status.not_in([s.value for s in FINAL]))
        .group_by(ServiceRequestRow.status)
    )
    counts = {status: 0 for status in RequestStatus if status not in FINAL}
    counts.update({RequestStatus(status): count for status, count in rows.all()})
    return counts


async def keep_open_requests_counted(
    sessions: async_sessionmaker[AsyncSession], every: float
) -> None:
    while True:
        try:
            async with sessions() as session:
                counts = await open_requests_by_status(session)
            for status, count in counts.items():
                OPEN_REQUESTS.labels(status.value).set(count)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("counting open requests failed", extra={"error": repr(exc)[:300]})
        await asyncio.sleep(every)
