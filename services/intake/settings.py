from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

from services.intake.domain.calendar import WorkingCalendar
from services.intake.domain.sla import SlaTargets
from shared.settings import ServiceSettings


class IntakeSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="INTAKE_", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///data/intake.db"
    port: int = 8001
    default_warranty_months: int = Field(12, ge=0)
    # Channels whose requests the triage rules may decide without an agent.
    auto_triage_channels: str = "dealer,web"
    # Dealer API (the published contract's numbers).
    dealer_clock_skew_seconds: int = Field(300, ge=1)
    dealer_rate_per_second: float = Field(20.0, gt=0)
    dealer_burst: int = Field(100, ge=1)
    idempotency_hours: float = Field(24.0, gt=0)
    # How long an instance trusts the dealer and secrets it read (0: read on every request).
    # A suspension or revocation made through another instance takes effect within this.
    dealer_cache_seconds: float = Field(5.0, ge=0)
    # Dealer reports arriving together are registered together, in one transaction: at most
    # this many in one, and at most this many such transactions at once (1 and 1: one by one).
    dealer_report_group_size: int = Field(64, ge=1, le=1000)
    dealer_report_groups_at_once: int = Field(2, ge=1, le=16)
    secrets_key_file: Path = Path("data/intake/dealer-secrets.key")
    # How often SLA breaches are looked for and the open-requests gauge is counted.
    sla_check_seconds: float = Field(30.0, gt=0)
    # The working calendar for targets counted in working time (see WorkingCalendar.parse).
    calendar_zone: str = "Asia/Shanghai"
    calendar_hours: str = "mon-fri 09:00-18:00"
    calendar_holidays: str = ""
    calendar_workdays: str = ""
    # Overrides of the SLA targets, e.g. "response_urgent=45m; complaint_first_verification=5wd".
    sla_targets: str = ""
    # How long after closing a request may still be reopened (DOMAIN §1: 30 days).
    reopen_window_days: float = Field(30.0, gt=0)

    @model_validator(mode="after")
    def _calendar_and_targets_read(self) -> IntakeSettings:
        # A mistake here is found when the service starts, not at the first request.
        self.sla_policy()
        return self

    def sla_policy(self) -> tuple[WorkingCalendar, SlaTargets]:
        calendar = WorkingCalendar.parse(
            zone=self.calendar_zone,
            hours=self.calendar_hours,
            holidays=self.calendar_holidays,
            workdays=self.calendar_workdays,
        )
        return calendar, SlaTargets.parse(self.sla_targets, calendar)

    @property
    def reopen_window(self) -> timedelta:
        return timedelta(days=self.reopen_window_days)

    @property
    def idempotency_window(self) -> timedelta:
        return timedelta(hours=self.idempotency_hours)
