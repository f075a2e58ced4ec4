from decimal import Decimal

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class ClaimsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CLAIMS_", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///data/claims.db"
    port: int = 8004
    currency: str = "CNY"
    # A claim submitted more than this many days after the repair is late (SUB).
    submission_days: int = Field(30, ge=0)
    # The same unit and fault claimed again within this many days is a duplicate (DUP).
    duplicate_window_days: int = Field(30, ge=0)
    # Claims the rules would approve above this amount go to an adjuster.
    review_threshold_amount: Decimal = Field(Decimal("5000"), ge=0)
    # Labour and travel rates where the rate table has no row for the product line.
    default_hourly_rate: Decimal = Field(Decimal("120.00"), ge=0)
    default_per_km_rate: Decimal = Field(Decimal("1.50"), ge=0)
    # Supplier recovery: calendar days to dispute, and the assessment per failed unit of a
    # supplier that has none of its own (the regulations allow 500–2000).
    supplier_dispute_days: int = Field(5, ge=0)
    default_supplier_assessment: Decimal = Field(Decimal("500"), ge=500, le=2000)
    # Calendar days after a decision in which the claimant may dispute it (once).
    claim_dispute_days: int = Field(30, ge=0)
    # Days parts gives a technician to return an old part (mirror parts' CORE_RETURN_DAYS):
    # a claim waiting for it shows when it is due, counted from the repair.
    core_return_days: int = Field(15, ge=1)
    # The same model and fault code more than this many times in a quarter is an alert.
    quality_alert_threshold: int = Field(10, ge=1)
    # Close the previous month's dealer and supplier settlements by itself once it is over
    # (a manager may also close a month through the API).
    close_months_automatically: bool = True
    # A claim in the manual review queue longer than this is overdue (metric
    # aftersales_claims_awaiting_review_overdue, alert AftersalesClaimsAwaitingReview).
    review_overdue_hours: float = Field(48, gt=0)
    # A disputed recovery not yet ruled on whose dispute deadline ends within this many hours
    # is near its deadline (metric aftersales_claims_supplier_disputes_near_deadline).
    dispute_deadline_warning_hours: float = Field(24, gt=0)
    # How often new claims are adjudicated and recoveries past their window finalised.
    adjudicate_every_seconds: float = Field(2.0, gt=0)
