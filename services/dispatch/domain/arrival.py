"""Arrival targets (DOMAIN §2): a job near a service point must be reached within 3 working
hours in the city, 7 in the suburbs; a job farther away within 24 h up to 300 km, 48 h up to
1000 km, 72 h beyond (clock hours). Not repaired 12 h after arrival: a loaner within 24 h."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from services.dispatch.domain.calendar import WorkingHours


@dataclass(frozen=True)
class ArrivalTargets:
    city: timedelta = timedelta(hours=3)
    suburb: timedelta = timedelta(hours=7)
    local_radius_km: float = 50.0
    near_km: float = 300.0
    near: timedelta = timedelta(hours=24)
    far_km: float = 1000.0
    far: timedelta = timedelta(hours=48)
    farthest: timedelta = timedelta(hours=72)
    loaner_after: timedelta = timedelta(hours=12)
    loaner_within: timedelta = timedelta(hours=24)


@dataclass(frozen=True)
class ArrivalDue:
    target: str  # city, suburb, within_300km, within_1000km, beyond_1000km
    due_at: datetime


def arrival_due(
    start: datetime,
    distance_km: float | None,
    zone: str | None,
    targets: ArrivalTargets,
    hours: WorkingHours,
) -> ArrivalDue:
    """``distance_km`` to the nearest service point (None when the job has no coordinates);
    ``zone`` of that point, or of the point covering the job's region (None: nobody covers)."""
    if distance_km is None or distance_km <= targets.local_radius_km:
        if zone == "city":
            return ArrivalDue("city", hours.add_working_time(start, targets.city))
        if zone == "suburb":
            return ArrivalDue("suburb", hours.add_working_time(start, targets.suburb))
        if distance_km is None:
            return ArrivalDue("beyond_1000km", start + targets.farthest)
    assert distance_km is not None
    if distance_km <= targets.near_km:
        return ArrivalDue("within_300km", start + targets.near)
    if distance_km <= targets.far_km:
        return ArrivalDue("within_1000km", start + targets.far)
    return ArrivalDue("beyond_1000km", start + targets.farthest)


def loaner_due(arrived_at: datetime, targets: ArrivalTargets) -> tuple[datetime, datetime]:
    """When a loaner becomes due (not repaired by then) and by when it must be there."""
    required_at = arrived_at + targets.loaner_after
    return required_at, required_at + targets.loaner_within
