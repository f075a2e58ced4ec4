"""Warranty derived from a unit's start date and its model's period."""

from __future__ import annotations

from datetime import date

import pytest

from services.intake.domain.warranty import Warranty, add_months


def test_contract_example_bought_1_march_expires_1_march_next_year() -> None:
    warranty = Warranty.for_unit(date(2026, 3, 1), 12)
    assert warranty.expires_on == date(2027, 3, 1)
    assert warranty.covers(date(2026, 11, 20)) is True
    assert warranty.covers(date(2027, 2, 28)) is True  # the last covered day
    assert warranty.covers(date(2027, 3, 1)) is False  # the day it expires
    assert warranty.covers(date(2026, 2, 28)) is False  # before it was bought


def test_period_is_per_model() -> None:
    assert Warranty.for_unit(date(2026, 3, 1), 24).expires_on == date(2028, 3, 1)
    assert Warranty.for_unit(date(2026, 3, 1), 0).covers(date(2026, 3, 1)) is False


def test_month_end_is_kept_inside_the_month() -> None:
    assert add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)
    assert add_months(date(2027, 1, 31), 13) == date(2028, 2, 29)  # a leap year
    assert add_months(date(2026, 12, 15), 1) == date(2027, 1, 15)
    assert add_months(date(2026, 11, 30), 14) == date(2028, 1, 30)


def test_unknown_start_date_gives_unknown_warranty() -> None:
    warranty = Warranty.for_unit(None)
    assert warranty.expires_on is None
    assert warranty.covers(date(2026, 11, 24)) is None


def test_negative_period_is_refused() -> None:
    with pytest.raises(ValueError):
        Warranty.for_unit(date(2026, 3, 1), -1)
