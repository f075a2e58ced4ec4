"""Claims' figures: the summary behind the metrics, and warranty cost by model, dealer and
supplier per month."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.claims.commands.desk import Desk
from services.claims.db.models import ClaimRow, QualityAlertRow, RecoveryRow
from services.claims.db.repository import ClaimRepository
from services.claims.domain.claim import DECIDED, ClaimLine, ClaimSource, ClaimStatus
from services.claims.domain.reason_codes import ReasonCode
from services.claims.domain.recovery import RecoveryState
from services.claims.domain.rules import RuleSettings
from services.claims.metrics import (
    APPROVAL_RATIO,
    APPROVED_AMOUNT,
    AWAITING_REVIEW_OVERDUE,
    CLAIMS,
    DISPUTES_NEAR_DEADLINE,
    QUALITY_ALERTS,
    REASON_CODES,
    RECOVERIES,
    RECOVERY_CORRECTIONS,
)

log = logging.getLogger(__name__)


async def summary(
    session: AsyncSession, now: datetime | None = None, desk: Desk | None = None
) -> dict[str, Any]:
    now = now or datetime.now(UTC)
    desk = desk or Desk(rules=RuleSettings())
    by_status: dict[str, dict[str, int]] = {
        s.value: {src.value: 0 for src in ClaimSource} for s in ClaimStatus
    }
    rows = await session.execute(
        select(ClaimRow.status, ClaimRow.source, func.count()).group_by(
            ClaimRow.status, ClaimRow.source
        )
    )
    for status, source, count in rows:
        by_status.setdefault(status, {})[source] = count
    decided = {s.value for s in DECIDED}
    counts = {status: sum(v.values()) for status, v in by_status.items()}
    decided_count = sum(counts[s] for s in decided)
    approved_count = counts["approved"] + counts["partially_approved"]
    amount = (
        await session.execute(
            select(func.coalesce(func.sum(ClaimRow.amount_approved), 0)).where(
                ClaimRow.status.in_(decided)
            )
        )
    ).scalar_one()
    claims = ClaimRepository(session)
    reasons: Counter[str] = Counter({c.value: 0 for c in ReasonCode})
    for (codes,) in await session.execute(select(ClaimRow.reason_codes)):
        reasons.update(c for c in (codes or "").split(",") if c)
    recoveries = {s.value: 0 for s in RecoveryState}
    for state, count in await session.execute(
        select(RecoveryRow.state, func.count()).group_by(RecoveryRow.state)
    ):
        recoveries[state] = count
    alerts = (await session.execute(select(func.count()).select_from(QualityAlertRow))).scalar_one()
    corrections = (
        await session.execute(
            select(func.count())
            .select_from(RecoveryRow)
            .where(RecoveryRow.correction_needed.is_not(None))
        )
    ).scalar_one()
    return {
        "claims_by_status_and_source": by_status,
        "approval_ratio": (
            (Decimal(approved_count) / Decimal(decided_count)).quantize(Decimal("0.0001"))
            if decided_count
            else None
        ),
        "approved_amount": Decimal(amount).quantize(Decimal("0.01")),
        "reason_codes": dict(sorted(reasons.items())),
        "recoveries_by_state": recoveries,
        "quality_alerts": alerts,
        "recoveries_needing_correction": corrections,
        "claims_awaiting_review_overdue": await claims.count_awaiting_review_overdue(
            now, desk.review_overdue
        ),
        "supplier_disputes_near_deadline": await claims.count_disputes_near_deadline(
            now, desk.dispute_deadline_warning
        ),
    }


def publish_gauges(figures: dict[str, Any]) -> None:
    for status, sources in figures["claims_by_status_and_source"].items():
        for source, count in sources.items():
            CLAIMS.labels(status, source).set(count)
    APPROVAL_RATIO.set(float(figures["approval_ratio"] or 0))
    APPROVED_AMOUNT.set(float(figures["approved_amount"]))
    for code, count in figures["reason_codes"].items():
        REASON_CODES.labels(code).set(count)
    for state, count in figures["recoveries_by_state"].items():
        RECOVERIES.labels(state).set(count)
    QUALITY_ALERTS.set(figures["quality_alerts"])
    RECOVERY_CORRECTIONS.set(figures["recoveries_needing_correction"])
    AWAITING_REVIEW_OVERDUE.set(figures["claims_awaiting_review_overdue"])
    DISPUTES_NEAR_DEADLINE.set(figures["supplier_disputes_near_deadline"])


async def keep_figures_counted(
    sessions: async_sessionmaker[AsyncSession], desk: Desk, every: float
) -> None:
    while True:
        try:
            async with sessions() as session:
                publish_gauges(await summary(session, desk=desk))
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("claims figures not counted", extra={"error": repr(exc)[:300]})
        await asyncio.sleep(every)


_KEYS: dict[str, Callable[[ClaimRow, ClaimLine | None], str | None]] = {
    "model": lambda row, _line: row.product_model,
    "dealer": lambda row, _line: row.dealer_id or "own_service",
    "supplier": lambda _row, line: line.supplier_id if line else None,
}


async def warranty_cost(session: AsyncSession, by: str) -> list[dict[str, Any]]:
    """Approved warranty cost per month and model, dealer or supplier (a supplier's cost is
    its approved parts)."""
    totals: dict[tuple[str, str], Decimal] = {}
    rows = await session.execute(
        select(ClaimRow).where(
            ClaimRow.status.in_([ClaimStatus.APPROVED.value, ClaimStatus.PARTIALLY_APPROVED.value])
        )
    )
    for row in rows.scalars():
        month = row.decided_at.strftime("%Y-%m") if row.decided_at else "unknown"
        if by == "supplier":
            for data in row.lines:
                line = ClaimLine.from_dict(data)
                key = _KEYS[by](row, line)
                if key:
                    totals[(month, key)] = (
                        totals.get((month, key), Decimal("0")) + line.amount_approved
                    )
        else:
            key = _KEYS[by](row, None) or ""
            totals[(month, key)] = totals.get((month, key), Decimal("0")) + row.amount_approved
    return [
        {"month": month, by: key, "amount": amount}
        for (month, key), amount in sorted(totals.items())
    ]
