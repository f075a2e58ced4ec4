from datetime import timedelta
from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

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
    secrets_key_file: Path = Path("data/intake/dealer-secrets.key")
    # How often SLA breaches are looked for and the open-requests gauge is counted.
    sla_check_seconds: float = Field(30.0, gt=0)

    @property
    def idempotency_window(self) -> timedelta:
        return timedelta(hours=self.idempotency_hours)
