"""Billing's numbers come from settings with the regulations' defaults."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import ValidationError

from services.billing.settings import BillingSettings


def test_defaults_are_the_regulations() -> None:
    settings = BillingSettings()
    assert settings.currency == "CNY"
    assert settings.vat_rates() == {
        kind: Decimal("0.13") for kind in ("labour", "parts", "travel", "call_out", "other")
    }
    assert settings.general_manager_discount_percent == Decimal("10")
    assert settings.cost_share_target_percent == Decimal("2")


def test_vat_per_line_type_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BILLING_VAT_TRAVEL", "0.09")
    monkeypatch.setenv("BILLING_VAT_PARTS", "0.13")
    rates = BillingSettings().vat_rates()
    assert rates["travel"] == Decimal("0.09") and rates["labour"] == Decimal("0.13")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("BILLING_VAT_LABOUR", "1.3"),
        ("BILLING_VAT_OTHER", "-0.01"),
        ("BILLING_DISPOSAL_SETTLE_BY", "cash"),
        ("BILLING_CURRENCY", "RMB元"),
        ("BILLING_GENERAL_MANAGER_DISCOUNT_PERCENT", "101"),
    ],
)
def test_a_wrong_setting_stops_the_start(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError):
        BillingSettings()
