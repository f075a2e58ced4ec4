"""Warranty status of a unit, derived from its model's warranty period and its purchase (or
acceptance) date: known at intake from the serial number alone."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date

DEFAULT_WARRANTY_MONTHS = 12


def add_months(start: date, months: int) -> date:
    """Same day ``months`` later; the month's last day when that day does not exist
    (2026-01-31 + 1 month = 2026-02-28)."""
    month_index = start.month - 1 + months
    year, month = start.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(start.day, calendar.monthrange(year, month)[1]))


@dataclass(frozen=True)
class Warranty:
    """``expires_on`` is the first day no longer covered: bought 2026-03-01 with 12 months,
    covered up to and including 2027-02-28, expires on 2027-03-01."""

    starts_on: date | None
    expires_on: date | None

    @classmethod
    def for_unit(cls, starts_on: date | None, months: int = DEFAULT_WARRANTY_MONTHS) -> Warranty:
        if months < 0:
            raise ValueError("a warranty period cannot be negative")
        if starts_on is None:
            return cls(starts_on=None, expires_on=None)
        return cls(starts_on=starts_on, expires_on=add_months(starts_on, months))

    def covers(self, on: date) -> bool | None:
        """Whether a fault on ``on`` is under warranty; None when the start date is unknown."""
        if self.starts_on is None or self.expires_on is None:
            return None
        return self.starts_on <= on < self.expires_on
