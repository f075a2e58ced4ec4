from __future__ import annotations

from decimal import Decimal

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class BillingSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="BILLING_", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///data/billing.db"
    port: int = 8005
    currency: str = Field("CNY", min_length=3, max_length=3)
    # VAT per line type (a fraction: 0.13 is 13 %).
    vat_labour: Decimal = Field(Decimal("0.13"), ge=0, lt=1)
    vat_parts: Decimal = Field(Decimal("0.13"), ge=0, lt=1)
    vat_travel: Decimal = Field(Decimal("0.13"), ge=0, lt=1)
    vat_call_out: Decimal = Field(Decimal("0.13"), ge=0, lt=1)
    vat_other: Decimal = Field(Decimal("0.13"), ge=0, lt=1)
    # A quote price further than this below the standard needs the general manager.
    general_manager_discount_percent: Decimal = Field(Decimal("10"), ge=0, le=100)
    quote_valid_days: int = Field(30, ge=1)
    # How often issued quotes past their validity are looked for (and expire as declined).
    quote_expiry_check_seconds: float = Field(300.0, gt=0)
    # What the company's own work costs it (the cost ledger), CNY.
    internal_labour_rate: Decimal = Field(Decimal("120"), ge=0)
    internal_travel_per_km: Decimal = Field(Decimal("1.5"), ge=0)
    # A visit whose quote the customer declined costs the diagnosis: from arrival to the
    # diagnosis when dispatch reported both, otherwise this many minutes.
    diagnosis_minutes: int = Field(30, ge=0, le=24 * 60)
    # Dispatch reports the km travelled only with a completed job: a declined visit is
    # costed at its service point's standard distance (service point id → km; JSON in the
    # environment, e.g. {"SP-HZ": "20"}); a service point not named here: no travel cost.
    service_point_travel_km: dict[str, Decimal] = Field(default_factory=dict)
    # After-sales cost as a share of sales must stay at or under this.
    cost_share_target_percent: Decimal = Field(Decimal("2"), ge=0, le=100)
    # How old parts' disposal charges are settled with the supplier: chargeback or deduction.
    disposal_settle_by: str = Field("chargeback", pattern="^(chargeback|deduction)$")
    # How often the receivables and quote gauges are recounted from the database.
    gauge_seconds: float = Field(30.0, gt=0)

    def vat_rates(self) -> dict[str, Decimal]:
        return {
            "labour": self.vat_labour,
            "parts": self.vat_parts,
            "travel": self.vat_travel,
            "call_out": self.vat_call_out,
            "other": self.vat_other,
        }
