from datetime import timedelta
from decimal import Decimal

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class PartsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="PARTS_", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///data/parts.db"
    port: int = 8003
    # A reservation not yet in use (job not on site) goes back to stock after this.
    reservation_hold_hours: float = Field(72.0, gt=0)
    # An old part replaced under warranty must be back in the old-parts store within this.
    core_return_days: int = Field(15, ge=1)
    # A supplier told to collect its old parts has this long before they are disposed of.
    supplier_collection_days: int = Field(5, ge=1)
    # What disposing of one uncollected old part costs the supplier (CNY).
    disposal_cost_per_unit: Decimal = Field(Decimal("50.00"), ge=0)
    # The default period of the reconciliation report with a service centre.
    reconciliation_months: int = Field(6, ge=1)
    # How often expiries, overdue returns, uncollected old parts and the gauges are checked.
    monitor_seconds: float = Field(30.0, gt=0)

    @property
    def reservation_hold(self) -> timedelta:
        return timedelta(hours=self.reservation_hold_hours)
