"""Reconciliation of parts usage with a service centre: what it was issued, what the jobs
confirmed fitted, what came back unused, and what is still out (the difference to explain)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class ReconciledPart:
    part_no: str
    issued: int
    consumed: int
    returned: int

    @property
    def still_out(self) -> int:
        return self.issued - self.consumed - self.returned


@dataclass(frozen=True)
class Reconciliation:
    warehouse_id: str
    period_start: datetime
    period_end: datetime
    parts: list[ReconciledPart]

    @property
    def totals(self) -> ReconciledPart:
        return ReconciledPart(
            "total",
            sum(p.issued for p in self.parts),
            sum(p.consumed for p in self.parts),
            sum(p.returned for p in self.parts),
        )


def reconcile(
    warehouse_id: str,
    start: datetime,
    end: datetime,
    moved: list[tuple[str, str, int]],
) -> Reconciliation:
    """``moved``: (part_no, kind, quantity) of the warehouse's issue, consumption and
    unused-return movements in the period."""
    figures: dict[str, dict[str, int]] = {}
    for part_no, kind, quantity in moved:
        part = figures.setdefault(part_no, {"issue": 0, "consumption": 0, "return": 0})
        if kind in part:
            part[kind] += quantity
    return Reconciliation(
        warehouse_id,
        start,
        end,
        [
            ReconciledPart(p, f["issue"], f["consumption"], f["return"])
            for p, f in sorted(figures.items())
        ],
    )


def months_before(moment: datetime, months: int) -> datetime:
    """The same day ``months`` earlier (the month's last day when it has no such day)."""
    month_index = moment.year * 12 + moment.month - 1 - months
    year, month = divmod(month_index, 12)
    month += 1
    for day in range(moment.day, 27, -1):
        try:
            return moment.replace(year=year, month=month, day=day)
        except ValueError:
            continue
    return moment.replace(year=year, month=month, day=min(moment.day, 28))
