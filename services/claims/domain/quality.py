"""Quality watch: the same failure cause (model and fault code) too often in a quarter."""

from __future__ import annotations

from datetime import UTC, datetime


def quarter_of(moment: datetime) -> str:
    return f"{moment.year}-Q{(moment.month - 1) // 3 + 1}"


def quarter_bounds(moment: datetime) -> tuple[datetime, datetime]:
    first_month = (moment.month - 1) // 3 * 3 + 1
    start = datetime(moment.year, first_month, 1, tzinfo=UTC)
    end = (
        datetime(moment.year + 1, 1, 1, tzinfo=UTC)
        if first_month == 10
        else datetime(moment.year, first_month + 3, 1, tzinfo=UTC)
    )
    return start, end


def alert_due(count: int, threshold: int) -> bool:
    """More than ``threshold`` failures of one cause in the quarter (the target is at most)."""
    return count > threshold
