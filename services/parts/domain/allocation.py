"""Where a job's parts come from, and who gets stock first when it arrives."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class Priority(StrEnum):
    EMERGENCY = "emergency"  # an approved "machine down" request: before everyone
    URGENT = "urgent"
    ORDINARY = "ordinary"

    @property
    def rank(self) -> int:
        return {Priority.EMERGENCY: 0, Priority.URGENT: 1, Priority.ORDINARY: 2}[self]

    @classmethod
    def of(cls, value: str) -> Priority:
        try:
            return cls(value)
        except ValueError:
            return cls.ORDINARY


@dataclass(frozen=True)
class LineAllocation:
    """How one requested line is served: from the job's service centre, moved from central,
    and what must wait for stock."""

    part_no: str
    requested: int
    from_service_centre: int
    from_central: int

    @property
    def reserved(self) -> int:
        return self.from_service_centre + self.from_central

    @property
    def backordered(self) -> int:
        return self.requested - self.reserved


def allocate(
    part_no: str, requested: int, service_centre_available: int, central_available: int
) -> LineAllocation:
    """Nearest first: the service centre's own stock, then central's (with a transfer);
    whatever neither has is backordered."""
    if requested <= 0:
        raise ValueError("a line asks for at least one unit")
    local = max(0, min(requested, service_centre_available))
    central = max(0, min(requested - local, central_available))
    return LineAllocation(part_no, requested, local, central)


@dataclass(frozen=True)
class WaitingLine:
    line_id: int
    priority: Priority
    created_at: datetime
    waiting: int


def fill_order(lines: list[WaitingLine]) -> list[WaitingLine]:
    """Backorders are filled in order of priority, then of age (oldest first)."""
    return sorted(lines, key=lambda line: (line.priority.rank, line.created_at, line.line_id))


def share_out(arrived: int, lines: list[WaitingLine]) -> list[tuple[WaitingLine, int]]:
    """Give ``arrived`` units to the waiting lines in fill order; a line may be filled in part."""
    given = []
    for line in fill_order(lines):
        if arrived <= 0:
            break
        take = min(arrived, line.waiting)
        if take > 0:
            given.append((line, take))
            arrived -= take
    return given
