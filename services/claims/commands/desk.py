"""The settings the claims use cases work with, read once from the service's settings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from services.claims.domain.rules import RuleSettings
from services.claims.settings import ClaimsSettings


@dataclass(frozen=True)
class Desk:
    rules: RuleSettings
    currency: str = "CNY"
    default_hourly_rate: Decimal = Decimal("120.00")
    default_per_km_rate: Decimal = Decimal("1.50")
    supplier_dispute_days: int = 5
    default_supplier_assessment: Decimal = Decimal("500")
    quality_alert_threshold: int = 10
    close_months_automatically: bool = False
    claim_dispute_days: int = 30
    core_return_days: int = 15
    review_overdue: timedelta = timedelta(hours=48)
    dispute_deadline_warning: timedelta = timedelta(hours=24)

    @classmethod
    def from_settings(cls, settings: ClaimsSettings) -> Desk:
        return cls(
            rules=RuleSettings(
                submission_days=settings.submission_days,
                duplicate_window_days=settings.duplicate_window_days,
                review_threshold=settings.review_threshold_amount,
            ),
            currency=settings.currency,
            default_hourly_rate=settings.default_hourly_rate,
            default_per_km_rate=settings.default_per_km_rate,
            supplier_dispute_days=settings.supplier_dispute_days,
            default_supplier_assessment=settings.default_supplier_assessment,
            quality_alert_threshold=settings.quality_alert_threshold,
            close_months_automatically=settings.close_months_automatically,
            claim_dispute_days=settings.claim_dispute_days,
            core_return_days=settings.core_return_days,
            review_overdue=timedelta(hours=settings.review_overdue_hours),
            dispute_deadline_warning=timedelta(hours=settings.dispute_deadline_warning_hours),
        )
