"""Claims' reference data: warranty policies, labour operations and rates, the part
catalogue copy and suppliers. Plain values; the rules read them."""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

# Causes no warranty covers, whatever the policy says (DOMAIN §4: misuse, human damage, force
# majeure); a policy may exclude more.
ALWAYS_EXCLUDED_CAUSES = frozenset({"misuse", "human_damage", "force_majeure"})


def add_months(day: date, months: int) -> date:
    """The same day ``months`` later, or the month's last day when it has no such day."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


@dataclass(frozen=True)
class WarrantyPolicy:
    product_model: str
    effective_from: date
    effective_to: date | None
    period_months: int
    covers_parts: bool = True
    covers_labour: bool = True
    covers_travel: bool = True
    excluded_causes: tuple[str, ...] = ()
    excluded_parts: tuple[str, ...] = ()
    travel_cap_km: Decimal | None = None
    id: int | None = None

    def in_force_on(self, day: date) -> bool:
        return self.effective_from <= day and (
            self.effective_to is None or day <= self.effective_to
        )

    def expires_on(self, purchase_date: date) -> date:
        """The last day of cover: a 12-month warranty bought on 1 March ends on 28/29 Feb."""
        return date.fromordinal(add_months(purchase_date, self.period_months).toordinal() - 1)

    def excludes_cause(self, cause: str) -> bool:
        return cause in ALWAYS_EXCLUDED_CAUSES or cause in self.excluded_causes


def policy_in_force(
    policies: Iterable[WarrantyPolicy], purchase_date: date
) -> WarrantyPolicy | None:
    """The policy that applied when the unit was bought (the latest start wins an overlap)."""
    fitting = [p for p in policies if p.in_force_on(purchase_date)]
    return max(fitting, key=lambda p: p.effective_from) if fitting else None


@dataclass(frozen=True)
class LabourOperation:
    code: str
    product_line: str
    description: str
    standard_hours: Decimal
    # The fault this operation repairs; None for the product line's general repair.
    fault_code: str | None = None


def operation_for(
    operations: Iterable[LabourOperation], product_line: str | None, fault_code: str | None
) -> LabourOperation | None:
    """The flat-rate operation of the fault within the product line, else its general one."""
    fitting = [o for o in operations if o.product_line == product_line]
    exact = [o for o in fitting if fault_code is not None and o.fault_code == fault_code]
    general = [o for o in fitting if o.fault_code is None]
    chosen = exact or general
    return sorted(chosen, key=lambda o: o.code)[0] if chosen else None


@dataclass(frozen=True)
class LabourRate:
    product_line: str
    hourly_rate: Decimal
    per_km_rate: Decimal


@dataclass(frozen=True)
class CataloguePart:
    part_no: str
    name: str
    list_price: Decimal
    unit_cost: Decimal
    supplier_id: str | None
    return_required: bool
    changed_at: datetime


@dataclass(frozen=True)
class Supplier:
    supplier_id: str
    name: str
    assessment_per_unit: Decimal
    # None: the service's default dispute window.
    dispute_days: int | None = None
    # How billing recovers: an invoice (chargeback) or a deduction from what we owe it.
    settle_by: str = "chargeback"
